package ai.tilt.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.TokenizerFixtures.Case;
import com.fasterxml.jackson.core.type.TypeReference;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every case of the gpt2 and qwen3 fixtures (ids from transformers.js / Rust tokenizers, templates
 * from Python Jinja2 as transformers sets it up) must match exactly.
 */
class TokenizerParityTest {
  private static final TypeReference<List<Map<String, Object>>> MESSAGES = new TypeReference<>() {};
  private static final TypeReference<Map<String, Object>> KWARGS = new TypeReference<>() {};

  @TestFactory
  Stream<DynamicTest> gpt2() {
    return cases("gpt2");
  }

  @TestFactory
  Stream<DynamicTest> qwen3() {
    return cases("qwen3");
  }

  private static Stream<DynamicTest> cases(String name) {
    List<Case> cases = TokenizerFixtures.cases(name);
    assertTrue(cases.size() >= 40, name + " fixture looks truncated: " + cases.size());
    return cases.stream()
        .map(
            c ->
                DynamicTest.dynamicTest(
                    name + "/" + c.id(), () -> check(TokenizerFixtures.tokenizer(name), c)));
  }

  private static void check(TextTokenizer tok, Case c) {
    long[] expectedIds = TokenizerFixtures.ids(c.expected().get("ids"));
    if (c.isChat()) {
      List<Map<String, Object>> messages =
          TokenizerFixtures.JSON.convertValue(c.input().get("messages"), MESSAGES);
      Map<String, Object> kwargs =
          c.input().has("kwargs")
              ? TokenizerFixtures.JSON.convertValue(c.input().get("kwargs"), KWARGS)
              : null;
      boolean gen = c.input().get("add_generation_prompt").asBoolean();
      String rendered = tok.applyChatTemplate(messages, gen, kwargs);
      assertEquals(c.expected().get("rendered").asText(), rendered, "rendered");
      assertArrayEquals(expectedIds, tok.encode(rendered, false), "ids of rendered");
      // Neither fixture tokenizer adds BOS, so the prompt helpers must agree with plain encoding.
      assertArrayEquals(expectedIds, tok.encodeChat(messages, gen, kwargs), "encodeChat");
      return;
    }
    String text = c.input().get("text").asText();
    boolean special = c.input().get("add_special_tokens").asBoolean();
    assertArrayEquals(expectedIds, tok.encode(text, special), "ids");
    assertEquals(c.expected().get("decoded").asText(), tok.decode(expectedIds, false), "decoded");
    assertEquals(
        c.expected().get("decoded_skip_special").asText(),
        tok.decode(expectedIds, true),
        "decoded_skip_special");
  }
}
