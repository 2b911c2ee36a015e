package ai.tilt.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelFiles;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tilt serve} as the OpenAI API defines it, driven by a plain Java HTTP client: every prompt
 * form of /v1/completions, echo, usage, stop strings, logprobs, streaming that sends what the
 * unstreamed answer holds, and /v1/chat/completions rendering messages with the model's template.
 */
class OpenAiApiTest {
  @TempDir static Path tmp;
  static ServeFixture serve;

  @BeforeAll
  static void start() throws Exception {
    serve = ServeFixture.start(tmp.resolve("tiny"), ServeLimits.defaults());
  }

  @AfterAll
  static void stop() {
    serve.close();
  }

  static List<String> texts(JsonNode answer) {
    List<String> out = new ArrayList<>();
    for (JsonNode c : answer.get("choices")) {
      out.add(c.has("message") ? c.get("message").get("content").asText() : c.get("text").asText());
    }
    return out;
  }

  /**
   * Each prompt form samples what the in-process generator samples for the same prompts and seed,
   * choices prompt-major with their index, and counts usage as OpenAI does.
   */
  @Test
  void everyPromptFormSamplesPromptMajorWithUsage() throws Exception {
    long[] a = serve.tokenizer.encode("Hello there", true);
    long[] b = serve.tokenizer.encode("The cat sat", true);
    List<Generator.Generation> want;
    try (CausalLM m = ModelFiles.load(serve.dir, Device.cpu())) {
      SamplingParams p = new SamplingParams(5, 1.0, 0, 1.0, false, false, 0);
      want =
          new Generator(m, serve.tokenizer.eosIds())
              .generateGroups(List.of(a, b), 2, p, new long[] {11, Generator.groupSeed(11, 1)});
    }
    String common =
        "\"n\": 2, \"max_tokens\": 5, \"seed\": 11, \"logprobs\": 0,"
            + " \"return_tokens_as_token_ids\": true";
    String ids = "[" + join(a) + "], [" + join(b) + "]";
    for (String prompt : List.of("[\"Hello there\", \"The cat sat\"]", "[" + ids + "]")) {
      JsonNode r = serve.ok("/v1/completions", "{\"prompt\": " + prompt + ", " + common + "}");
      assertEquals("text_completion", r.get("object").asText());
      assertEquals(4, r.get("choices").size());
      long completion = 0;
      for (int i = 0; i < 4; i++) {
        JsonNode c = r.get("choices").get(i);
        assertEquals(i, c.get("index").asInt());
        long[] got = ids(c.get("logprobs").get("tokens"));
        assertArrayEquals(want.get(i).completionIds(), got, prompt + " choice " + i);
        assertEquals(serve.tokenizer.decode(got, true), c.get("text").asText());
        completion += got.length;
      }
      JsonNode usage = r.get("usage");
      assertEquals(a.length + b.length, usage.get("prompt_tokens").asLong(), "once per prompt");
      assertEquals(completion, usage.get("completion_tokens").asLong());
      assertEquals(a.length + b.length + completion, usage.get("total_tokens").asLong());
    }
    // one prompt, as a string and as its ids: the first prompt's choices
    for (String prompt : List.of("\"Hello there\"", "[" + join(a) + "]")) {
      JsonNode r = serve.ok("/v1/completions", "{\"prompt\": " + prompt + ", " + common + "}");
      assertEquals(2, r.get("choices").size());
      assertArrayEquals(
          want.get(1).completionIds(), ids(r.get("choices").get(1).get("logprobs").get("tokens")));
      assertEquals(a.length, r.get("usage").get("prompt_tokens").asLong());
    }
  }

  private static long[] ids(JsonNode tokens) {
    long[] out = new long[tokens.size()];
    for (int t = 0; t < out.length; t++) {
      out[t] = Long.parseLong(tokens.get(t).asText().substring("token_id:".length()));
    }
    return out;
  }

  private static String join(long[] ids) {
    StringBuilder sb = new StringBuilder();
    for (long id : ids) {
      sb.append(sb.length() == 0 ? "" : ", ").append(id);
    }
    return sb.toString();
  }

