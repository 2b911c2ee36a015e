package ai.tilt.sampling;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * Samples on an OpenAI-compatible server: one {@code POST /v1/completions} per prompt with the
 * prompt as token ids and {@code n = C}, at most {@code maxConcurrency} in flight. It reads only
 * fields vLLM documents: {@code choices[].index}, {@code finish_reason}, and {@code
 * logprobs.tokens} / {@code logprobs.token_logprobs}, where {@code return_tokens_as_token_ids}
 * makes each token {@code "token_id:N"}. Each prompt's request carries its group seed, so a server
 * that seeds per request (vLLM, SGLang, {@code tilt serve}) samples reproducibly.
 *
 * <p>Connection errors, timeouts, 429 and 5xx are retried with exponential backoff; other statuses,
 * and bodies that lack a documented field, fail at once with the field's path.
 */
public final class CompletionsClient implements GroupGenerator, AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MAX_BACKOFF_MS = 30_000;

  /**
   * @param url the server's root, e.g. http://gpu1:8000 (requests go to url + /v1/completions)
   * @param model the {@code model} of each request: the served name, or a loaded LoRA adapter's
   * @param stopTokenIds sent as {@code stop_token_ids} so the server stops where Tilt's EOS is
   * @param apiKey sent as {@code Authorization: Bearer KEY} on every request; null: none
   */
  public record Settings(
      URI url,
      String model,
      int maxConcurrency,
      Duration timeout,
      int retries,
      Duration backoff,
      long[] stopTokenIds,
      String apiKey) {
    public Settings(
        URI url,
        String model,
        int maxConcurrency,
        Duration timeout,
        int retries,
        Duration backoff,
        long[] stopTokenIds) {
      this(url, model, maxConcurrency, timeout, retries, backoff, stopTokenIds, null);
    }

    @Override
    public String toString() { // never prints the key
      return "Settings[" + url + ", " + model + (apiKey == null ? "" : ", with a key") + "]";
    }
  }

  private final Settings settings;
  private final HttpClient http;
  private final ExecutorService pool;
  private final LongConsumer sleep;
  private volatile String model;

  public CompletionsClient(Settings settings) {
    this(settings, CompletionsClient::sleep);
  }

  CompletionsClient(Settings settings, LongConsumer sleep) {
    this.settings = settings;
    this.model = settings.model();
    this.sleep = sleep;
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(settings.timeout())
            .build();
    this.pool =
        Executors.newFixedThreadPool(
            settings.maxConcurrency(),
            r -> {
              Thread t = new Thread(r, "tilt-completions");
              t.setDaemon(true);
              return t;
            });
  }

  /** The model name requests use from now on (a LoRA adapter's, after loading one). */
  public void setModel(String name) {
    model = name;
  }

  public String model() {
    return model;
  }

  @Override
  public List<Generator.Generation> generateGroups(
      List<long[]> prompts, int samplesPerPrompt, SamplingParams params, long[] groupSeeds) {
    List<Future<List<Generator.Generation>>> pending = new ArrayList<>();
    for (int g = 0; g < prompts.size(); g++) {
      int group = g;
      pending.add(
          pool.submit(
              () ->
                  complete(
                      group, prompts.get(group), samplesPerPrompt, params, groupSeeds[group])));
    }
    List<Generator.Generation> out = new ArrayList<>();
    try {
      for (Future<List<Generator.Generation>> f : pending) {
        out.addAll(f.get());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SamplingServerException("sampling server: interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new SamplingServerException("sampling server: " + e.getCause(), e.getCause());
    } finally {
      pending.forEach(f -> f.cancel(true));
    }
    return out;
  }

  /** The completions request of one prompt: every field is one vLLM documents. */
  ObjectNode request(long[] prompt, int n, SamplingParams params, long seed) {
    ObjectNode body = JSON.createObjectNode();
    body.put("model", model);
    ArrayNode ids = body.putArray("prompt");
    for (long id : prompt) {
      ids.add(id);
    }
    body.put("n", n);
    body.put("max_tokens", params.maxNewTokens());
    body.put("temperature", params.greedy() ? 0.0 : params.temperature());
    body.put("top_p", params.topP());
    if (params.topK() > 0) {
      body.put("top_k", params.topK());
    }
    body.put("seed", seed);
    body.put("logprobs", 1);
    body.put("return_tokens_as_token_ids", true);
    body.put("skip_special_tokens", false);
    ArrayNode stop = body.putArray("stop_token_ids");
    for (long id : settings.stopTokenIds()) {
      stop.add(id);
    }
    if (params.ignoreEos()) {
      body.put("ignore_eos", true);
    }
    return body;
  }

  private List<Generator.Generation> complete(
      int group, long[] prompt, int n, SamplingParams params, long seed) {
    String where = "POST " + endpoint("/v1/completions") + " (prompt " + group + ", n=" + n + ")";
    JsonNode root = post("/v1/completions", request(prompt, n, params, seed), where);
    return parse(root, n, params.maxNewTokens(), where);
  }

  /** The n generations of one response, in choice-index order. */
  static List<Generator.Generation> parse(JsonNode root, int n, int maxTokens, String where) {
    JsonNode choices = root.get("choices");
    if (choices == null || !choices.isArray()) {
      throw malformed(where, "has no \"choices\" list", root);
    }
    if (choices.size() != n) {
      throw malformed(where, "has " + choices.size() + " choices for n=" + n, root);
    }
    Generator.Generation[] out = new Generator.Generation[n];
    for (int i = 0; i < n; i++) {
      JsonNode c = choices.get(i);
      JsonNode index = c.get("index");
      if (index == null || !index.canConvertToInt() || index.asInt() < 0 || index.asInt() >= n) {
        throw malformed(where, "choices[" + i + "].index is " + index + ", not in [0, n)", root);
      }
      int k = index.asInt();
      if (out[k] != null) {
        throw malformed(where, "choices[" + i + "].index " + k + " appears twice", root);
      }
      String path = "choices[" + i + "].logprobs";
      JsonNode lp = c.get("logprobs");
      if (lp == null || !lp.isObject()) {
        throw malformed(where, path + " is missing (the server ignored \"logprobs\")", root);
      }
      JsonNode tokens = lp.get("tokens");
      JsonNode logps = lp.get("token_logprobs");
      if (tokens == null || !tokens.isArray() || logps == null || !logps.isArray()) {
        throw malformed(where, path + " lacks the \"tokens\" and \"token_logprobs\" lists", root);
      }
      if (tokens.size() != logps.size() || tokens.size() > maxTokens) {
        throw malformed(
            where,
            path
                + " has "
                + tokens.size()
                + " tokens and "
                + logps.size()
                + " log-probs (max_tokens "
                + maxTokens
                + ")",
            root);
      }
      long[] ids = new long[tokens.size()];
      float[] lps = new float[tokens.size()];
      for (int t = 0; t < ids.length; t++) {
        String tok = tokens.get(t).asText();
        if (!tok.startsWith("token_id:")) {
          throw malformed(
              where,
              path
                  + ".tokens["
                  + t
                  + "] is '"
                  + tok
                  + "', not 'token_id:N' (the server ignored return_tokens_as_token_ids)",
              root);
        }
        try {
          ids[t] = Long.parseLong(tok.substring("token_id:".length()));
        } catch (NumberFormatException e) {
          throw malformed(where, path + ".tokens[" + t + "] is '" + tok + "'", root);
        }
        JsonNode v = logps.get(t);
        if (!v.isNumber() || !Double.isFinite(v.asDouble()) || v.asDouble() > 1e-4) {
          throw malformed(
              where, path + ".token_logprobs[" + t + "] is " + v + ", not a log-prob", root);
        }
        lps[t] = (float) v.asDouble();
      }
      JsonNode reason = c.get("finish_reason");
      Generator.FinishReason fr;
      if (reason != null && "stop".equals(reason.asText())) {
        fr = Generator.FinishReason.EOS;
      } else if (reason != null && "length".equals(reason.asText())) {
        fr = Generator.FinishReason.LENGTH;
      } else {
        throw malformed(
            where, "choices[" + i + "].finish_reason is " + reason + ", not stop or length", root);
      }
      out[k] = new Generator.Generation(ids, lps, fr);
    }
    return List.of(out);
  }

  /** Tells the server to load the full weights now in {@code dir} (SGLang's and Tilt's route). */
  public JsonNode updateWeightsFromDisk(String path, String dir) {
    ObjectNode body = JSON.createObjectNode().put("model_path", dir);
    JsonNode r = post(path, body, "POST " + endpoint(path) + " (" + dir + ")");
    if (r.has("success") && !r.get("success").asBoolean()) {
      throw new SamplingServerException(
          "POST " + endpoint(path) + ": the server refused the weights in " + dir + ": " + r);
    }
    return r;
  }

  /** Loads a PEFT adapter under {@code name} (vLLM's and SGLang's LoRA route). */
  public JsonNode loadLoraAdapter(String path, String name, String dir) {
    ObjectNode body = JSON.createObjectNode().put("lora_name", name).put("lora_path", dir);
    return post(path, body, "POST " + endpoint(path) + " (" + name + " from " + dir + ")");
  }

  /**
   * Fails naming this server when its answer to a weight update carries a checksum (tilt serve's
   * {@code weights_checksum}) other than the one the trainer wrote; an answer without one is not
   * checked.
   */
  public void checkLoaded(JsonNode answer, String expected, String dir) {
    if (answer != null && answer.hasNonNull("weights_checksum")) {
      String got = answer.get("weights_checksum").asText();
      if (!got.equals(expected)) {
        throw new SamplingServerException(
            settings.url()
                + " loaded weights with checksum "
                + got
                + ", but the trainer wrote "
                + expected
                + " in "
                + dir);
      }
    }
  }

  public void unloadLoraAdapter(String path, String name) {
    ObjectNode body = JSON.createObjectNode().put("lora_name", name);
    post(path, body, "POST " + endpoint(path) + " (" + name + ")");
  }

  private URI endpoint(String path) {
    String base = settings.url().toString();
    return URI.create(
        base.endsWith("/") ? base.substring(0, base.length() - 1) + path : base + path);
  }

  /** One JSON POST with the retry policy; returns the parsed body ({} for a non-JSON 2xx). */
  private JsonNode post(String path, ObjectNode body, String where) {
    byte[] bytes;
    try {
      bytes = JSON.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new SamplingServerException(where + ": cannot write the request", e);
    }
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(endpoint(path))
            .timeout(settings.timeout())
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(bytes));
    if (settings.apiKey() != null) {
      builder.header("Authorization", "Bearer " + settings.apiKey());
    }
    HttpRequest request = builder.build();
    String last = null;
    for (int attempt = 0; attempt <= settings.retries(); attempt++) {
      if (attempt > 0) {
        sleep.accept(
            Math.min(MAX_BACKOFF_MS, settings.backoff().toMillis() << Math.min(attempt - 1, 20)));
      }
      HttpResponse<String> response;
      try {
        response = http.send(request, HttpResponse.BodyHandlers.ofString());
      } catch (HttpTimeoutException e) {
        last = "no response within " + settings.timeout().toMillis() / 1000.0 + " s";
        continue;
      } catch (IOException e) {
        last =
            (e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()))
                + " (is the server up?)";
        continue;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new SamplingServerException(where + ": interrupted");
      }
      int status = response.statusCode();
      if (status >= 500 || status == 429) {
        last = "HTTP " + status + ": " + snippet(response.body());
        continue;
      }
      if (status < 200 || status >= 300) {
        throw new SamplingServerException(
            where + ": HTTP " + status + " (not retried): " + snippet(response.body()));
      }
      try {
        JsonNode root = JSON.readTree(response.body());
        return root == null || !root.isObject() ? JSON.createObjectNode() : root;
      } catch (JsonProcessingException e) {
        if (path.equals("/v1/completions")) {
          throw new SamplingServerException(
              where + ": the response is not JSON: " + snippet(response.body()));
        }
        return JSON.createObjectNode(); // vLLM's adapter routes answer plain text
      }
    }
    throw new SamplingServerException(
        where + ": failed after " + (settings.retries() + 1) + " attempt(s); last: " + last);
  }

  private static SamplingServerException malformed(String where, String what, JsonNode root) {
    return new SamplingServerException(
        where + ": the response " + what + ": " + snippet(root.toString()));
  }

  static String snippet(String body) {
    if (body == null || body.isEmpty()) {
      return "(empty body)";
    }
    return body.length() <= 300 ? body : body.substring(0, 300) + "...";
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SamplingServerException("sampling server: interrupted while waiting to retry");
    }
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}
