package ai.tilt.data;

import static ai.tilt.data.SftSupport.jsonl;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
 * Preference groups with the Qwen3 tokenizer fixture: no BOS, EOS {@code <|im_end|>} (151645), and
 * a chat template that opens the assistant turn with {@code <|im_start|>assistant\n} and writes an
 * empty think block before the last reply.
 */
class PreferenceDatasetQwen3Test {
  static final long IM_START = 151644;
  static final long IM_END = 151645;
  @TempDir static Path tmp;
  static TextTokenizer tok;

  @BeforeAll
  static void load() {
    tok = TokenizerFixtures.tokenizer("qwen3"); // shared per JVM: not closed here
    assertEquals(null, tok.bosId());
    assertEquals(IM_END, tok.eosIds()[0]);
    assertNotEquals(IM_END, (long) tok.padId());
  }

  static ResponseGroup one(DataOptions options, String line) throws IOException {
    List<ResponseGroup> g =
        PreferenceDataset.load(jsonl(tmp, "q.jsonl", line), tok, options).groups();
    assertEquals(1, g.size());
    return g.get(0);
  }

  @Test
  void textPairGetsNoBosAndOneImEndPerResponse() throws IOException {
    ResponseGroup g =
        one(
            DataOptions.of(64),
            "{\"prompt\": \"Hi\", \"chosen\": \" there\", \"rejected\": \" there<|im_end|>!\"}");
    // "Hi" 13048, " there" 1052 and "!" 0 are single tokens of Qwen's vocabulary.
    assertArrayEquals(new long[] {13048}, g.prompt());
    assertArrayEquals(new long[] {1052, IM_END}, g.responses().get(0));
    assertArrayEquals(new long[] {1052, IM_END, 0, IM_END}, g.responses().get(1));
  }

  @Test
  void conversationalPairKeepsTheHeaderInThePromptAndImEndInTheResponse() throws IOException {
    ResponseGroup g =
        one(
            DataOptions.of(128),
            "{\"prompt\": [{\"role\": \"system\","
                + " \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}],"
                + " \"chosen\": [{\"role\": \"assistant\", \"content\": \"Yo\"}],"
                + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"No\"}]}");
    assertEquals(
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            + "<|im_start|>assistant\n",
        tok.decode(g.prompt(), false));
    assertEquals("<think>\n\n</think>\n\nYo<|im_end|>\n", tok.decode(g.responses().get(0), false));
    assertEquals("<think>\n\n</think>\n\nNo<|im_end|>\n", tok.decode(g.responses().get(1), false));
    for (long[] r : g.responses()) {
      // One end of turn, the template's, with its newline after it: no EOS added, no header.
      assertEquals(1, PreferenceDatasetTest.count(r, IM_END));
      assertEquals(IM_END, r[r.length - 2]);
      assertEquals(0, PreferenceDatasetTest.count(r, IM_START));
    }
    // The prompt's ids are a prefix of each whole rendered conversation.
    long[] whole =
        tok.encodeChat(
            List.of(
                java.util.Map.of("role", "system", "content", "Be brief."),
                java.util.Map.of("role", "user", "content", "Hi"),
                java.util.Map.of("role", "assistant", "content", "Yo")),
            false,
            null);
    assertArrayEquals(whole, g.sequence(0));
  }

  @Test
  void implicitPromptMatchesTheExplicitForm() throws IOException {
    String user = "{\"role\": \"user\", \"content\": \"Hi\"}";
    ResponseGroup explicit =
        one(
            DataOptions.of(128),
            "{\"prompt\": [" + user + "]," + " \"chosen\": \"Yo\", \"rejected\": \"No\"}");
    ResponseGroup implicit =
        one(
            DataOptions.of(128),
            "{\"chosen\": ["
                + user
                + ", {\"role\": \"assistant\", \"content\": \"Yo\"}], \"rejected\": ["
                + user
                + ", {\"role\": \"assistant\", \"content\": \"No\"}]}");
    assertArrayEquals(explicit.sequence(0), implicit.sequence(0));
    assertArrayEquals(explicit.sequence(1), implicit.sequence(1));
    assertEquals(explicit.promptLength(), implicit.promptLength());
  }

  @Test
  void promptCutWithoutBosKeepsTheLastTokens() throws IOException {
    // "Q Z X J V K" is six tokens: Q, " Z", " X", " J", " V", " K".
    assertArrayEquals(new long[] {48, 1863, 1599, 619, 647, 730}, tok.encode("Q Z X J V K", false));
    ResponseGroup g =
        one(
            new DataOptions(5, 2, false, true),
            "{\"prompt\": \"Q Z X J V K\", \"chosen\": \" there\", \"rejected\": \"Hi\"}");
    assertArrayEquals(new long[] {647, 730}, g.prompt());
    assertArrayEquals(new long[] {1052, IM_END}, g.responses().get(0));
    assertTrue(g.truncated());
  }

  @Test
  void anEmptyTextPromptIsInvalidWithoutBos() {
    // Nothing would precede (and so predict) the first response token.
    Path f =
        jsonl(tmp, "empty.jsonl", "{\"prompt\": \"\", \"chosen\": \"Hi\", \"rejected\": \"Yo\"}");
    DataException e =
        assertThrows(DataException.class, () -> PreferenceDataset.load(f, tok, DataOptions.of(64)));
    assertTrue(e.getMessage().startsWith(f + ":1: empty prompt"), e.getMessage());
  }
}
