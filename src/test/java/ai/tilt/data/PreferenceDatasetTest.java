package ai.tilt.data;

import static ai.tilt.data.SftSupport.BOS;
import static ai.tilt.data.SftSupport.EOS;
import static ai.tilt.data.SftSupport.jsonl;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Preference groups with Tilt's byte-level BPE, whose ids can be written by hand: bytes are their
 * own ids ("Q" 81, "Z" 90, "H" 72, "i" 105, "Y" 89, "o" 111, "\n" 10; none of the strings used here
 * is merged), BOS 509, EOS 510. The chat template writes {@code <|bos|>}, then {@code <|role|>\n} +
 * content + {@code <|eos|>\n} per message, and {@code <|assistant|>\n} as the generation prompt.
 */
class PreferenceDatasetTest {
  @TempDir static Path tmp;
  static TextTokenizer tok;

  @BeforeAll
  static void load() {
    tok = SftSupport.bpe(tmp.resolve("bpe"));
    // The premises of the hand-written ids below.
    assertArrayEquals(new long[] {81, 90, 88, 74, 86, 75}, tok.encode("QZXJVK", false));
    assertArrayEquals(new long[] {72, 105}, tok.encode("Hi", false));
    assertArrayEquals(new long[] {89, 111}, tok.encode("Yo", false));
    assertTrue(tok.addsBos());
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  static PreferenceDataset load(DataOptions options, String... lines) throws IOException {
    return PreferenceDataset.load(jsonl(tmp, "p.jsonl", lines), tok, options);
  }

  static ResponseGroup one(DataOptions options, String line) throws IOException {
    List<ResponseGroup> g = load(options, line).groups();
    assertEquals(1, g.size());
    return g.get(0);
  }

  @Test
  void textPairTokenisesThePromptOnceAndGivesEachResponseOneEos() throws IOException {
    PreferenceDataset d =
        load(DataOptions.of(64), "{\"prompt\": \"QZ\", \"chosen\": \"Hi\", \"rejected\": \"Yo\"}");
    assertEquals(PreferenceDataset.Kind.PAIRS, d.kind());
    ResponseGroup g = d.groups().get(0);
    assertArrayEquals(new long[] {BOS, 81, 90}, g.prompt());
    assertArrayEquals(new long[] {72, 105, EOS}, g.responses().get(0)); // no BOS before it
    assertArrayEquals(new long[] {89, 111, EOS}, g.responses().get(1));
    assertArrayEquals(new double[] {1, 0}, g.rewards());
    assertEquals(2, g.size());
    assertEquals(3, g.promptLength());
    assertArrayEquals(new long[] {BOS, 81, 90, 72, 105, EOS}, g.sequence(0));
    assertArrayEquals(new long[] {BOS, 81, 90, 89, 111, EOS}, g.sequence(1));
    assertEquals(1, g.line());
    assertFalse(g.truncated());
    assertEquals(
        "1 lines: 1 used, 0 skipped, 0 truncated prompts, 0 truncated responses;"
            + " 9 tokens (3 prompt, 6 response)",
        d.stats().summary());
  }

  @Test
  void bosWrittenInThePromptIsNotDoubled() throws IOException {
    ResponseGroup g =
        one(
            DataOptions.of(64),
            "{\"prompt\": \"<|bos|>QZ\", \"chosen\": \"Hi\", \"rejected\": \"Yo\"}");
    assertArrayEquals(new long[] {BOS, 81, 90}, g.prompt());
  }

  @Test
  void eosEndingAResponseIsNotDoubledAndAppendEosOffAddsNone() throws IOException {
    ResponseGroup g =
        one(
            DataOptions.of(64),
            "{\"prompt\": \"QZ\", \"chosen\": \"Hi<|eos|>\", \"rejected\": \"Yo\"}");
    assertArrayEquals(new long[] {72, 105, EOS}, g.responses().get(0));
    assertArrayEquals(new long[] {89, 111, EOS}, g.responses().get(1));
    ResponseGroup raw =
        one(
            new DataOptions(64, null, false, false),
            "{\"prompt\": \"QZ\", \"chosen\": \"Hi\", \"rejected\": \"Yo<|eos|>\"}");
    assertArrayEquals(new long[] {72, 105}, raw.responses().get(0));
    assertArrayEquals(new long[] {89, 111, EOS}, raw.responses().get(1));
  }

  @Test
  void anEmptyTextResponseIsTheEosAloneUnlessAppendEosIsOff() throws IOException {
    ResponseGroup g =
        one(DataOptions.of(64), "{\"prompt\": \"QZ\", \"chosen\": \"\", \"rejected\": \"Yo\"}");
    assertArrayEquals(new long[] {EOS}, g.responses().get(0));
    assertArrayEquals(new long[] {89, 111, EOS}, g.responses().get(1));
    DataException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            DataException.class,
            () ->
                load(
                    new DataOptions(64, null, false, false),
                    "{\"prompt\": \"QZ\", \"chosen\": \"\", \"rejected\": \"Yo\"}"));
    assertTrue(
        e.getMessage()
            .endsWith("p.jsonl:1: empty chosen (and data.append_eos is off, so it has no tokens)"),
        e.getMessage());
  }

