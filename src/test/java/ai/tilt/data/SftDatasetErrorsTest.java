package ai.tilt.data;

import static ai.tilt.data.SftSupport.jsonl;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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

/** Every kind of bad line names its file and line; skipInvalid counts them instead. */
class SftDatasetErrorsTest {
  static final String GOOD = "{\"prompt\": \"Q\", \"completion\": \"Hi\"}";
  static final String USER = "{\"role\": \"user\", \"content\": \"Hi\"}";
  @TempDir static Path tmp;
  static TextTokenizer tok;

  @BeforeAll
  static void load() {
    tok = SftSupport.bpe(tmp.resolve("bpe"));
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  static Stream<Arguments> badLines() {
    return Stream.of(
        Arguments.of("{\"prompt\": \"Q\",", "invalid JSON: "),
        Arguments.of("[1, 2]", "expected a JSON object"),
        Arguments.of(
            "{\"id\": 3}",
            "a line needs exactly one of \"text\", \"prompt\" + \"completion\","
                + " \"messages\" or \"prompt_ids\" + \"completion_ids\""),
        Arguments.of("{\"prompt_ids\": [1], \"completion_ids\": []}", "empty \"completion_ids\""),
        Arguments.of(
            "{\"prompt_ids\": [1], \"completion_ids\": [2, -1]}",
            "completion_ids[1] is not a token id: -1"),
        Arguments.of(
            "{\"prompt_ids\": [1], \"completion_ids\": \"2\"}",
            "field \"completion_ids\" must be a list of token ids, got string"),
        Arguments.of("{\"prompt_ids\": [1]}", "missing field \"completion_ids\""),
        Arguments.of(
            "{\"text\": \"a\", \"prompt\": \"b\", \"completion\": \"c\"}", "(found several)"),
        Arguments.of("{\"prompt\": \"Q\"}", "missing field \"completion\""),
        Arguments.of("{\"completion\": \"Q\"}", "missing field \"prompt\""),
        Arguments.of(
            "{\"prompt\": \"Q\", \"completion\": 5}",
            "field \"completion\" must be a string when \"prompt\" is one, got number"),
        Arguments.of(
            "{\"prompt\": 5, \"completion\": \"Hi\"}",
            "field \"prompt\" must be a string or a list of messages, got number"),
        Arguments.of("{\"text\": 3}", "field \"text\" must be a string, got number"),
        Arguments.of("{\"text\": \"\"}", "empty \"text\""),
        Arguments.of("{\"prompt\": \"Q\", \"completion\": \"\"}", "empty completion"),
        Arguments.of("{\"prompt\": [" + USER + "], \"completion\": \"\"}", "empty completion"),
        Arguments.of(
            "{\"prompt\": [" + USER + "], \"completion\": [" + USER + "]}",
            "the completion message must have role \"assistant\", got \"user\""),
        Arguments.of(
            "{\"prompt\": [" + USER + "], \"completion\": [1]}",
            "field \"completion\" must be a string or a list with one assistant message"),
        Arguments.of(
            "{\"prompt\": [], \"completion\": \"Hi\"}",
            "field \"prompt\" must be a non-empty list of messages"),
        Arguments.of(
            "{\"messages\": \"Hi\"}", "field \"messages\" must be a non-empty list of messages"),
        Arguments.of("{\"messages\": [" + USER + "]}", "no assistant turn in \"messages\""),
        Arguments.of(
            "{\"messages\": [{\"role\": \"user\"}]}",
            "messages[0].content must be a string, got nothing"),
        Arguments.of(
            "{\"messages\": [{\"role\": 1, \"content\": \"Hi\"}]}",
            "messages[0].role must be a string, got number"),
        Arguments.of("{\"messages\": [\"Hi\"]}", "messages[0] must be an object, got string"),
        // Tilt's template raises on roles other than system/user/assistant.
        Arguments.of(
            "{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"},"
                + " {\"role\": \"assistant\", \"content\": \"Hi\"}]}",
            "chat template: "),
        // BOS Q Z X J is 5 tokens: no completion token fits in 5.
        Arguments.of("{\"prompt\": \"QZXJ\", \"completion\": \"Hi\"}", "prompt has 5 tokens"));
  }