  @Test
  void echoLogprobsAndStopStrings() throws Exception {
    String base =
        "\"prompt\": \"Once upon\", \"max_tokens\": 12, \"seed\": 3, \"ignore_eos\": true";
    JsonNode plain = serve.ok("/v1/completions", "{" + base + "}");
    String text = plain.get("choices").get(0).get("text").asText();
    JsonNode echoed = serve.ok("/v1/completions", "{" + base + ", \"echo\": true}");
    assertEquals("Once upon" + text, echoed.get("choices").get(0).get("text").asText());

    // top log-probs: the sampled token's log-prob is under the same distribution as the top ones
    JsonNode lp =
        serve
            .ok(
                "/v1/completions",
                "{" + base + ", \"logprobs\": 3, \"return_tokens_as_token_ids\": true}")
            .get("choices")
            .get(0)
            .get("logprobs");
    assertEquals(12, lp.get("tokens").size());
    assertEquals(12, lp.get("top_logprobs").size());
    for (int t = 0; t < 12; t++) {
      JsonNode top = lp.get("top_logprobs").get(t);
      assertEquals(3, top.size());
      double best = top.elements().next().asDouble();
      assertTrue(lp.get("token_logprobs").get(t).asDouble() <= best + 1e-5);
      assertTrue(lp.get("tokens").get(t).asText().startsWith("token_id:"));
      String tok = lp.get("tokens").get(t).asText();
      if (top.has(tok)) {
        assertEquals(top.get(tok).asDouble(), lp.get("token_logprobs").get(t).asDouble(), 1e-5);
      }
    }
    // greedy: the token drawn is the top one
    JsonNode greedy =
        serve
            .ok("/v1/completions", "{" + base + ", \"temperature\": 0, \"logprobs\": 1}")
            .get("choices")
            .get(0)
            .get("logprobs");
    for (int t = 0; t < greedy.get("tokens").size(); t++) {
      JsonNode top = greedy.get("top_logprobs").get(t);
      assertEquals(greedy.get("tokens").get(t).asText(), top.fieldNames().next());
    }
    assertEquals(0, greedy.get("text_offset").get(0).asInt());
    assertEquals(
        greedy.get("tokens").get(0).asText().length(), greedy.get("text_offset").get(1).asInt());

    // a stop string cuts the text before it and ends the choice with "stop"
    assertTrue(text.length() > 6, text);
    String stop = text.substring(4, 7);
    JsonNode stopped =
        serve.ok(
            "/v1/completions",
            "{" + base + ", \"stop\": [" + ServeFixture.JSON.writeValueAsString(stop) + "]}");
    JsonNode c = stopped.get("choices").get(0);
    assertEquals(text.substring(0, text.indexOf(stop)), c.get("text").asText());
    assertEquals("stop", c.get("finish_reason").asText());
    assertEquals("length", plain.get("choices").get(0).get("finish_reason").asText());
    assertTrue(stopped.get("usage").get("completion_tokens").asInt() < 12, "it stopped sampling");
  }

  /** A stream carries, chunk by chunk, exactly the unstreamed answer of the same seed. */
  @Test
  void streamedCompletionsEqualTheWholeAnswer() throws Exception {
    String body =
        "\"prompt\": [\"Hello\", \"World\"], \"n\": 2, \"max_tokens\": 9, \"seed\": 5,"
            + " \"logprobs\": 1";
    JsonNode whole = serve.ok("/v1/completions", "{" + body + "}");
    List<JsonNode> events =
        ServeFixture.events(
            serve.post(
                "/v1/completions",
                "{" + body + ", \"stream\": true, \"stream_options\": {\"include_usage\": true}}"));
    String[] text = {"", "", "", ""};
    int[] tokens = new int[4];
    String[] finish = new String[4];
    for (JsonNode e : events.subList(0, events.size() - 1)) {
      assertEquals("text_completion", e.get("object").asText());
      assertEquals(1, e.get("choices").size(), "one choice per chunk");
      assertTrue(e.get("usage").isNull(), "usage only in the last chunk");
      JsonNode c = e.get("choices").get(0);
      int i = c.get("index").asInt();
      assertEquals(null, finish[i], "nothing after a choice's finish_reason");
      text[i] += c.get("text").asText();
      tokens[i] += c.get("logprobs").get("tokens").size();
      finish[i] = c.get("finish_reason").isNull() ? null : c.get("finish_reason").asText();
    }
    for (int i = 0; i < 4; i++) {
      JsonNode w = whole.get("choices").get(i);
      assertEquals(w.get("text").asText(), text[i], "choice " + i);
      assertEquals(w.get("logprobs").get("tokens").size(), tokens[i]);
      assertEquals(w.get("finish_reason").asText(), finish[i]);
    }
    JsonNode last = events.get(events.size() - 1);
    assertEquals(0, last.get("choices").size());
    assertEquals(whole.get("usage"), last.get("usage"));
    assertTrue(events.size() > 4 * 3, "token by token: " + events.size() + " events");
  }

