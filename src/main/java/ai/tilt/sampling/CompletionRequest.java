package ai.tilt.sampling;

import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import java.util.stream.LongStream;

/**
 * A {@code POST /v1/completions} or {@code /v1/chat/completions} body as {@code tilt serve} runs
 * it, every field validated: OpenAI's ({@code model}, {@code prompt} as a string, strings, token
 * ids or lists of them, {@code n}, {@code max_tokens}, {@code temperature}, {@code top_p}, {@code
 * seed}, {@code logprobs}, {@code echo}, {@code stop}, {@code stream}, {@code stream_options}) and
 * vLLM's extensions ({@code top_k}, {@code stop_token_ids}, {@code ignore_eos}, {@code
 * return_tokens_as_token_ids}, {@code skip_special_tokens}). A request the client got wrong is an
 * {@link ApiError} naming the field as the client wrote it. {@link ChatRequest} reads the chat
 * route's body into the same record.
 *
 * @param prompts the prompts as token ids
 * @param promptTexts each prompt as text, for {@code echo} ("" without a tokenizer)
 * @param params how to sample (unseeded: the seeds travel per prompt, so requests that differ only
 *     in them share a batch)
 * @param seed prompt 0's seed; prompt p's is {@link Generator#groupSeed}(seed, p)
 * @param stops the ids that end a completion: the model's EOS and {@code stop_token_ids}
 * @param stopStrings {@code stop}: the text is cut before the first of them
 * @param logprobs -1: none; else log-probs with this many top alternatives per token
 */
