package ai.tilt.sampling;

import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.LongStream;

/**
 * A {@code POST /v1/completions} body as {@code tilt serve} reads it: the fields of OpenAI's
 * completions API that vLLM also takes ({@code model}, {@code prompt} as text, ids or a list of id
 * lists, {@code n}, {@code max_tokens}, {@code temperature}, {@code top_p}, {@code seed}, {@code
 * logprobs}) and vLLM's extensions ({@code top_k}, {@code stop_token_ids}, {@code ignore_eos},
 * {@code return_tokens_as_token_ids}). A request the client got wrong is a {@link
 * CompletionsServer.BadRequest} naming the field.
 *
 * @param model the served model or a loaded adapter's name
 * @param prompts the prompts, as token ids
 * @param params how to sample (unseeded: the seeds travel per prompt, so requests that differ only
 *     in them share a batch)
 * @param seed prompt 0's seed; prompt p's is {@link Generator#groupSeed}(seed, p)
 * @param stops the ids that end a completion: the model's EOS and {@code stop_token_ids}
 * @param tokensAsIds logprobs name tokens {@code token_id:N}
 * @param logprobs whether per-token log-probs are returned
 */
record CompletionRequest(
    String model,
    List<long[]> prompts,
    int n,
    SamplingParams params,
    long seed,
    long[] stops,
    boolean tokensAsIds,
    boolean logprobs) {

  static CompletionRequest parse(
      JsonNode body, String servedName, TextTokenizer tokenizer, long[] eosIds) {
    String name = body.path("model").asText(servedName);
    List<long[]> prompts = prompts(body.get("prompt"), tokenizer);
    int n = body.path("n").asInt(1);
    int maxTokens = body.path("max_tokens").asInt(16);
    double temperature = body.path("temperature").asDouble(1.0);
    long seed =
        body.hasNonNull("seed")
            ? body.get("seed").asLong()
            : ThreadLocalRandom.current().nextLong();
    if (n < 1) {
      throw new CompletionsServer.BadRequest(400, "n must be >= 1, got " + n);
    }
    // unseeded: the seeds travel per prompt, so requests that differ only in them share a batch
    SamplingParams params =
        new SamplingParams(
            maxTokens,
            temperature <= 0 ? 1.0 : temperature,
            Math.max(0, body.path("top_k").asInt(0)),
            body.path("top_p").asDouble(1.0),
            temperature <= 0,
            body.path("ignore_eos").asBoolean(false),
            0);
    long[] stops = eosIds;
    if (body.has("stop_token_ids") && body.get("stop_token_ids").isArray()) {
      LongStream extra =
          LongStream.range(0, body.get("stop_token_ids").size())
              .map(i -> body.get("stop_token_ids").get((int) i).asLong());
      stops = LongStream.concat(Arrays.stream(eosIds), extra).distinct().toArray();
    }
    boolean ids = body.path("return_tokens_as_token_ids").asBoolean(false);
    boolean withLogprobs = body.hasNonNull("logprobs");
    return new CompletionRequest(name, prompts, n, params, seed, stops, ids, withLogprobs);
  }

  /** A prompt as OpenAI's completions API takes it: ids, a list of id lists, or text. */
  private static List<long[]> prompts(JsonNode p, TextTokenizer tokenizer) {
    if (p == null || p.isNull()) {
      throw new CompletionsServer.BadRequest(400, "\"prompt\" is required");
    }
    List<long[]> out = new ArrayList<>();
    if (p.isTextual()) {
      if (tokenizer == null) {
        throw new CompletionsServer.BadRequest(
            400, "this model has no tokenizer: send \"prompt\" as token ids");
      }
      out.add(tokenizer.encode(p.asText(), true));
    } else if (p.isArray() && p.size() > 0 && p.get(0).isArray()) {
      for (JsonNode one : p) {
        out.add(ids(one));
      }
    } else if (p.isArray()) {
      out.add(ids(p));
    } else {
      throw new CompletionsServer.BadRequest(
          400, "\"prompt\" must be token ids or text, got " + p.getNodeType());
    }
    for (long[] ids : out) {
      if (ids.length == 0) {
        throw new CompletionsServer.BadRequest(400, "\"prompt\" is empty");
      }
    }
    return out;
  }

  private static long[] ids(JsonNode list) {
    long[] ids = new long[list.size()];
    for (int i = 0; i < ids.length; i++) {
      if (!list.get(i).canConvertToLong()) {
        throw new CompletionsServer.BadRequest(
            400, "prompt[" + i + "] is " + list.get(i) + ", not a token id");
      }
      ids[i] = list.get(i).asLong();
    }
    return ids;
  }
}