  @Test
  void chatRendersTheTemplateAndStreamsTheSameAnswer() throws Exception {
    List<Map<String, String>> messages =
        List.of(
            Map.of("role", "system", "content", "Be brief."),
            Map.of("role", "user", "content", "Hi"));
    String msgs =
        "[{\"role\": \"system\", \"content\": \"Be brief.\"},"
            + " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Hi\"}]}]";
    String body = "\"messages\": " + msgs + ", \"n\": 2, \"max_tokens\": 8, \"seed\": 9";
    JsonNode chat =
        serve.ok("/v1/chat/completions", "{" + body + ", \"logprobs\": true, \"top_logprobs\": 2}");
    assertEquals("chat.completion", chat.get("object").asText());
    long[] prompt = serve.tokenizer.encodeChat(messages, true, null);
    assertEquals(prompt.length, chat.get("usage").get("prompt_tokens").asLong());
    // the chat route samples what the completions route samples on the rendered prompt
    JsonNode completion =
        serve.ok(
            "/v1/completions",
            "{\"prompt\": [" + join(prompt) + "], \"n\": 2, \"max_tokens\": 8, \"seed\": 9}");
    assertEquals(texts(completion), texts(chat));
    for (JsonNode c : chat.get("choices")) {
      assertEquals("assistant", c.get("message").get("role").asText());
      JsonNode content = c.get("logprobs").get("content");
      assertEquals(8, content.size(), c.toString());
      assertEquals(2, content.get(0).get("top_logprobs").size());
      assertTrue(content.get(0).get("bytes").isArray());
    }
    List<JsonNode> events =
        ServeFixture.events(serve.post("/v1/chat/completions", "{" + body + ", \"stream\": true}"));
    String[] text = {"", ""};
    boolean[] role = new boolean[2];
    for (JsonNode e : events) {
      assertEquals("chat.completion.chunk", e.get("object").asText());
      JsonNode c = e.get("choices").get(0);
      int i = c.get("index").asInt();
      JsonNode delta = c.get("delta");
      if (delta.has("role")) {
        assertFalse(role[i], "the role comes once, first");
        role[i] = true;
      }
      assertTrue(role[i], "the first chunk of a choice carries its role");
      text[i] += delta.path("content").asText("");
    }
    assertEquals(texts(chat), List.of(text));
    assertNotEquals(text[0], text[1], "two samples");
  }

  /**
   * A chat request that sets no length gets what is left of the context, but at most {@link
   * CompletionRequest#UNSET_CHAT_MAX_TOKENS}: each row's KV cache is allocated for it up front.
   */
  @Test
  void anUnsetChatLengthIsCappedOnALongContext() throws Exception {
    for (int context : new int[] {32768, 1000}) {
      CompletionRequest.Server view =
          new CompletionRequest.Server(
              "tiny",
              m -> true,
              serve.tokenizer,
              new long[] {ServeFixture.EOS},
              ServeFixture.VOCAB,
              context,
              ServeLimits.defaults());
      CompletionRequest r =
          ChatRequest.parse(
              ServeFixture.JSON.readTree(
                  "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"),
              view);
      int prompt = r.prompts().get(0).length;
      assertEquals(
          Math.min(CompletionRequest.UNSET_CHAT_MAX_TOKENS, context - prompt),
          r.params().maxNewTokens(),
          "context " + context);
    }
  }
}
