package ai.tilt.data;

import static ai.tilt.data.SftSupport.jsonl;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Bad preference lines: each names {@code file:line} and the reason, or is skipped and counted. */
class PreferenceDatasetErrorsTest {
  @TempDir static Path tmp;
  static TextTokenizer tok;
  static final String GOOD = "{\"prompt\": \"Q\", \"chosen\": \"Hi\", \"rejected\": \"Yo\"}";

  @BeforeAll
  static void load() {
    tok = SftSupport.bpe(tmp.resolve("bpe"));
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  static Stream<Arguments> badLines() {
    String u = "{\"role\": \"user\", \"content\": \"Q\"}";
    return Stream.of(
        Arguments.of("{\"prompt\": \"Q\", \"chosen\": ", "invalid JSON: "),
        Arguments.of("[1, 2]", "expected a JSON object"),
        Arguments.of(
            "{\"prompt\": \"Q\"}",
            "not a preference line: expected \"chosen\" +" + " \"rejected\" (pairs)"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"chosen\": \"a\", \"rejected\": \"b\", \"label\": true}",
            "fields of several kinds"),
        Arguments.of("{\"prompt\": \"Q\", \"chosen\": \"Hi\"}", "missing field \"rejected\""),
        Arguments.of(
            "{\"chosen\": \"Hi\", \"rejected\": \"Yo\"}",
            "missing field \"prompt\""
                + " (only conversational chosen and rejected may leave it implicit)"),
        Arguments.of(
            "{\"prompt\": 3, \"chosen\": \"Hi\", \"rejected\": \"Yo\"}",
            "field \"prompt\" must be a string or a list of messages, got number"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"chosen\": 1, \"rejected\": \"Yo\"}",
            "field \"chosen\" must be a string when \"prompt\" is one, got number"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"chosen\": \"Hi\", \"rejected\": \"Hi<|eos|>\"}",
            "chosen and rejected are identical"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"chosen\": \"Hi\", \"rejected\": \"Yo\","
                + " \"score_chosen\": 1}",
            "\"score_chosen\" and \"score_rejected\" go together"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"chosen\": \"Hi\", \"rejected\": \"Yo\","
                + " \"score_chosen\": 1e999, \"score_rejected\": 0}",
            "field \"score_chosen\" is not a finite number"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"chosen\": \"Hi\", \"rejected\": \"Yo\","
                + " \"score_chosen\": \"1\", \"score_rejected\": 0}",
            "field \"score_chosen\" must be a number, got string"),
        Arguments.of(
            "{\"prompt\": ["
                + u
                + "], \"chosen\": [{\"role\": \"user\", \"content\":"
                + " \"Hi\"}], \"rejected\": \"Yo\"}",
            "chosen[0] must have role \"assistant\""),
        Arguments.of(
            "{\"chosen\": ["
                + u
                + ", {\"role\": \"assistant\", \"content\": \"Hi\"}],"
                + " \"rejected\": [{\"role\": \"user\", \"content\": \"X\"}, {\"role\": \"assistant\","
                + " \"content\": \"Yo\"}]}",
            "without \"prompt\", chosen and rejected must be"
                + " conversations that share every message but the last"),
        Arguments.of(
            "{\"chosen\": ["
                + u
                + ", "
                + u
                + "], \"rejected\": ["
                + u
                + ", {\"role\":"
                + " \"assistant\", \"content\": \"Yo\"}]}",
            "the last message of \"chosen\" must have role \"assistant\", got \"user\""),
        Arguments.of(
            "{\"prompt\": [" + u + "], \"chosen\": \"Hi\", \"rejected\": \"\"}", "empty rejected"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"completion\": \"Hi\", \"label\": 1}",
            "field \"label\" must be a boolean (true: desirable, false: undesirable), got number"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"responses\": [], \"rewards\": []}",
            "field \"responses\" must be a non-empty list, got an empty one"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"responses\": [\"a\", \"b\"], \"rewards\": [1]}",
            "1 rewards for 2 responses"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"responses\": [\"a\"], \"rewards\": [-1e999]}",
            "field \"rewards[0]\" is not a finite number"),
        Arguments.of(
            "{\"prompt\": \"Q\", \"responses\": [\"a\", \"b\"], \"rewards\": [1, \"x\"]}",
            "field \"rewards[1]\" must be a number, got string"));
  }

  @ParameterizedTest
  @MethodSource("badLines")
  void aBadLineNamesFileLineAndReason(String line, String reason) throws IOException {
    // Line 2, after a good pair (bad lines of another kind than pairs are tested alone).
    boolean pair =
        !line.contains("\"label\": 1")
            && !line.contains("\"completion\"")
            && !line.contains("\"responses\"");
    Path f = pair ? jsonl(tmp, "bad.jsonl", GOOD, line) : jsonl(tmp, "bad.jsonl", "", line);
    DataException e =
        assertThrows(DataException.class, () -> PreferenceDataset.load(f, tok, DataOptions.of(64)));
    assertTrue(e.getMessage().startsWith(f + ":2: " + reason), e.getMessage());
  }

  @Test
  void invalidUtf8NamesItsLine() throws IOException {
    Path f = tmp.resolve("utf8.jsonl");
    byte[] good = (GOOD + "\n").getBytes();
    byte[] bad = {'{', '"', (byte) 0xC3, '"', '}', '\n'};
    byte[] all = new byte[good.length + bad.length];
    System.arraycopy(good, 0, all, 0, good.length);
    System.arraycopy(bad, 0, all, good.length, bad.length);
    Files.write(f, all);
    DataException e =
        assertThrows(DataException.class, () -> PreferenceDataset.load(f, tok, DataOptions.of(64)));
    assertEquals(f + ":2: not valid UTF-8", e.getMessage());
  }

  @Test
  void mixedKindsFailNamingBothLinesEvenWhenSkipping() {
    Path f =
        jsonl(
            tmp,
            "mixed.jsonl",
            GOOD,
            "",
            GOOD,
            "{\"prompt\": \"Q\", \"responses\": [\"a\"], \"rewards\": [1]}");
    DataException e =
        assertThrows(
            DataException.class,
            () -> PreferenceDataset.load(f, tok, new DataOptions(64, null, true, true)));
    assertEquals(
        f + ":4: this row is a scored list but " + f + ":1 was a pair (one kind per data set)",
        e.getMessage());
  }

  @Test
  void skipInvalidCountsBadLinesAndKeepsTheFirstReasons() throws IOException {
    Path f =
        jsonl(
            tmp,
            "skip.jsonl",
            GOOD,
            "{\"prompt\": \"Q\", \"chosen\": \"Hi\"}",
            "",
            "{\"prompt\": \"Q\", \"chosen\": \"Hi\", \"rejected\": \"Hi\"}",
            GOOD);
    PreferenceDataset d = PreferenceDataset.load(f, tok, new DataOptions(64, null, true, true));
    assertEquals(2, d.groups().size());
    assertEquals(5, d.groups().get(1).line());
    PreferenceDataset.Stats s = d.stats();
    assertEquals(4, s.lines()); // the blank line is not one
    assertEquals(2, s.used());
    assertEquals(2, s.skipped());
    assertEquals(
        List.of(f + ":2: missing field \"rejected\"", f + ":4: chosen and rejected are identical"),
        s.skipReasons());
    assertTrue(
        s.summary()
            .startsWith(
                "4 lines: 2 used, 2 skipped, 0 truncated prompts," + " 0 truncated responses; "),
        s.summary());
    assertTrue(
        s.summary().endsWith("; first skipped: " + f + ":2: missing field \"rejected\""),
        s.summary());
  }

  @Test
  void noUsableGroupIsAnErrorNamingTheFile() {
    Path f = jsonl(tmp, "none.jsonl", "{\"prompt\": \"Q\", \"chosen\": \"Hi\"}");
    DataException e =
        assertThrows(
            DataException.class,
            () -> PreferenceDataset.load(f, tok, new DataOptions(64, null, true, true)));
    assertTrue(
        e.getMessage()
            .startsWith(f + ": no usable preference groups (1 lines: 0 used," + " 1 skipped"),
        e.getMessage());
    Path empty = jsonl(tmp, "empty.jsonl", "");
    assertThrows(DataException.class, () -> PreferenceDataset.load(empty, tok, DataOptions.of(64)));
    DataException missing =
        assertThrows(
            DataException.class,
            () -> PreferenceDataset.load(tmp.resolve("nope.jsonl"), tok, DataOptions.of(64)));
    assertEquals("no such file: " + tmp.resolve("nope.jsonl"), missing.getMessage());
  }

  @Test
  void aTemplateThatIsNotPrefixStableIsNamed(@TempDir Path dir) throws IOException {
    // The generation prompt says "A:" but a rendered assistant turn says "B:", so the prompt's
    // rendering is not a prefix of prompt + reply.
    String template =
        "{% for m in messages %}{% if m['role'] == 'user' %}U:{{ m['content'] }}"
            + "{% else %}B:{{ m['content'] }}{% endif %}{% endfor %}"
            + "{% if add_generation_prompt %}A:{% endif %}";
    try (TextTokenizer t = SftSupport.bpe(dir, c -> c.put("chat_template", template), null)) {
      Path f =
          jsonl(
              dir,
              "d.jsonl",
              "{\"prompt\": [{\"role\": \"user\", \"content\": \"Q\"}],"
                  + " \"chosen\": \"Hi\", \"rejected\": \"Yo\"}");
      DataException e =
          assertThrows(DataException.class, () -> PreferenceDataset.load(f, t, DataOptions.of(64)));
      assertTrue(
          e.getMessage()
              .startsWith(
                  f
                      + ":1: chat template is not prefix-stable for"
                      + " chosen: the prompt rendered with a generation prompt"),
          e.getMessage());
    }
  }
}
