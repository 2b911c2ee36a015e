package ai.tilt.data;

import static ai.tilt.data.SftSupport.BOS;
import static ai.tilt.data.SftSupport.EOS;
import static ai.tilt.data.SftSupport.contextText;
import static ai.tilt.data.SftSupport.jsonl;
import static ai.tilt.data.SftSupport.pattern;
import static ai.tilt.data.SftSupport.targetText;
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
 * SFT examples with Tilt's byte-level BPE, whose ids can be written by hand: bytes are their own
 * ids ("H" 72, "i" 105, "Q" 81, ...; none of the strings used here is merged), BOS 509, EOS 510.
 */
class SftDatasetTest {
  @TempDir static Path tmp;
  static TextTokenizer tok;

  @BeforeAll
  static void load() {
    tok = SftSupport.bpe(tmp.resolve("bpe"));
    // The premises of the hand-written ids below.
    assertArrayEquals(new long[] {72, 105}, tok.encode("Hi", false));
    assertArrayEquals(new long[] {81, 90, 88, 74, 86, 75}, tok.encode("QZXJVK", false));
    assertTrue(tok.addsBos());
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  static SftExample one(DataOptions options, String line) throws IOException {
    Path f = jsonl(tmp, "one.jsonl", line);
    List<SftExample> ex = SftDataset.load(f, tok, options).examples();
    assertEquals(1, ex.size());
    return ex.get(0);
  }

  @Test
  void promptCompletionTargetsTheCompletionAndOneEos() throws IOException {
    SftExample e = one(DataOptions.of(64), "{\"prompt\": \"QZ\", \"completion\": \"Hi\"}");
    // BOS + "QZ" is the prompt; "Hi" + EOS are the targets.
    assertArrayEquals(new long[] {BOS, 81, 90, 72, 105, EOS}, e.ids());
    assertEquals("FFFTTT", pattern(e));
    assertEquals(1, e.line());
    assertFalse(e.truncated());
  }

  @Test
  void tokenIdLinesAreTakenAsTheyAreWithOrWithoutATokenizer() throws IOException {
    String line = "{\"prompt_ids\": [7, 3], \"completion_ids\": [70, 71, 72]}";
    SftExample e = one(DataOptions.of(64), line);
    assertArrayEquals(new long[] {7, 3, 70, 71, 72}, e.ids()); // no BOS, no EOS added
    assertEquals("FFTTT", pattern(e));
    List<SftExample> bare =
        SftDataset.load(jsonl(tmp, "ids.jsonl", line), null, DataOptions.of(64)).examples();
    assertArrayEquals(e.ids(), bare.get(0).ids());
    DataException text =
        org.junit.jupiter.api.Assertions.assertThrows(
            DataException.class,
            () ->
                SftDataset.load(
                    jsonl(tmp, "text.jsonl", "{\"prompt\": \"QZ\", \"completion\": \"Hi\"}"),
                    null,
                    DataOptions.of(64)));
    assertTrue(text.getMessage().contains("the model has no tokenizer files"), text.getMessage());
  }

  @Test
  void bosInThePromptTextIsNotDoubledAndTheCompletionGetsNone() throws IOException {
    SftExample e = one(DataOptions.of(64), "{\"prompt\": \"<|bos|>QZ\", \"completion\": \"Hi\"}");
    assertArrayEquals(new long[] {BOS, 81, 90, 72, 105, EOS}, e.ids());
    assertEquals("FFFTTT", pattern(e));
  }

  @Test
  void eosAlreadyEndingTheCompletionIsNotDoubled() throws IOException {
    SftExample e = one(DataOptions.of(64), "{\"prompt\": \"QZ\", \"completion\": \"Hi<|eos|>\"}");
    assertArrayEquals(new long[] {BOS, 81, 90, 72, 105, EOS}, e.ids());
    assertEquals("FFFTTT", pattern(e));
  }

  @Test
  void appendEosOffLeavesTheCompletionAsWritten() throws IOException {
    SftExample e =
        one(
            new DataOptions(64, null, false, false),
            "{\"prompt\": \"QZ\", \"completion\": \"Hi\"}");
    assertArrayEquals(new long[] {BOS, 81, 90, 72, 105}, e.ids());
    assertEquals("FFFTT", pattern(e));
  }

  @Test
  void anyStopIdEndsACompletionButTheFirstEosIsTheOneAppended(@TempDir Path dir)
      throws IOException {
    // generation_config stops on "!" (33) as well: a completion ending with it gets no EOS.
    try (TextTokenizer t = SftSupport.bpe(dir, c -> {}, "{\"eos_token_id\": [510, 33]}")) {
      assertArrayEquals(new long[] {EOS, 33}, t.eosIds());
      Path f =
          jsonl(
              dir,
              "d.jsonl",
              "{\"prompt\": \"Q\", \"completion\": \"Hi!\"}",
              "{\"prompt\": \"Q\", \"completion\": \"Hi\"}");
      List<SftExample> ex = SftDataset.load(f, t, DataOptions.of(64)).examples();
      assertArrayEquals(new long[] {BOS, 81, 72, 105, 33}, ex.get(0).ids());
      assertArrayEquals(new long[] {BOS, 81, 72, 105, EOS}, ex.get(1).ids());
    }
  }

  @Test
  void padEqualToEosKeepsTheEosAsATarget(@TempDir Path dir) throws IOException {
    try (TextTokenizer t = SftSupport.bpe(dir, c -> c.put("pad_token", "<|eos|>"), null)) {
      assertEquals(EOS, (long) t.padId());
      Path f =
          jsonl(
              dir,
              "d.jsonl",
              "{\"prompt\": \"Q\", \"completion\": \"Hi\"}",
              "{\"prompt\": \"QZXJ\", \"completion\": \"Hi\"}");
      List<SftExample> ex = SftDataset.load(f, t, DataOptions.of(64)).examples();
      assertArrayEquals(new long[] {BOS, 81, 72, 105, EOS}, ex.get(0).ids());
      assertEquals("FFTTT", pattern(ex.get(0)));
      // Padded with pad == EOS: row 0's EOS (column 4) is still a target, its padding is not.
      Batches.PaddedBatch b = Batches.pad(ex, t.padId(), false);
      assertEquals(8, b.width());
      assertArrayEquals(new long[] {BOS, 81, 72, 105, EOS, EOS, EOS, EOS}, slice(b.ids(), 0, 8));
      assertArrayEquals(new long[] {1, 1, 1, 1, 1, 0, 0, 0}, slice(b.mask(), 0, 8));
      assertArrayEquals(
          new float[] {0, 0, 1, 1, 1, 0, 0, 0}, java.util.Arrays.copyOfRange(b.targets(), 0, 8));
      assertEquals(1f, b.targets()[15]); // row 1's EOS, the last column
    }
  }

  static long[] slice(long[] a, int from, int to) {
    return java.util.Arrays.copyOfRange(a, from, to);
  }

  @Test
  void textIsLanguageModellingOnEveryTokenAfterTheFirst() throws IOException {
    SftExample e = one(DataOptions.of(64), "{\"text\": \"Hi\"}");
    assertArrayEquals(new long[] {BOS, 72, 105, EOS}, e.ids());
    assertEquals("FTTT", pattern(e));
  }

  @Test
  void chatPromptCompletionTargetsTheAssistantTextAndEndOfTurn() throws IOException {
    SftExample e =
        one(
            DataOptions.of(128),
            "{\"prompt\": [{\"role\": \"system\", \"content\": \"S\"},"
                + " {\"role\": \"user\", \"content\": \"Hi\"}],"
                + " \"completion\": [{\"role\": \"assistant\", \"content\": \"Yo\"}]}");
    // The template: <|bos|>, then per message <|role|>\n + content + <|eos|>\n; the generation
    // prompt is <|assistant|>\n. The template writes the BOS itself; no second one is added.
    assertEquals(
        "<|bos|><|system|>\nS<|eos|>\n<|user|>\nHi<|eos|>\n<|assistant|>\n", contextText(tok, e));
    assertEquals("Yo<|eos|>\n", targetText(tok, e));
    assertEquals(1, count(e.ids(), BOS));
    assertEquals(3, count(e.ids(), EOS)); // system's, user's and the assistant's: no extra EOS
  }

  @Test
  void chatCompletionMayBeAString() throws IOException {
    SftExample e =
        one(
            DataOptions.of(128),
            "{\"prompt\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"completion\": \"Yo\"}");
    assertEquals("Yo<|eos|>\n", targetText(tok, e));
  }

  @Test
  void messagesTargetOnlyTheAssistantTurns() throws IOException {
    SftExample e =
        one(
            DataOptions.of(256),
            "{\"messages\": ["
                + "{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
                + " {\"role\": \"assistant\", \"content\": \"Yo\"}, {\"role\": \"user\", \"content\": \"Q\"},"
                + " {\"role\": \"assistant\", \"content\": \"Ok\"}, {\"role\": \"user\", \"content\": \"bye\"}]}");
    assertEquals("Yo<|eos|>\n|Ok<|eos|>\n", targetText(tok, e));
    // The trailing user turn has nothing to train on and is left out.
    assertEquals(
        "<|bos|><|system|>\nS<|eos|>\n<|user|>\nHi<|eos|>\n<|assistant|>\n"
            + "|<|user|>\nQ<|eos|>\n<|assistant|>\n",
        contextText(tok, e));
  }

  @Test
  void longPromptKeepsBosAndItsLastTokens() throws IOException {
    SftExample e =
        one(
            new DataOptions(64, 4, false, true),
            "{\"prompt\": \"QZXJVK\", \"completion\": \"Hi\"}");
    // Prompt BOS Q Z X J V K (7) -> BOS + the last 3 = 4 tokens.
    assertArrayEquals(new long[] {BOS, 74, 86, 75, 72, 105, EOS}, e.ids());
    assertEquals("FFFFTTT", pattern(e));
    assertTrue(e.truncated());
  }

  @Test
  void longCompletionLosesItsEndAndItsEos() throws IOException {
    SftExample e =
        one(new DataOptions(6, null, false, true), "{\"prompt\": \"QZX\", \"completion\": \"Hi\"}");
    // BOS Q Z X H i EOS is 7 tokens: the EOS goes, since the cut completion did not end.
    assertArrayEquals(new long[] {BOS, 81, 90, 88, 72, 105}, e.ids());
    assertEquals("FFFFTT", pattern(e));
    assertTrue(e.truncated());
    SftExample fits =
        one(new DataOptions(7, null, false, true), "{\"prompt\": \"QZX\", \"completion\": \"Hi\"}");
    assertEquals(7, fits.length());
    assertFalse(fits.truncated());
  }

  @Test
  void promptCutFirstThenCompletion() throws IOException {
    SftExample e =
        one(new DataOptions(5, 3, false, true), "{\"prompt\": \"QZXJVK\", \"completion\": \"Hi\"}");
    // Prompt -> BOS V K; then BOS V K H i EOS (6) -> the first 5.
    assertArrayEquals(new long[] {BOS, 86, 75, 72, 105}, e.ids());
    assertEquals("FFFTT", pattern(e));
  }

  @Test
  void textKeepsItsFirstTokens() throws IOException {
    SftExample e = one(new DataOptions(3, null, false, true), "{\"text\": \"QZXJ\"}");
    assertArrayEquals(new long[] {BOS, 81, 90}, e.ids());
    assertEquals("FTT", pattern(e));
    assertTrue(e.truncated());
  }

  @Test
  void promptFillingMaxLengthLeavesNoTarget() throws IOException {
    Path f = jsonl(tmp, "full.jsonl", "{\"prompt\": \"QZX\", \"completion\": \"Hi\"}");
    DataException e =
        assertThrows(
            DataException.class,
            () -> SftDataset.load(f, tok, new DataOptions(4, null, false, true)));
    assertEquals(
        f
            + ":1: prompt has 4 tokens, leaving no room for a completion within"
            + " maxLength 4 (set maxPromptLength to truncate prompts)",
        e.getMessage());
  }

  @Test
  void chatTruncationCutsTheAssistantReply() throws IOException {
    SftExample e =
        one(
            new DataOptions(22, null, false, true),
            "{\"prompt\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"completion\": \"Yo\"}");
    // The context is 20 tokens: BOS, "<|user|>\n" as plain text (<, |, u, s, er, |, >, \n = 8), H,
    // i,
    // EOS, \n, "<|assistant|>\n" (<, |, ass, istant, |, >, \n = 7). So 2 of the reply's 4 tokens
    // (Y, o, EOS, \n) fit.
    assertEquals(20, e.firstTarget());
    assertEquals("Yo", targetText(tok, e));
    assertTrue(e.truncated());
  }

  @Test
  void statsCountLinesTokensTargetsAndTruncations() throws IOException {
    Path f =
        jsonl(
            tmp,
            "stats.jsonl",
            "{\"prompt\": \"QZ\", \"completion\": \"Hi\"}",
            "",
            "{\"prompt\": \"QZXJVK\", \"completion\": \"Hi\"}",
            "{\"text\": \"Hi\"}");
    SftDataset d = SftDataset.load(f, tok, new DataOptions(8, 4, false, true));
    // 6 tokens (3 targets), 7 (3, prompt cut to 4), 4 (3); the blank line is not a line.
    assertEquals(new SftDataset.Stats(3, 3, 0, 1, 17, 9, List.of()), d.stats());
    assertEquals(List.of(1, 3, 4), d.examples().stream().map(SftExample::line).toList());
    assertEquals(
        "3 lines: 3 used, 0 skipped, 1 truncated; 17 tokens, 9 targets", d.stats().summary());
  }

  @Test
  void windowsLineEndsAndAMissingFinalNewlineAreRead() throws IOException {
    Path f =
        java.nio.file.Files.writeString(
            tmp.resolve("crlf.jsonl"), "{\"text\": \"Hi\"}\r\n \t\r\n{\"text\": \"Hi\"}");
    SftDataset d = SftDataset.load(f, tok, DataOptions.of(64));
    assertEquals(List.of(1, 3), d.examples().stream().map(SftExample::line).toList());
    assertEquals(2, d.stats().lines());
  }

  @Test
  void optionsRejectLimitsThatLeaveNoRoom() {
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> new DataOptions(1, null, false, true))
            .getMessage()
            .startsWith("data.max_length must be at least 2"));
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> new DataOptions(8, 8, false, true))
            .getMessage()
            .startsWith("data.max_prompt_length (8) must be less than data.max_length (8)"));
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> new DataOptions(8, 0, false, true))
            .getMessage()
            .startsWith("data.max_prompt_length must be at least 1"));
  }

  static int count(long[] ids, long id) {
    int n = 0;
    for (long x : ids) {
      n += x == id ? 1 : 0;
    }
    return n;
  }
}
