package ai.tilt.model;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;
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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;

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
 *       weights; answers {@code {"success": true|false, "message": ...}}.
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

  private final String servedName;
  private final TextTokenizer tokenizer; // may be null: token ids only
  private final long[] eosIds;
  private final Device device;
  private final Precision precision;
  private final HttpServer http;
  private final ExecutorService pool;
  private final Map<String, Lora> adapters = new LinkedHashMap<>();
  private final Object lock = new Object();
  private final BlockingDeque<Job> queue = new LinkedBlockingDeque<>();
  private final Thread worker;
  private CausalLM model;
  private final AtomicLong served = new AtomicLong();
  private final AtomicLong batches = new AtomicLong();

  /** Requests that can share a batch: same model, n, sampling settings and stop ids. */
  private record JobKey(String model, int n, SamplingParams params, List<Long> stops) {}

  /** One request's prompts and their seeds, answered through {@code result}. */
  private record Job(
      JobKey key,
      List<long[]> prompts,
      long[] seeds,
      CompletableFuture<List<Generator.Generation>> result) {
    int rows() {
      return prompts.size() * key.n();
    }
  }

  private static final int MAX_BATCH_ROWS = 256;
  private static final long LINGER_MS = 3; // lets the rest of a burst of requests arrive

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
    this.tokenizer = tokenizer;
    this.servedName = servedName;
    this.eosIds = eosIds.clone();
    this.device = device;
    this.precision = precision;
    this.http = HttpServer.create(address, 64);
    this.pool = Executors.newFixedThreadPool(8);
    http.setExecutor(pool);
    worker = new Thread(this::work, "tilt-serve-batcher");
    worker.setDaemon(true);
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
    worker.start();
    http.start();
  }

  /**
   * Runs queued requests as batches: the first waiting request with every later one that shares its
   * key, up to {@value #MAX_BATCH_ROWS} rows. Each row samples from its own (seed, choice) stream,
   * so batching changes no request's tokens.
   */
  private void work() {
    while (!Thread.currentThread().isInterrupted()) {
      List<Job> batch = new ArrayList<>();
      try {
        batch.add(queue.take());
        Thread.sleep(LINGER_MS);
      } catch (InterruptedException e) {
        return;
      }
      int rows = batch.get(0).rows();
      for (Iterator<Job> it = queue.iterator(); it.hasNext(); ) {
        Job j = it.next();
        if (j.key().equals(batch.get(0).key()) && rows + j.rows() <= MAX_BATCH_ROWS) {
          batch.add(j);
          rows += j.rows();
          it.remove();
        }
      }
      try {
        run(batch);
      } catch (RuntimeException e) {
        batch.forEach(j -> j.result().completeExceptionally(e));
      }
    }
  }

  private void run(List<Job> batch) {
    JobKey key = batch.get(0).key();
    List<long[]> prompts = new ArrayList<>();
    List<Long> seeds = new ArrayList<>();
    for (Job j : batch) {
      prompts.addAll(j.prompts());
      Arrays.stream(j.seeds()).forEach(seeds::add);
    }
    List<Generator.Generation> gens;
    synchronized (lock) {
      Lora adapter = null;
      if (!key.model().equals(servedName)) {
        adapter = adapters.get(key.model());
        if (adapter == null) { // unloaded since the request came in
          throw new BadRequest(404, "the model '" + key.model() + "' does not exist");
        }
      }
      model.setLora(adapter);
      boolean grad = JniUtils.isGradMode(); // per thread; off: no LoRA dropout, no graph
      JniUtils.setGradMode(false);
      try {
        long[] stops = key.stops().stream().mapToLong(Long::longValue).toArray();
        gens =
            new Generator(model, stops)
                .generateGroups(
                    prompts,
                    key.n(),
                    key.params(),
                    seeds.stream().mapToLong(Long::longValue).toArray());
      } finally {
        JniUtils.setGradMode(grad);
        model.setLora(null);
      }
    }
    batches.incrementAndGet();
    int at = 0;
    for (Job j : batch) {
      j.result().complete(gens.subList(at, at + j.rows()));
      at += j.rows();
    }
  }

  /** Batches run so far (requests that arrived together share one). */
  long batches() {
    return batches.get();
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
    synchronized (lock) {
      for (String name : adapters.keySet()) {
        data.addObject().put("id", name).put("object", "model").put("parent", servedName);
      }
    }
    return root;
  }

  private JsonNode complete(JsonNode body) {
    String name = body.path("model").asText(servedName);
    List<long[]> prompts = prompts(body.get("prompt"));
    int n = body.path("n").asInt(1);
    int maxTokens = body.path("max_tokens").asInt(16);
    double temperature = body.path("temperature").asDouble(1.0);
    long seed =
        body.hasNonNull("seed")
            ? body.get("seed").asLong()
            : ThreadLocalRandom.current().nextLong();
    if (n < 1) {
      throw new BadRequest(400, "n must be >= 1, got " + n);
    }
    SamplingParams params =
        new SamplingParams(
            maxTokens,
            temperature <= 0 ? 1.0 : temperature,
            Math.max(0, body.path("top_k").asInt(0)),
            body.path("top_p").asDouble(1.0),
            temperature <= 0,
            body.path("ignore_eos").asBoolean(false),
            seed);
    long[] stops = eosIds;
    if (body.has("stop_token_ids") && body.get("stop_token_ids").isArray()) {
      LongStream extra =
          LongStream.range(0, body.get("stop_token_ids").size())
              .map(i -> body.get("stop_token_ids").get((int) i).asLong());
      stops = LongStream.concat(Arrays.stream(eosIds), extra).distinct().toArray();
    }
    boolean ids = body.path("return_tokens_as_token_ids").asBoolean(false);
    boolean withLogprobs = body.hasNonNull("logprobs");
    synchronized (lock) {
      if (!name.equals(servedName) && !adapters.containsKey(name)) {
        throw new BadRequest(404, "the model '" + name + "' does not exist");
      }
      int vocab = model.config().vocabSize();
      for (long[] p : prompts) {
        for (long id : p) {
          if (id < 0 || id >= vocab) {
            throw new BadRequest(
                400, "token id " + id + " is outside the vocabulary (" + vocab + ")");
          }
        }
      }
    }
    long[] seeds = new long[prompts.size()];
    for (int p = 0; p < seeds.length; p++) {
      seeds[p] = p == 0 ? seed : Generator.groupSeed(seed, p);
    }
    SamplingParams unseeded =
        new SamplingParams(
            params.maxNewTokens(),
            params.temperature(),
            params.topK(),
            params.topP(),
            params.greedy(),
            params.ignoreEos(),
            0);
    Job job =
        new Job(
            new JobKey(name, n, unseeded, Arrays.stream(stops).boxed().toList()),
            prompts,
            seeds,
            new CompletableFuture<>());
    queue.add(job);
    List<Generator.Generation> gens;
    try {
      gens = job.result().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
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

  /** A prompt as OpenAI's completions API takes it: ids, a list of id lists, or text. */
  private List<long[]> prompts(JsonNode p) {
    if (p == null || p.isNull()) {
      throw new BadRequest(400, "\"prompt\" is required");
    }
    List<long[]> out = new ArrayList<>();
    if (p.isTextual()) {
      if (tokenizer == null) {
        throw new BadRequest(400, "this model has no tokenizer: send \"prompt\" as token ids");
      }
      out.add(tokenizer.encode(p.asText(), true));
    } else if (p.isArray() && p.size() > 0 && p.get(0).isArray()) {
      for (JsonNode one : p) {
        out.add(ids(one));
      }
    } else if (p.isArray()) {
      out.add(ids(p));
    } else {
      throw new BadRequest(400, "\"prompt\" must be token ids or text, got " + p.getNodeType());
    }
    for (long[] ids : out) {
      if (ids.length == 0) {
        throw new BadRequest(400, "\"prompt\" is empty");
      }
    }
    return out;
  }

  private static long[] ids(JsonNode list) {
    long[] ids = new long[list.size()];
    for (int i = 0; i < ids.length; i++) {
      if (!list.get(i).canConvertToLong()) {
        throw new BadRequest(400, "prompt[" + i + "] is " + list.get(i) + ", not a token id");
      }
      ids[i] = list.get(i).asLong();
    }
    return ids;
  }

  private JsonNode updateWeights(JsonNode body) {
    String dir = body.path("model_path").asText(null);
    ObjectNode out = JSON.createObjectNode();
    if (dir == null || !Files.isRegularFile(Path.of(dir, "config.json"))) {
      return out.put("success", false).put("message", "model_path " + dir + " has no config.json");
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
      adapters.values().forEach(Lora::close); // they were made for the old weights
      adapters.clear();
      old.close();
    }
    return out.put("success", true).put("message", "loaded " + dir);
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
    return JSON.createObjectNode().put("success", true).put("message", "loaded " + name);
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
    worker.interrupt();
    pool.shutdownNow();
    synchronized (lock) {
      adapters.values().forEach(Lora::close);
      adapters.clear();
      model.close();
    }
  }
}
