package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.ByteLevelBpe;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SFT, preference and prompt data follow one encoding rule: the same prompt gets the same ids, the
 * same text answer the same ids and EOS, and a tokenizer without EOS fails all three alike.
 */
class TextEncodingTest {
  @TempDir Path tmp;

  @Test
  void theSameTextEncodesAlikeInEveryKindOfData() throws IOException {
    try (TextTokenizer tok = SftSupport.bpe(tmp.resolve("tok"))) {
      DataOptions options = DataOptions.of(128);
      SftExample sft =
          SftDataset.load(
                  SftSupport.jsonl(
                      tmp, "sft.jsonl", "{\"prompt\": \"Q:\", \"completion\": \" Hi\"}"),
                  tok,
                  options)
              .examples()
              .get(0);
      ResponseGroup pair =
          PreferenceDataset.load(
                  SftSupport.jsonl(
                      tmp,
                      "pairs.jsonl",
                      "{\"prompt\": \"Q:\", \"chosen\": \" Hi\", \"rejected\": \" No\"}"),
                  tok,
                  options)
              .groups()
              .get(0);
      PromptSet.Prompt offline =
          PromptSet.load(
                  SftSupport.jsonl(
                      tmp, "prompts.jsonl", "{\"prompt\": \"Q:\", \"responses\": [\" Hi\"]}"),
                  tok,
                  512,
                  true,
                  true)
              .get(0);
      long[] prompt = pair.prompt();
      assertArrayEquals(prompt, offline.ids());
      assertArrayEquals(prompt, Arrays.copyOf(sft.ids(), prompt.length));
      long[] answer = pair.responses().get(0);
      assertEquals(SftSupport.EOS, answer[answer.length - 1], "the EOS is appended once");
      assertTrue(answer.length < 2 || answer[answer.length - 2] != SftSupport.EOS);
      assertArrayEquals(answer, offline.responses().get(0));
      assertArrayEquals(answer, Arrays.copyOfRange(sft.ids(), prompt.length, sft.ids().length));
    }
  }

  @Test
  void aChatPromptEncodesAlikeOnPolicyAndInPreferenceData() throws IOException {
    try (TextTokenizer tok = SftSupport.bpe(tmp.resolve("tok"))) {
      String messages = "[{\"role\": \"user\", \"content\": \"Count from 41:\"}]";
      ResponseGroup pair =
          PreferenceDataset.load(
                  SftSupport.jsonl(
                      tmp,
                      "pairs.jsonl",
                      "{\"prompt\": " + messages + ", \"chosen\": \" 42\", \"rejected\": \" 7\"}"),
                  tok,
                  DataOptions.of(128))
              .groups()
              .get(0);
      PromptSet.Prompt onPolicy =
          PromptSet.load(
                  SftSupport.jsonl(tmp, "prompts.jsonl", "{\"messages\": " + messages + "}"),
                  tok,
                  512,
                  false,
                  true)
              .get(0);
      assertArrayEquals(pair.prompt(), onPolicy.ids());
      assertEquals(SftSupport.BOS, onPolicy.ids()[0]);
      assertEquals(1, Arrays.stream(onPolicy.ids()).filter(id -> id == SftSupport.BOS).count());
    }
  }

  @Test
  void aTokenizerWithoutEosFailsEveryKindOfDataNamingTheKey() throws IOException {
    try (TextTokenizer tok = withoutEos(tmp.resolve("tok"))) {
      assertEquals(0, tok.eosIds().length, "the tokenizer has no EOS");
      Path sft =
          SftSupport.jsonl(tmp, "sft.jsonl", "{\"prompt\": \"Q:\", \"completion\": \" Hi\"}");
      Path pairs =
          SftSupport.jsonl(
              tmp,
              "pairs.jsonl",
              "{\"prompt\": \"Q:\", \"chosen\": \" Hi\", \"rejected\": \" No\"}");
      Path prompts =
          SftSupport.jsonl(tmp, "prompts.jsonl", "{\"prompt\": \"Q:\", \"responses\": [\" Hi\"]}");
      DataOptions on = DataOptions.of(128);
      List<String> messages =
          List.of(
              assertThrows(DataException.class, () -> SftDataset.load(sft, tok, on)).getMessage(),
              assertThrows(DataException.class, () -> PreferenceDataset.load(pairs, tok, on))
                  .getMessage(),
              assertThrows(DataException.class, () -> PromptSet.load(prompts, tok, 512, true, true))
                  .getMessage());
      for (String m : messages) {
        assertEquals(messages.get(0), m);
        assertTrue(m.contains("data.append_eos"), m);
      }
      DataOptions off = new DataOptions(128, null, false, false);
      assertEquals(1, SftDataset.load(sft, tok, off).examples().size());
      assertEquals(1, PreferenceDataset.load(pairs, tok, off).groups().size());
      assertArrayEquals(
          tok.encode(" Hi", false),
          PromptSet.load(prompts, tok, 512, true, false).get(0).responses().get(0));
    }
  }

  /**
   * Tilt's tokenizer with its EOS renamed to a token no rule recognises (the loader would otherwise
   * find {@code <|eos|>} by its well-known name) and no eos_token in its config.
   */
  private static TextTokenizer withoutEos(Path dir) throws IOException {
    ByteLevelBpe.write(dir);
    for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
      Path p = dir.resolve(f);
      Files.writeString(p, Files.readString(p).replace("<|eos|>", "<|stop|>"));
    }
    Path cfg = dir.resolve("tokenizer_config.json");
    ObjectNode o = (ObjectNode) Jsonl.mapper().readTree(cfg.toFile());
    o.remove("eos_token");
    Files.writeString(cfg, Jsonl.mapper().writeValueAsString(o));
    return TextTokenizer.load(dir);
  }
}
