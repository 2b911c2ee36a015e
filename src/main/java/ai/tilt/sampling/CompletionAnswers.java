package ai.tilt.sampling;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The JSON of one request's answer in OpenAI's shapes: a {@code text_completion} or {@code
 * chat.completion} object, or, streamed, its {@code text_completion} / {@code
 * chat.completion.chunk} chunks. Choice {@code index} is prompt-major (prompt p's sample k is p * n
 * + k), as OpenAI orders a batch.
 */
final class CompletionAnswers {
  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  private final CompletionRequest request;
  private final String id;
  private final long created = System.currentTimeMillis() / 1000;

  CompletionAnswers(CompletionRequest request, long number) {
    this.request = request;
    this.id = (request.chat() ? "chatcmpl-tilt-" : "cmpl-tilt-") + number;
  }

  private ObjectNode head(boolean chunk) {
    ObjectNode root = JSON.objectNode().put("id", id);
    root.put(
        "object",
        request.chat() ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion");
    return root.put("created", created).put("model", request.model());
  }

  /** The whole answer, once every choice has finished. */
  ObjectNode full(List<ChoiceState> choices) {
    ObjectNode root = head(false);
    ArrayNode list = root.putArray("choices");
    for (ChoiceState c : choices) {
      ObjectNode one = list.addObject().put("index", c.index);
      if (request.chat()) {
        one.putObject("message").put("role", "assistant").put("content", c.text());
      } else {
        one.put("text", echo(c) + c.text());
      }
      logprobs(one, c, 0, c.tokenCount());
      one.put("finish_reason", c.finishReason());
    }
    root.set("usage", usage(choices));
    return root;
  }

  private String echo(ChoiceState c) {
    return request.echo() ? request.promptTexts().get(c.index / request.n()) : "";
  }

  /**
   * A chunk for one choice, with the text and tokens it has not streamed yet, or null when there is
   * nothing new to send. The first chunk of a chat choice carries its role; the last its {@code
   * finish_reason}.
   */
  ObjectNode chunk(ChoiceState c, boolean first) {
    if (c.lastSent()) {
      return null;
    }
    int from = c.takeTokens();
    String text = c.takeText();
    boolean last = c.takeLast();
    boolean newTokens = request.logprobs() >= 0 && from < c.tokenCount();
    if (!first && !last && text.isEmpty() && !newTokens) {
      return null;
    }
    ObjectNode root = head(true);
    ObjectNode one = root.putArray("choices").addObject().put("index", c.index);
    if (request.chat()) {
      ObjectNode delta = one.putObject("delta");
      if (first) {
        delta.put("role", "assistant");
      }
      if (!text.isEmpty() || first) {
        delta.put("content", text);
      }
    } else {
      one.put("text", (first ? echo(c) : "") + text);
    }
    logprobs(one, c, from, c.tokenCount());
    one.put("finish_reason", last ? c.finishReason() : null);
    if (request.includeUsage()) {
      root.putNull("usage");
    }
    return root;
  }

  /** The chunk {@code stream_options.include_usage} asks for: no choices, the usage. */
  ObjectNode usageChunk(List<ChoiceState> choices) {
    ObjectNode root = head(true);
    root.putArray("choices");
    root.set("usage", usage(choices));
    return root;
  }

  /** Prompt tokens count once per prompt, as OpenAI counts them; completion tokens per choice. */
  ObjectNode usage(List<ChoiceState> choices) {
    long prompt = request.prompts().stream().mapToLong(p -> p.length).sum();
    long completion = choices.stream().mapToLong(ChoiceState::tokenCount).sum();
    return JSON.objectNode()
        .put("prompt_tokens", prompt)
        .put("completion_tokens", completion)
        .put("total_tokens", prompt + completion);
  }

  /** Tokens [from, to) of a choice in the route's logprobs shape, or null when not asked for. */
  private void logprobs(ObjectNode choice, ChoiceState c, int from, int to) {
    if (request.logprobs() < 0) {
      choice.putNull("logprobs");
      return;
    }
    int k = request.logprobs();
    ObjectNode lp = choice.putObject("logprobs");
    if (request.chat()) {
      ArrayNode content = lp.putArray("content");
      for (int t = from; t < to; t++) {
        ObjectNode one = tokenLogprob(content.addObject(), c.tokenText(t), c.logprobs.get(t));
        ArrayNode top = one.putArray("top_logprobs");
        for (int j = 0; j < k && j < c.topIds.get(t).length; j++) {
          tokenLogprob(top.addObject(), c.token(c.topIds.get(t)[j]), c.topLogprobs.get(t)[j]);
        }
      }
      return;
    }
    ArrayNode tokens = lp.putArray("tokens");
    ArrayNode logps = lp.putArray("token_logprobs");
    ArrayNode tops = k > 0 ? lp.putArray("top_logprobs") : null;
    ArrayNode offsets = lp.putArray("text_offset");
    int base = request.echo() ? request.promptTexts().get(c.index / request.n()).length() : 0;
    for (int t = from; t < to; t++) {
      tokens.add(c.tokenText(t));
      logps.add(c.logprobs.get(t));
      offsets.add(base + c.textOffset(t));
      if (tops != null) {
        ObjectNode top = tops.addObject();
        for (int j = 0; j < c.topIds.get(t).length; j++) {
          top.put(c.token(c.topIds.get(t)[j]), c.topLogprobs.get(t)[j]);
        }
      }
    }
    if (tops == null) {
      lp.putNull("top_logprobs");
    }
  }

  private static ObjectNode tokenLogprob(ObjectNode node, String token, float logprob) {
    node.put("token", token).put("logprob", logprob);
    ArrayNode bytes = node.putArray("bytes");
    for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
      bytes.add(b & 0xff);
    }
    return node;
  }
}