  @Test
  void padEqualToEosStillGivesOneEos(@TempDir Path dir) throws IOException {
    try (TextTokenizer t = SftSupport.bpe(dir, c -> c.put("pad_token", "<|eos|>"), null)) {
      assertEquals(EOS, (long) t.padId());
      List<ResponseGroup> g =
          PreferenceDataset.load(
                  jsonl(
                      dir,
                      "d.jsonl",
                      "{\"prompt\": \"QZ\", \"chosen\": \"Hi\", \"rejected\": \"Yo<|eos|>\"}"),
                  t,
                  DataOptions.of(64))
              .groups();
      assertArrayEquals(new long[] {72, 105, EOS}, g.get(0).responses().get(0));
      assertArrayEquals(new long[] {89, 111, EOS}, g.get(0).responses().get(1));
    }
  }

  @Test
  void anyStopIdEndsAResponseButTheFirstEosIsTheOneAppended(@TempDir Path dir) throws IOException {
    try (TextTokenizer t = SftSupport.bpe(dir, c -> {}, "{\"eos_token_id\": [510, 33]}")) {
      ResponseGroup g =
          PreferenceDataset.load(
                  jsonl(
                      dir,
                      "d.jsonl",
                      "{\"prompt\": \"Q\", \"chosen\": \"Hi!\", \"rejected\": \"Hi\"}"),
                  t,
                  DataOptions.of(64))
              .groups()
              .get(0);
      assertArrayEquals(new long[] {72, 105, 33}, g.responses().get(0));
      assertArrayEquals(new long[] {72, 105, EOS}, g.responses().get(1));
    }
  }

  @Test
  void scoresBecomeTheRewards() throws IOException {
    ResponseGroup g =
        one(
            DataOptions.of(64),
            "{\"prompt\": \"QZ\", \"chosen\": \"Hi\","
                + " \"rejected\": \"Yo\", \"score_chosen\": 8.5, \"score_rejected\": -2}");
    assertArrayEquals(new double[] {8.5, -2}, g.rewards());
  }

  @Test
  void conversationalPairMarksTheAssistantTurnWithoutRepeatingItsHeader() throws IOException {
    ResponseGroup g =
        one(
            DataOptions.of(64),
            "{\"prompt\": [{\"role\": \"user\", \"content\": \"QZ\"}],"
                + " \"chosen\": [{\"role\": \"assistant\", \"content\": \"Hi\"}], \"rejected\": \"Yo\"}");
    // The header is the prompt's last tokens, and the template's BOS its only BOS.
    assertEquals("<|bos|><|user|>\nQZ<|eos|>\n<|assistant|>\n", tok.decode(g.prompt(), false));
    assertEquals(BOS, g.prompt()[0]);
    assertEquals(1, count(g.prompt(), BOS));
    // Each response is the reply plus the template's end of turn: no header, no extra EOS.
    assertArrayEquals(new long[] {72, 105, EOS, 10}, g.responses().get(0));
    assertArrayEquals(new long[] {89, 111, EOS, 10}, g.responses().get(1));
  }