  @ParameterizedTest
  @MethodSource("badLines")
  void badLineNamesFileAndLine(String bad, String reason) throws IOException {
    // Line 2 is blank: line numbers count physical lines.
    Path f = jsonl(tmp, "bad.jsonl", GOOD, "", bad, GOOD);
    DataException e =
        assertThrows(
            DataException.class,
            () -> SftDataset.load(f, tok, new DataOptions(5, null, false, true)));
    assertTrue(e.getMessage().startsWith(f + ":3: "), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }

  @Test
  void invalidUtf8NamesItsLine() throws IOException {
    Path f = tmp.resolve("latin1.jsonl");
    Files.write(
        f,
        (GOOD + "\n{\"prompt\": \"caf\u00e9\", \"completion\": \"Hi\"}\n")
            .getBytes(StandardCharsets.ISO_8859_1));
    DataException e =
        assertThrows(DataException.class, () -> SftDataset.load(f, tok, DataOptions.of(64)));
    assertEquals(f + ":2: not valid UTF-8", e.getMessage());
  }

  @Test
  void chatLineWithoutATemplateIsABadLine(@TempDir Path dir) throws IOException {
    try (TextTokenizer plain = SftSupport.bpe(dir, c -> c.remove("chat_template"), null)) {
      Path f =
          jsonl(
              dir,
              "chat.jsonl",
              "{\"messages\": ["
                  + USER
                  + ", {\"role\": \"assistant\","
                  + " \"content\": \"Yo\"}]}");
      DataException e =
          assertThrows(DataException.class, () -> SftDataset.load(f, plain, DataOptions.of(64)));
      assertTrue(
          e.getMessage().startsWith(f + ":1: chat line, but the tokenizer in "), e.getMessage());
    }
  }

  @Test
  void skipInvalidCountsBadLinesAndKeepsTheirReasons() throws IOException {
    Path f = jsonl(tmp, "mixed.jsonl", GOOD, "nope", "{\"text\": 1}", GOOD, "", GOOD);
    SftDataset d = SftDataset.load(f, tok, new DataOptions(64, null, true, true));
    SftDataset.Stats s = d.stats();
    assertEquals(5, s.lines());
    assertEquals(3, s.used());
    assertEquals(2, s.skipped());
    assertEquals(List.of(1, 4, 6), d.examples().stream().map(SftExample::line).toList());
    assertEquals(2, s.skipReasons().size());
    assertTrue(s.skipReasons().get(0).startsWith(f + ":2: invalid JSON"));
    assertEquals(f + ":3: field \"text\" must be a string, got number", s.skipReasons().get(1));
    assertTrue(s.summary().endsWith("; first skipped: " + s.skipReasons().get(0)), s.summary());
  }

  @Test
  void onlyTheFirstFiveReasonsAreKept() throws IOException {
    String[] lines = new String[8];
    java.util.Arrays.fill(lines, "{}");
    lines[7] = GOOD;
    Path f = jsonl(tmp, "many.jsonl", lines);
    SftDataset.Stats s = SftDataset.load(f, tok, new DataOptions(64, null, true, true)).stats();
    assertEquals(7, s.skipped());
    assertEquals(5, s.skipReasons().size());
    assertTrue(s.skipReasons().get(4).startsWith(f + ":5: "));
  }

  @Test
  void noUsableExampleIsAnErrorNamingTheFile() throws IOException {
    Path f = jsonl(tmp, "allbad.jsonl", "{}", "[]");
    DataException e =
        assertThrows(
            DataException.class,
            () -> SftDataset.load(f, tok, new DataOptions(64, null, true, true)));
    assertTrue(
        e.getMessage().startsWith(f + ": no usable examples (2 lines: 0 used, 2 skipped"),
        e.getMessage());
    Path empty = Files.writeString(tmp.resolve("empty.jsonl"), "\n\n");
    DataException e2 =
        assertThrows(DataException.class, () -> SftDataset.load(empty, tok, DataOptions.of(64)));
    assertTrue(e2.getMessage().startsWith(empty + ": no usable examples (0 lines"));
  }

  @Test
  void missingFileIsNamed() {
    Path f = tmp.resolve("absent.jsonl");
    DataException e =
        assertThrows(DataException.class, () -> SftDataset.load(f, tok, DataOptions.of(64)));
    assertEquals("no such file: " + f, e.getMessage());
  }
}