record CompletionRequest(
    boolean chat,
    String model,
    List<long[]> prompts,
    List<String> promptTexts,
    int n,
    SamplingParams params,
    long seed,
    long[] stops,
    List<String> stopStrings,
    int logprobs,
    boolean tokensAsIds,
    boolean skipSpecialTokens,
    boolean echo,
    boolean stream,
    boolean includeUsage) {
  /** The length of a chat completion that sets none: what is left of the context, at most this. */
  static final int UNSET_CHAT_MAX_TOKENS = 2048;

  /** What reading a request needs to know of the server. */
  record Server(
      String servedName,
      Predicate<String> hasModel,
      TextTokenizer tokenizer, // null: token ids only
      long[] eosIds,
      int vocab,
      int contextLength,
      ServeLimits limits) {}

  static final int MAX_TOP_LOGPROBS = 20;

  /** Fields both routes read, with their meaning and checks in {@link #sampling}. */
  static final Set<String> SAMPLING_FIELDS =
      Set.of(
          "model",
          "n",
          "max_tokens",
          "temperature",
          "top_p",
          "top_k",
          "seed",
          "stop",
          "stop_token_ids",
          "ignore_eos",
          "return_tokens_as_token_ids",
          "skip_special_tokens",
          "stream",
          "stream_options",
          "user",
          "presence_penalty",
          "frequency_penalty",
          "repetition_penalty",
          "logit_bias");

  private static final Set<String> COMPLETION_FIELDS =
      union(SAMPLING_FIELDS, Set.of("prompt", "logprobs", "echo", "suffix", "best_of"));

  static Set<String> union(Set<String> a, Set<String> b) {
    HashSet<String> all = new HashSet<>(a);
    all.addAll(b);
    return Set.copyOf(all);
  }

  static CompletionRequest parseCompletion(JsonNode body, Server server) {
    Fields f = new Fields(body, COMPLETION_FIELDS);
    f.onlyNeutral("suffix", JsonNodeFactory.instance.textNode(""), "does not insert suffixes");
    Integer logprobs = f.integer("logprobs", -1, 0, MAX_TOP_LOGPROBS);
    boolean echo = f.bool("echo", false);
    if (echo && logprobs >= 0) {
      throw ApiError.unsupported(
          "echo",
          "Unsupported value for 'echo': echo with logprobs needs the prompt's log-probs, which"
              + " tilt serve does not compute; leave out one of them.");
    }
    List<long[]> prompts = prompts(f.get("prompt"), server);
    List<String> texts = new ArrayList<>();
    for (long[] p : prompts) {
      texts.add(server.tokenizer() == null ? "" : server.tokenizer().decode(p, false));
    }
    JsonNode promptNode = f.get("prompt");
    if (promptNode.isTextual()) {
      texts.set(0, promptNode.asText());
    } else if (promptNode.isArray() && promptNode.get(0).isTextual()) {
      for (int i = 0; i < promptNode.size(); i++) {
        texts.set(i, promptNode.get(i).asText());
      }
    }
    CompletionRequest r =
        sampling(f, server, false, prompts, texts, "max_tokens", 16, "prompt", logprobs, echo);
    JsonNode bestOf = f.get("best_of");
    if (bestOf != null && Fields.integerValue("best_of", bestOf, 1, Integer.MAX_VALUE) != r.n()) {
      throw ApiError.unsupported(
          "best_of", "Unsupported value for 'best_of': tilt serve returns every sample; give n.");
    }
    return r;
  }

  /**
   * The fields both routes share, and the checks that span fields: the context, the number of
   * prompts, {@code n} and prompts x n x max_tokens.
   *
   * @param maxTokensName the field that sets the completion's length, as the client named it
   * @param defaultMaxTokens its default; 0: what is left of the context
   * @param promptName "prompt" or "messages", for context errors
   */
  static CompletionRequest sampling(
      Fields f,
      Server server,
      boolean chat,
      List<long[]> prompts,
      List<String> promptTexts,
      String maxTokensName,
      int defaultMaxTokens,
      String promptName,
      int logprobs,
      boolean echo) {
    String model = f.string("model", server.servedName());
    if (!server.hasModel().test(model)) {
      throw ApiError.modelNotFound(model);
    }
    ServeLimits limits = server.limits();
    int n = f.integer("n", 1, 1, limits.maxN());
    int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
    Integer maxTokens = f.integer(maxTokensName, null, 1, Integer.MAX_VALUE);
    if (maxTokens == null) {
      maxTokens =
          defaultMaxTokens > 0
              ? defaultMaxTokens
              // what is left of the context, as OpenAI's chat does, but the KV cache of every
              // row is allocated for it up front: a 32k-context model would hold GBs per row
              : Math.min(UNSET_CHAT_MAX_TOKENS, server.contextLength() - longest);
      // an unset length fits the request limit rather than fail it
      long perRow = limits.maxRequestTokens() / ((long) prompts.size() * n) - longest;
      maxTokens = (int) Math.max(1, Math.min(maxTokens, perRow));
    }
    for (int p = 0; p < prompts.size(); p++) {
      int len = prompts.get(p).length;
      if (len + (long) maxTokens > server.contextLength()) {
        String where = prompts.size() == 1 ? promptName : promptName + "[" + p + "]";
        throw ApiError.invalid(
            promptName,
            "context_length_exceeded",
            "This model's maximum context length is "
                + server.contextLength()
                + " tokens (max_position_embeddings). However, you requested "
                + (len + (long) maxTokens)
                + " tokens ("
                + len
                + " in "
                + where
                + ", "
                + maxTokens
                + " in "
                + maxTokensName
                + "). Shorten the prompt or lower "
                + maxTokensName
                + " to at most "
                + Math.max(0, server.contextLength() - len)
                + ".");
      }
    }
    // the KV cache a request holds: every row's prompt and completion
    long asked = 0;
    for (long[] p : prompts) {
      asked += (long) n * (p.length + maxTokens);
    }
    if (asked > limits.maxRequestTokens()) {
      throw ApiError.invalid(
          maxTokensName,
          "request_too_large",
          "This request asks for n "
              + n
              + " x (prompt tokens + "
              + maxTokensName
              + " "
              + maxTokens
              + ") over its "
              + prompts.size()
              + " prompt(s) = "
              + asked
              + " tokens of cache, over this server's limit of "
              + limits.maxRequestTokens()
              + " per request (tilt serve --max-request-tokens).");
    }
    double temperature = f.number("temperature", 1.0, 0, false, Double.POSITIVE_INFINITY);
    double topP = f.number("top_p", 1.0, 0, true, 1.0);
    // vLLM's top_k: -1 and 0 both mean all tokens
    int topK = f.integer("top_k", 0, -1, Integer.MAX_VALUE);
    Long seedField = f.longValue("seed");
    long seed = seedField != null ? seedField : ThreadLocalRandom.current().nextLong();
    boolean ignoreEos = f.bool("ignore_eos", false);
    SamplingParams params =
        new SamplingParams(
            maxTokens,
            temperature == 0 ? 1.0 : temperature,
            Math.max(0, topK),
            topP,
            temperature == 0,
            ignoreEos,
            0);
    long[] extra = f.ids("stop_token_ids", server.vocab());
    long[] stops =
        LongStream.concat(Arrays.stream(server.eosIds()), Arrays.stream(extra))
            .distinct()
            .toArray();
    List<String> stopStrings = f.stop("stop");
    if (!stopStrings.isEmpty() && server.tokenizer() == null) {
      throw ApiError.unsupported(
          "stop",
          "Unsupported value for 'stop': this model has no tokenizer, so no text to match.");
    }
    boolean stream = f.bool("stream", false);
    boolean includeUsage = false;
    JsonNode options = f.get("stream_options");
    if (options != null) {
      if (!stream) {
        throw ApiError.invalid(
            "stream_options", "Invalid 'stream_options': only allowed when 'stream' is true.");
      }
      if (!options.isObject()) {
        throw Fields.wrongType("stream_options", "an object", options);
      }
      includeUsage = new Fields(options, Set.of("include_usage")).bool("include_usage", false);
    }
    f.string("user", null); // OpenAI's end-user id: only checked, as it changes nothing here
    JsonNode zero = JsonNodeFactory.instance.numberNode(0);
    f.onlyNeutral("presence_penalty", zero, "has no presence penalty");
    f.onlyNeutral("frequency_penalty", zero, "has no frequency penalty");
    f.onlyNeutral(
        "repetition_penalty", JsonNodeFactory.instance.numberNode(1), "has no repetition penalty");
    f.onlyNeutral("logit_bias", JsonNodeFactory.instance.objectNode(), "has no logit bias");
    return new CompletionRequest(
        chat,
        model,
        prompts,
        promptTexts,
        n,
        params,
        seed,
        stops,
        stopStrings,
        logprobs,
        f.bool("return_tokens_as_token_ids", false),
        f.bool("skip_special_tokens", true),
        echo,
        stream,
        includeUsage);
  }

  /**
   * {@code prompt} as OpenAI's completions API takes it: a string, a list of strings, token ids, or
   * a list of token-id lists.
   */
  private static List<long[]> prompts(JsonNode p, Server server) {
    String shapes =
        "a string, an array of strings, an array of token ids or an array of arrays of token ids";
    if (p == null) {
      throw ApiError.invalid(
          "prompt", "missing_required_parameter", "Missing required parameter: 'prompt'.");
    }
    List<long[]> out = new ArrayList<>();
    if (p.isTextual()) {
      out.add(encode("prompt", p.asText(), server));
    } else if (p.isArray() && p.size() == 0) {
      throw ApiError.invalid("prompt", "Invalid 'prompt': empty array. Expected " + shapes + ".");
    } else if (p.isArray() && p.get(0).isIntegralNumber()) {
      out.add(Fields.idList("prompt", p, server.vocab()));
    } else if (p.isArray() && (p.get(0).isTextual() || p.get(0).isArray())) {
      boolean texts = p.get(0).isTextual();
      for (int i = 0; i < p.size(); i++) {
        JsonNode one = p.get(i);
        String at = "prompt[" + i + "]";
        if (texts && one.isTextual()) {
          out.add(encode(at, one.asText(), server));
        } else if (!texts && one.isArray()) {
          out.add(Fields.idList(at, one, server.vocab()));
        } else {
          throw Fields.wrongType(at, texts ? "a string" : "an array of token ids", one);
        }
      }
    } else {
      throw Fields.wrongType("prompt", shapes, p.isArray() ? p.get(0) : p);
    }
    if (out.size() > server.limits().maxPrompts()) {
      throw ApiError.invalid(
          "prompt",
          "array_above_max_length",
          "Invalid 'prompt': "
              + out.size()
              + " prompts, over this server's limit of "
              + server.limits().maxPrompts()
              + " per request (tilt serve --max-prompts).");
    }
    for (int i = 0; i < out.size(); i++) {
      if (out.get(i).length == 0) {
        String at = out.size() == 1 ? "prompt" : "prompt[" + i + "]";
        throw ApiError.invalid(at, "Invalid '" + at + "': the prompt has no tokens.");
      }
    }
    return out;
  }

  private static long[] encode(String field, String text, Server server) {
    if (server.tokenizer() == null) {
      throw ApiError.unsupported(
          field,
          "Unsupported value for '"
              + field
              + "': this model has no tokenizer.json; send the prompt as token ids.");
    }
    return server.tokenizer().encode(text, true);
  }
}