  @Test
  void implicitPromptIsTheSharedStartOfBothConversations() throws IOException {
    String user = "{\"role\": \"user\", \"content\": \"QZ\"}";
    ResponseGroup explicit =
        one(
            DataOptions.of(64),
            "{\"prompt\": ["
                + user
                + "],"
                + " \"chosen\": [{\"role\": \"assistant\", \"content\": \"Hi\"}],"
                + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"Yo\"}]}");
    ResponseGroup implicit =
        one(
            DataOptions.of(64),
            "{\"chosen\": ["
                + user
                + ", {\"role\": \"assistant\", \"content\": \"Hi\"}], \"rejected\": ["
                + user
                + ", {\"role\": \"assistant\", \"content\": \"Yo\"}]}");
    assertArrayEquals(explicit.prompt(), implicit.prompt());
    assertArrayEquals(explicit.responses().get(0), implicit.responses().get(0));
    assertArrayEquals(explicit.responses().get(1), implicit.responses().get(1));
  }

  @Test
  void unpairedLinesHaveOneResponseRewardedByTheirLabel() throws IOException {
    PreferenceDataset d =
        load(
            DataOptions.of(64),
            "{\"prompt\": \"QZ\", \"completion\": \"Hi\", \"label\": true}",
            "{\"prompt\": \"QZ\", \"completion\": \"Yo\", \"label\": false}");
    assertEquals(PreferenceDataset.Kind.UNPAIRED, d.kind());
    ResponseGroup good = d.groups().get(0);
    assertArrayEquals(new long[] {BOS, 81, 90}, good.prompt());
    assertEquals(1, good.size());
    assertArrayEquals(new long[] {72, 105, EOS}, good.responses().get(0));
    assertArrayEquals(new double[] {1}, good.rewards());
    assertArrayEquals(new double[] {0}, d.groups().get(1).rewards());
    assertEquals(2, d.groups().get(1).line());
  }

  @Test
  void scoredListsKeepTheirOrderAndRewards() throws IOException {
    PreferenceDataset d =
        load(
            DataOptions.of(64),
            "{\"prompt\": \"QZ\","
                + " \"responses\": [\"Hi\", \"Yo\", \"Hi\"], \"rewards\": [0.5, 2, -1]}",
            "{\"prompt\": [{\"role\": \"user\", \"content\": \"QZ\"}], \"responses\": [\"Yo\"],"
                + " \"rewards\": [3]}");
    assertEquals(PreferenceDataset.Kind.SCORED_LISTS, d.kind());
    ResponseGroup g = d.groups().get(0);
    assertEquals(3, g.size());
    assertArrayEquals(new long[] {72, 105, EOS}, g.responses().get(2)); // repeats are allowed
    assertArrayEquals(new double[] {0.5, 2, -1}, g.rewards());
    assertArrayEquals(new long[] {89, 111, EOS, 10}, d.groups().get(1).responses().get(0));
  }

  @Test
  void aGroupThatFitsIsNotCutEvenWithALongPrompt() throws IOException {
    // TRL's rule: the prompt is cut only when prompt + longest response exceed maxLength.
    ResponseGroup g =
        one(
            new DataOptions(10, 2, false, true),
            "{\"prompt\": \"QZXJVK\", \"chosen\": \"Hi\", \"rejected\": \"Yo\"}");
    assertArrayEquals(new long[] {BOS, 81, 90, 88, 74, 86, 75}, g.prompt());
    assertFalse(g.truncated());
  }

