package ai.tilt.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.TextTokenizer;
import ai.tilt.tokenizer.TokenizerFixtures;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A streamed choice's text, decoded a window at a time, is the text of all its tokens decoded at
 * once, as vLLM returns it (the tokens' own text: transformers' clean-up of spaces before
 * punctuation, set in this tokenizer's config, would rewrite text already sent), also for
 * characters whose bytes span tokens; and so is an unstreamed choice's.
 */
class ChoiceStateTest {
  @TempDir Path tmp;

  @Test
  void streamedTextEqualsTheWholeDecode() throws Exception {
    Path gpt2 = TokenizerFixtures.dir("gpt2");
    Files.copy(gpt2.resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
    ObjectNode config =
        (ObjectNode)
            TokenizerFixtures.JSON.readTree(gpt2.resolve("tokenizer_config.json").toFile());
    config.put("clean_up_tokenization_spaces", true); // Llama-3's setting
    Files.writeString(tmp.resolve("tokenizer_config.json"), config.toString());
    TextTokenizer tok = TextTokenizer.load(tmp);
    CompletionRequest.Server view =
        new CompletionRequest.Server(
            "m", m -> true, tok, new long[] {50256}, 50257, 1024, ServeLimits.defaults());
    for (String sample :
        new String[] {"I 'm here , ok . Yes !", "Crabs 🦀 and café, naïve — 日本語 n't"}) {
      long[] ids = tok.encode(sample, false);
      CompletionRequest r = request(view, ids.length, true);
      ChoiceState c = new ChoiceState(0, r, tok);
      StringBuilder streamed = new StringBuilder();
      for (long id : ids) {
        c.accept(id, -1f, null, null);
        streamed.append(c.takeText());
      }
      assertTrue(c.finished(), "max_tokens reached");
      c.finish(Generator.FinishReason.LENGTH);
      streamed.append(c.takeText());
      String whole = tok.decodeRaw(ids, false);
      assertEquals(sample.startsWith("I") ? sample : whole, whole); // the tokens' own text
      assertEquals(whole, streamed.toString(), sample);
      assertEquals(whole, c.text(), sample);
      CompletionRequest plain = request(view, ids.length, false);
      ChoiceState once = new ChoiceState(0, plain, tok);
      for (long id : ids) {
        once.accept(id, -1f, null, null);
      }
      once.finish(Generator.FinishReason.LENGTH);
      assertEquals(whole, once.text(), "unstreamed: " + sample);
    }
  }

  /** A completion request for {@code maxTokens} tokens of the prompt [1, 2], streamed or not. */
  private static CompletionRequest request(
      CompletionRequest.Server view, int maxTokens, boolean stream) throws Exception {
    return CompletionRequest.parseCompletion(
        TokenizerFixtures.JSON.readTree(
            "{\"prompt\": [1, 2], \"max_tokens\": "
                + maxTokens
                + (stream ? ", \"stream\": true}" : "}")),
        view);
  }
}
