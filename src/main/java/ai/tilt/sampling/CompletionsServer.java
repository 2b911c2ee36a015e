package ai.tilt.sampling;

import ai.djl.Device;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Lora;
import ai.tilt.model.LoraFiles;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.NoGrad;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Tilt's OpenAI-compatible inference server ({@code tilt serve}): the routes on-policy training
 * needs, with vLLM's and SGLang's request and response shapes, so the trainer's {@link
 * CompletionsClient} talks to it exactly as to them.
 *
 * <ul>
 *   <li>{@code POST /v1/completions}: {@code prompt} as token ids (or text, with a tokenizer),
 *       {@code n}, {@code max_tokens}, {@code temperature} (0: greedy), {@code top_p}, {@code
 *       top_k}, {@code seed}, {@code logprobs}, {@code stop_token_ids}, {@code ignore_eos}, {@code
 *       return_tokens_as_token_ids}. Choice k of a request with seed s draws from stream (s, k), as
 *       on-policy collection in the trainer does, so both sample the same tokens.
 *   <li>{@code POST /update_weights_from_disk} {@code {"model_path": DIR}} (SGLang's): reloads the
 *       weights; answers {@code {"success": true|false, "message": ...}}, and {@code
 *       weights_checksum} when the directory has a {@link WeightsManifest}, whose files it checks
 *       first (a torn or stale copy is refused).
 *   <li>{@code POST /v1/load_lora_adapter}, {@code /v1/unload_lora_adapter} (vLLM's; also without
 *       {@code /v1}, SGLang's): {@code {"lora_name", "lora_path"}}; requests then name the adapter
 *       as their {@code model}.
 *   <li>{@code GET /health}, {@code GET /v1/models}.
 * </ul>
 *
 * <p>Requests that arrive together and sample alike run as one batch (one prefill per prompt for
 * its n samples); the model runs one batch at a time.
 */
public final class CompletionsServer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int HANDLERS = 64;
  private static final long MAX_WAIT_MINUTES = 30;

  private final String servedName;
  private final TextTokenizer tokenizer; // may be null: token ids only
  private final long[] eosIds;
  private final Device device;
  private final Precision precision;
  private final HttpServer http;
  private final ExecutorService pool;
  private final Map<String, Lora> adapters = new ConcurrentHashMap<>();
  private final Object lock = new Object();
  private final SamplingQueue queue = new SamplingQueue(this::runBatch);
  private final AtomicLong served = new AtomicLong();
  private volatile CausalLM model;
  private volatile int vocabSize;

  public CompletionsServer(
      CausalLM model,
      TextTokenizer tokenizer,
      String servedName,
      long[] eosIds,
      Device device,
      Precision precision,
      InetSocketAddress address)
      throws IOException {
    this.model = model;
    this.vocabSize = model.config().vocabSize();
    this.tokenizer = tokenizer;
    this.servedName = servedName;
    this.eosIds = eosIds.clone();
    this.device = device;
    this.precision = precision;
    this.http = HttpServer.create(address, 64);
    // handlers mostly wait for their batch: enough of them that a trainer's requests all queue
    this.pool = Executors.newFixedThreadPool(HANDLERS);
    http.setExecutor(pool);
    http.createContext("/health", ex -> handle(ex, "GET", body -> JSON.createObjectNode()));
    http.createContext("/v1/models", ex -> handle(ex, "GET", body -> models()));
    http.createContext("/v1/completions", ex -> handle(ex, "POST", this::complete));
    http.createContext("/update_weights_from_disk", ex -> handle(ex, "POST", this::updateWeights));
    for (String prefix : new String[] {"", "/v1"}) {
      http.createContext(prefix + "/load_lora_adapter", ex -> handle(ex, "POST", this::loadLora));
      http.createContext(
          prefix + "/unload_lora_adapter", ex -> handle(ex, "POST", this::unloadLora));
    }
  }

  public void start() {
    queue.start();
    http.start();
  }

  /** One batch on the model: the lock keeps weight and adapter changes out of it. */
  private List<Generator.Generation> runBatch(
      SamplingQueue.Key key, List<long[]> prompts, long[] seeds) {
    synchronized (lock) {
      Lora adapter = null;
      if (!key.model().equals(servedName)) {
        adapter = adapters.get(key.model());
        if (adapter == null) { // unloaded since the request came in
          throw new BadRequest(404, "the model '" + key.model() + "' does not exist");
        }
      }
      model.setLora(adapter);
      // grad mode is per thread; off: no LoRA dropout, no graph
      try (NoGrad off = NoGrad.enter()) {
        long[] stops = key.stops().stream().mapToLong(Long::longValue).toArray();
        return new Generator(model, stops).generateGroups(prompts, key.n(), key.params(), seeds);
      } finally {
        model.setLora(null);
      }
    }
  }

  /** Batches run so far (requests that arrived together share one). */
  long batches() {
    return queue.batches();
  }

  public int port() {
    return http.getAddress().getPort();
  }

  /** A request the client got wrong: answered 400 with the message. */
  static final class BadRequest extends RuntimeException {
    final int status;

    BadRequest(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  private interface Route {
    JsonNode answer(JsonNode body) throws IOException;
  }

  private void handle(HttpExchange ex, String method, Route route) throws IOException {
    int status = 200;
    JsonNode out;
    try {
      if (!ex.getRequestMethod().equals(method)) {
        throw new BadRequest(405, ex.getRequestURI().getPath() + " takes " + method);
      }
      JsonNode body = null;
      if (method.equals("POST")) {
        try (InputStream in = ex.getRequestBody()) {
          body = JSON.readTree(in);
        } catch (JsonProcessingException e) {
          throw new BadRequest(400, "the body is not JSON: " + e.getOriginalMessage());
        }
        if (body == null || !body.isObject()) {
          throw new BadRequest(400, "the body must be a JSON object");
        }
      }
      out = route.answer(body);
    } catch (BadRequest e) {
      status = e.status;
      out = error(e.getMessage(), status);
    } catch (IllegalArgumentException e) {
      status = 400;
      out = error(e.getMessage(), status);
    } catch (RuntimeException | IOException e) {
      status = 500;
      out = error(e.toString(), status);
    }
    byte[] bytes = JSON.writeValueAsBytes(out);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(bytes);
    }
  }

  private static ObjectNode error(String message, int code) {
    ObjectNode e = JSON.createObjectNode().put("object", "error");
    e.put("message", message).put("type", code < 500 ? "BadRequestError" : "InternalServerError");
    return e.put("code", code);
  }

  private JsonNode models() {
    ObjectNode root = JSON.createObjectNode().put("object", "list");
    ArrayNode data = root.putArray("data");
    data.addObject().put("id", servedName).put("object", "model").put("owned_by", "tilt");
    for (String name : adapters.keySet()) {
      data.addObject().put("id", name).put("object", "model").put("parent", servedName);
    }
    return root;
  }

  private JsonNode complete(JsonNode body) {
    CompletionRequest req = CompletionRequest.parse(body, servedName, tokenizer, eosIds);
    String name = req.model();
    List<long[]> prompts = req.prompts();
    int n = req.n();
    SamplingParams params = req.params();
    long seed = req.seed();
    long[] stops = req.stops();
    boolean ids = req.tokensAsIds();
    boolean withLogprobs = req.logprobs();
    if (!name.equals(servedName) && !adapters.containsKey(name)) {
      throw new BadRequest(404, "the model '" + name + "' does not exist");
    }
    int vocab = vocabSize;
    for (long[] p : prompts) {
      for (long id : p) {
        if (id < 0 || id >= vocab) {
          throw new BadRequest(
              400, "token id " + id + " is outside the vocabulary (" + vocab + ")");
        }
      }
    }
    long[] seeds = new long[prompts.size()];
    for (int p = 0; p < seeds.length; p++) {
      seeds[p] = p == 0 ? seed : Generator.groupSeed(seed, p);
    }
    SamplingQueue.Key key =
        new SamplingQueue.Key(name, n, params, Arrays.stream(stops).boxed().toList());
    List<Generator.Generation> gens;
    try {
      gens = queue.submit(key, prompts, seeds).get(MAX_WAIT_MINUTES, TimeUnit.MINUTES);
    } catch (TimeoutException e) {
      throw new IllegalStateException(
          "no batch finished this request within " + MAX_WAIT_MINUTES + " minutes");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause().toString(), e.getCause());
    }
    long number = served.incrementAndGet();
    ObjectNode root = JSON.createObjectNode();
    root.put("id", "cmpl-tilt-" + number).put("object", "text_completion");
    root.put("created", System.currentTimeMillis() / 1000).put("model", name);
    ArrayNode choices = root.putArray("choices");
    long completionTokens = 0;
    for (int i = 0; i < gens.size(); i++) {
      Generator.Generation g = gens.get(i);
      completionTokens += g.completionIds().length;
      ObjectNode c = choices.addObject().put("index", i);
      c.put("text", tokenizer == null ? "" : tokenizer.decode(g.completionIds(), true));
      if (withLogprobs) {
        ObjectNode lp = c.putObject("logprobs");
        ArrayNode tokens = lp.putArray("tokens");
        ArrayNode logps = lp.putArray("token_logprobs");
        for (int t = 0; t < g.completionIds().length; t++) {
          long id = g.completionIds()[t];
          tokens.add(
              ids || tokenizer == null
                  ? "token_id:" + id
                  : tokenizer.decode(new long[] {id}, false));
          logps.add(g.logprobs()[t]);
        }
      } else {
        c.putNull("logprobs");
      }
      c.put("finish_reason", g.finishReason() == Generator.FinishReason.EOS ? "stop" : "length");
    }
    long promptTokens = prompts.stream().mapToLong(p -> p.length).sum();
    root.putObject("usage")
        .put("prompt_tokens", promptTokens)
        .put("completion_tokens", completionTokens)
        .put("total_tokens", promptTokens + completionTokens);
    return root;
  }

  private JsonNode updateWeights(JsonNode body) {
    String dir = body.path("model_path").asText(null);
    ObjectNode out = JSON.createObjectNode();
    if (dir == null || !Files.isRegularFile(Path.of(dir, "config.json"))) {
      return out.put("success", false).put("message", "model_path " + dir + " has no config.json");
    }
    String checksum;
    try {
      checksum = WeightsManifest.verify(Path.of(dir));
    } catch (IOException e) {
      return out.put("success", false).put("message", "refusing " + dir + ": " + e.getMessage());
    }
    CausalLM fresh;
    try {
      fresh = ModelFiles.load(Path.of(dir), device, precision);
    } catch (IOException | RuntimeException e) {
      return out.put("success", false).put("message", "cannot load " + dir + ": " + e.getMessage());
    }
    synchronized (lock) {
      ModelConfig a = model.config();
      ModelConfig b = fresh.config();
      if (a.vocabSize() != b.vocabSize()
          || a.hiddenSize() != b.hiddenSize()
          || a.numLayers() != b.numLayers()) {
        fresh.close();
        return out.put("success", false)
            .put("message", dir + " holds another architecture than the served model");
      }
      CausalLM old = model;
      model = fresh;
      vocabSize = b.vocabSize();
      adapters.values().forEach(Lora::close); // they were made for the old weights
      adapters.clear();
      old.close();
    }
    out.put("success", true).put("message", "loaded " + dir);
    return checksum == null ? out : out.put("weights_checksum", checksum);
  }

  private JsonNode loadLora(JsonNode body) throws IOException {
    String name = body.path("lora_name").asText(null);
    String dir = body.path("lora_path").asText(null);
    if (name == null || dir == null) {
      throw new BadRequest(400, "lora_name and lora_path are required");
    }
    if (!LoraFiles.isAdapter(Path.of(dir))) {
      throw new BadRequest(400, "lora_path " + dir + " has no " + LoraFiles.CONFIG);
    }
    String checksum;
    try {
      checksum = WeightsManifest.verify(Path.of(dir));
    } catch (IOException e) {
      throw new BadRequest(400, "refusing " + dir + ": " + e.getMessage());
    }
    synchronized (lock) {
      if (name.equals(servedName) || adapters.containsKey(name)) {
        throw new BadRequest(400, "the adapter '" + name + "' is already loaded");
      }
      try {
        adapters.put(name, LoraFiles.load(model, Path.of(dir), servedName));
      } finally {
        model.setLora(null);
      }
    }
    ObjectNode done = JSON.createObjectNode().put("success", true).put("message", "loaded " + name);
    return checksum == null ? done : done.put("weights_checksum", checksum);
  }

  private JsonNode unloadLora(JsonNode body) {
    String name = body.path("lora_name").asText(null);
    synchronized (lock) {
      Lora lora = name == null ? null : adapters.remove(name);
      if (lora == null) {
        throw new BadRequest(404, "no adapter named '" + name + "' is loaded");
      }
      lora.close();
    }
    return JSON.createObjectNode().put("success", true).put("message", "unloaded " + name);
  }

  @Override
  public void close() {
    http.stop(0);
    queue.close(); // the running batch finishes first: the model is not closed under it
    pool.shutdownNow();
    synchronized (lock) {
      adapters.values().forEach(Lora::close);
      adapters.clear();
      model.close();
    }
  }
}