  @Test
  void tooLongCutsThePromptKeepingBosAndItsEndThenTheResponses() throws IOException {
    // Prompt 7 + longest 5 > 6: the prompt keeps BOS + its last 2 tokens (3), leaving 3 per
    // response; "QZXJ" + EOS loses its last 2 tokens, EOS included, "Hi" + EOS just fits.
    PreferenceDataset d =
        load(
            new DataOptions(6, 3, false, true),
            "{\"prompt\": \"QZXJVK\", \"chosen\": \"Hi\", \"rejected\": \"QZXJ\"}");
    ResponseGroup g = d.groups().get(0);
    assertArrayEquals(new long[] {BOS, 86, 75}, g.prompt());
    assertArrayEquals(new long[] {72, 105, EOS}, g.responses().get(0));
    assertArrayEquals(new long[] {81, 90, 88}, g.responses().get(1));
    assertTrue(g.truncated());
    assertEquals(1, d.stats().truncatedPrompts());
    assertEquals(1, d.stats().truncatedResponses());
  }

  @Test
  void withoutAPromptLimitOnlyTheResponsesAreCut() throws IOException {
    PreferenceDataset d =
        load(
            new DataOptions(5, null, false, true),
            "{\"prompt\": \"QZ\", \"chosen\": \"Hi\", \"rejected\": \"Yo\"}",
            "{\"prompt\": \"Q\", \"chosen\": \"Hi\", \"rejected\": \"Yo\"}");
    ResponseGroup g = d.groups().get(0);
    assertArrayEquals(new long[] {BOS, 81, 90}, g.prompt());
    assertArrayEquals(new long[] {72, 105}, g.responses().get(0)); // a cut response has no EOS
    assertArrayEquals(new long[] {89, 111}, g.responses().get(1));
    assertFalse(d.groups().get(1).truncated()); // BOS Q Hi EOS: 5 tokens fit
    assertEquals(0, d.stats().truncatedPrompts());
    assertEquals(2, d.stats().truncatedResponses());
  }

  @Test
  void aPromptLeavingNoRoomOrAPairMadeEqualByTheCutIsInvalid() throws IOException {
    Path f =
        jsonl(
            tmp,
            "room.jsonl",
            "{\"prompt\": \"QZXJVK\", \"chosen\": \"Hi\"," + " \"rejected\": \"Yo\"}");
    DataException e =
        assertThrows(DataException.class, () -> PreferenceDataset.load(f, tok, DataOptions.of(7)));
    assertEquals(
        f
            + ":1: prompt has 7 tokens, leaving no room for a response within maxLength 7"
            + " (set maxPromptLength to truncate prompts)",
        e.getMessage());
    Path same =
        jsonl(
            tmp,
            "same.jsonl",
            "{\"prompt\": \"Q\", \"chosen\": \"Hi1\"," + " \"rejected\": \"Hi2\"}");
    e =
        assertThrows(
            DataException.class, () -> PreferenceDataset.load(same, tok, DataOptions.of(4)));
    assertEquals(
        same
            + ":1: chosen and rejected are identical after truncation to their first"
            + " 2 tokens",
        e.getMessage());
  }

  @Test
  void optionsAreValidated() {
    assertThrows(IllegalArgumentException.class, () -> DataOptions.of(1));
    assertEquals(
        "data.max_prompt_length (8) must be less than data.max_length (8) so that a completion token"
            + " always fits",
        assertThrows(IllegalArgumentException.class, () -> new DataOptions(8, 8, false, true))
            .getMessage());
    assertThrows(IllegalArgumentException.class, () -> new DataOptions(8, 0, false, true));
  }

  static int count(long[] ids, long id) {
    int n = 0;
    for (long x : ids) {
      n += x == id ? 1 : 0;
    }
    return n;
  }
}
