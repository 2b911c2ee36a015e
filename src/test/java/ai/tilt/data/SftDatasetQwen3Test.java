package ai.tilt.data;

import static ai.tilt.data.SftSupport.contextText;
import static ai.tilt.data.SftSupport.jsonl;
import static ai.tilt.data.SftSupport.pattern;
import static ai.tilt.data.SftSupport.targetText;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.TextTokenizer;
import ai.tilt.tokenizer.TokenizerFixtures;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SFT examples with the Qwen3 tokenizer fixture: no BOS, EOS {@code <|im_end|>} (151645), pad
 * {@code <|endoftext|>}, and a chat template that writes an empty think block before the last
 * assistant reply and drops it from earlier ones.
 */
class SftDatasetQwen3Test {
  static final long IM_START = 151644;
  static final long IM_END = 151645;
  @TempDir static Path tmp;
  static TextTokenizer tok;

  @BeforeAll
  static void load() {
    tok = TokenizerFixtures.tokenizer("qwen3"); // shared per JVM: not closed here
    assertNull(tok.bosId());
    assertEquals(IM_END, tok.eosIds()[0]);
    assertEquals(IM_START, tok.tokenId("<|im_start|>").getAsLong());
  }

  static SftExample one(DataOptions options, String line) throws IOException {
    List<SftExample> ex = SftDataset.load(jsonl(tmp, "q.jsonl", line), tok, options).examples();
    assertEquals(1, ex.size());
    return ex.get(0);
  }

  @Test
  void textPromptGetsNoBosAndTheCompletionEndsWithImEnd() throws IOException {
    SftExample e = one(DataOptions.of(64), "{\"prompt\": \"Hi\", \"completion\": \" there\"}");
    // "Hi" 13048 and " there" 1052 are single tokens of Qwen's vocabulary.
    assertArrayEquals(new long[] {13048, 1052, IM_END}, e.ids());
    assertEquals("FTT", pattern(e));
  }

  @Test
  void imEndWrittenInTheCompletionIsNotDoubled() throws IOException {
    SftExample e =
        one(DataOptions.of(64), "{\"prompt\": \"Hi\", \"completion\": \" there<|im_end|>\"}");
    assertArrayEquals(new long[] {13048, 1052, IM_END}, e.ids());
  }

  @Test
  void chatPromptCompletionTargetsTheReplyAndItsImEnd() throws IOException {
    SftExample e =
        one(
            DataOptions.of(128),
            "{\"prompt\": [{\"role\": \"system\", \"content\":"
                + " \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}],"
                + " \"completion\": [{\"role\": \"assistant\", \"content\": \"Yo\"}]}");
    assertEquals(
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            + "<|im_start|>assistant\n",
        contextText(tok, e));
    // The reply as the template writes it: think block, text, end of turn.
    assertEquals("<think>\n\n</think>\n\nYo<|im_end|>\n", targetText(tok, e));
    // Three <|im_end|>: the system's and user's are context, only the assistant's is a target.
    int targetImEnds = 0;
    int imEnds = 0;
    for (int t = 0; t < e.length(); t++) {
      if (e.ids()[t] == IM_END) {
        imEnds++;
        targetImEnds += e.targets()[t] ? 1 : 0;
      }
    }
    assertEquals(3, imEnds);
    assertEquals(1, targetImEnds);
    assertEquals(IM_END, e.ids()[e.length() - 2]); // no extra EOS after the template's "\n"
  }

  @Test
  void singleTurnMessagesMatchThePromptCompletionForm() throws IOException {
    SftExample e =
        one(
            DataOptions.of(128),
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"},"
                + " {\"role\": \"assistant\", \"content\": \"Yo\"}]}");
    assertEquals("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", contextText(tok, e));
    assertEquals("<think>\n\n</think>\n\nYo<|im_end|>\n", targetText(tok, e));
  }

  @Test
  void multiTurnMessagesAreRejectedAsNotPrefixStable() throws IOException {
    // Rendered alone, turn 1 gets a think block; in the whole chat it does not (it precedes the
    // last user message), so its tokens are not a prefix of the conversation's.
    Path f =
        jsonl(
            tmp,
            "multi.jsonl",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"},"
                + " {\"role\": \"assistant\", \"content\": \"Yo\"}, {\"role\": \"user\", \"content\": \"And?\"},"
                + " {\"role\": \"assistant\", \"content\": \"Done\"}]}");
    DataException e =
        assertThrows(DataException.class, () -> SftDataset.load(f, tok, DataOptions.of(128)));
    assertTrue(
        e.getMessage().startsWith(f + ":1: chat template is not prefix-stable at messages[1]"),
        e.getMessage());
  }

  @Test
  void promptTruncationWithoutBosKeepsTheLastTokens() throws IOException {
    // "Q Z X J V K" is six tokens: Q, " Z", " X", " J", " V", " K".
    assertArrayEquals(new long[] {48, 1863, 1599, 619, 647, 730}, tok.encode("Q Z X J V K", false));
    SftExample e =
        one(
            new DataOptions(64, 2, false, true),
            "{\"prompt\": \"Q Z X J V K\", \"completion\": \" there\"}");
    assertArrayEquals(new long[] {647, 730, 1052, IM_END}, e.ids());
    assertEquals("FFTT", pattern(e));
    assertTrue(e.truncated());
  }

  @Test
  void emptyPromptCannotTrainTheFirstToken() throws IOException {
    // Without a BOS, nothing precedes the first completion token, so it is context, not target.
    SftExample e = one(DataOptions.of(64), "{\"prompt\": \"\", \"completion\": \"Hi\"}");
    assertArrayEquals(new long[] {13048, IM_END}, e.ids());
    assertEquals("FT", pattern(e));
    // Without the EOS nothing is left to train on.
    Path f = jsonl(tmp, "empty-prompt.jsonl", "{\"prompt\": \"\", \"completion\": \"Hi\"}");
    DataException x =
        assertThrows(
            DataException.class,
            () -> SftDataset.load(f, tok, new DataOptions(64, null, false, false)));
    assertTrue(x.getMessage().startsWith(f + ":1: no target tokens"), x.getMessage());
  }
}
