package ai.tilt.sampling;

import ai.djl.Device;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Precision;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Tilt's OpenAI-compatible inference server ({@code tilt serve}): OpenAI's completion routes, and
 * the weight and adapter routes on-policy training uses in vLLM's and SGLang's shapes, so the
 * trainer's {@link CompletionsClient} talks to it exactly as to them.
 *
 * <ul>
 *   <li>{@code POST /v1/completions} ({@link CompletionRequest}) and {@code /v1/chat/completions}
 *       ({@link ChatRequest}), answered whole or, with {@code stream: true}, as server-sent events
 *       token by token ({@link CompletionAnswers}). Choice k of prompt p with seed s draws from
 *       stream (seed of p, k), as on-policy collection in the trainer does, so both sample the same
 *       tokens.
 *   <li>{@code POST /update_weights_from_disk}, {@code /v1/load_lora_adapter}, {@code
 *       /v1/unload_lora_adapter} (also without {@code /v1}), {@code GET /v1/models} ({@link
 *       ServedWeights}), {@code GET /health}.
 * </ul>
 *
 * <p>Every answer that is not 200 is JSON in OpenAI's error shape ({@link ApiError}): unknown
 * routes 404, wrong methods 405, a missing or wrong Bearer key 401 (every route but {@code
 * /health}, when the server has one), oversized bodies 413 ({@link ServeHttp}). A request whose
 * client goes away is cancelled: it leaves the queue, or its rows leave the running batch. Requests
 * that arrive together and sample alike run as one batch; the model runs one batch at a time.
 */
public final class CompletionsServer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int HANDLERS = 64;
  private static final long MAX_WAIT_MINUTES = 30;

  private final TextTokenizer tokenizer; // may be null: token ids only
  private final long[] eosIds;
  private final ServeLimits limits;
  private final byte[] keyDigest; // null: no key
  private final ServedWeights weights;
  private final ExecutorService pool;
  private final ServeHttp http;
  private final SamplingQueue queue;
  private final AtomicLong served = new AtomicLong();
  private final AtomicLong tokens = new AtomicLong();

  /** A server with no key and the default limits; the address must be a loopback one. */
  public CompletionsServer(
      CausalLM model,
      TextTokenizer tokenizer,
      String servedName,
      long[] eosIds,
      Device device,
      Precision precision,
      InetSocketAddress address)
      throws IOException {
    this(model, tokenizer, servedName, eosIds, device, precision, address, ServeLimits.defaults());
  }

  /**
   * @throws IllegalArgumentException when the address reaches beyond this machine and {@code
   *     limits} has no API key
   */
  public CompletionsServer(
      CausalLM model,
      TextTokenizer tokenizer,
      String servedName,
      long[] eosIds,
      Device device,
      Precision precision,
      InetSocketAddress address,
      ServeLimits limits)
      throws IOException {
    if (limits.apiKey() == null
        && (address.getAddress() == null || !address.getAddress().isLoopbackAddress())) {
      throw new IllegalArgumentException(
          "listening on "
              + address.getHostString()
              + " lets other machines in: give --api-key KEY (or set TILT_API_KEY), or listen on"
              + " 127.0.0.1");
    }
    this.tokenizer = tokenizer;
    this.eosIds = eosIds.clone();
    this.limits = limits;
    this.keyDigest = limits.apiKey() == null ? null : sha256(limits.apiKey());
    this.weights = new ServedWeights(model, servedName, device, precision);
    this.queue = new SamplingQueue(weights::run);
    // handlers mostly wait for their batch: enough of them that a trainer's requests all queue
    this.pool = Executors.newFixedThreadPool(HANDLERS);
    try {
      this.http = new ServeHttp(address, limits.maxRequestBytes(), pool, this::handle);
    } catch (IOException | RuntimeException e) {
      pool.shutdownNow();
      throw e;
    }
  }

  public void start() {
    queue.start();
  }

  public int port() {
    return http.port();
  }

  /** Batches run so far (requests that arrived together share one). */
  long batches() {
    return queue.batches();
  }

  /** Tokens sampled so far, over all requests (a cancelled request stops adding to it). */
  long tokensGenerated() {
    return tokens.get();
  }

  private interface Route {
    JsonNode answer(JsonNode body) throws IOException;
  }

  private void handle(ServeHttp.Call call) {
    try {
      route(call);
    } catch (ApiError e) {
      fail(call, e);
    } catch (RuntimeException | IOException e) {
      fail(call, ApiError.server(e.toString()));
    }
  }

  private void fail(ServeHttp.Call call, ApiError e) {
    if (call.streaming()) { // the status went out with the first event
      call.event(e.body().toString());
      call.event("[DONE]");
      call.endEvents();
      return;
    }
    Map<String, String> headers =
        e.status == 401
            ? Map.of("WWW-Authenticate", "Bearer")
            : e.status == 405 ? Map.of("Allow", methodOf(call.path)) : Map.of();
    call.respond(e.status, e.body().toString().getBytes(StandardCharsets.UTF_8), headers);
  }

  private void route(ServeHttp.Call call) throws IOException {
    if (call.path.equals("/health")) {
      expect(call, "GET");
      ok(call, JSON.createObjectNode());
      return;
    }
    authorize(call);
    switch (call.path) {
      case "/v1/models" -> {
        expect(call, "GET");
        ok(call, weights.models());
      }
      case "/v1/completions" ->
          complete(call, CompletionRequest.parseCompletion(body(call), context()));
      case "/v1/chat/completions" -> complete(call, ChatRequest.parse(body(call), context()));
      case "/update_weights_from_disk" -> post(call, weights::updateWeights);
      case "/load_lora_adapter", "/v1/load_lora_adapter" -> post(call, weights::loadLora);
      case "/unload_lora_adapter", "/v1/unload_lora_adapter" -> post(call, weights::unloadLora);
      default ->
          throw new ApiError(
              404,
              "invalid_request_error",
              null,
              "unknown_url",
              "Invalid URL (" + call.method + " " + call.path + ")");
    }
  }

  private void post(ServeHttp.Call call, Route route) throws IOException {
    ok(call, route.answer(body(call)));
  }

  private void ok(ServeHttp.Call call, JsonNode answer) throws JsonProcessingException {
    call.respond(200, JSON.writeValueAsBytes(answer), Map.of());
  }

  private static String methodOf(String path) {
    return path.equals("/health") || path.equals("/v1/models") ? "GET" : "POST";
  }

  private static void expect(ServeHttp.Call call, String method) {
    if (!call.method.equals(method)) {
      throw new ApiError(
          405,
          "invalid_request_error",
          null,
          "method_not_allowed",
          call.path + " takes " + method + ", not " + call.method);
    }
  }

  private JsonNode body(ServeHttp.Call call) {
    expect(call, "POST");
    JsonNode body;
    try {
      body = JSON.readTree(call.body);
    } catch (IOException e) {
      throw ApiError.invalid(
          null,
          "We could not parse the JSON body of your request: "
              + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
    }
    if (body == null || !body.isObject()) {
      throw ApiError.invalid(null, "The request body must be a JSON object.");
    }
    return body;
  }

  /** The Bearer key, compared in constant time (as digests, so its length does not leak). */
  private void authorize(ServeHttp.Call call) {
    if (keyDigest == null) {
      return;
    }
    String header = call.headers.get("Authorization");
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw new ApiError(
          401,
          "invalid_request_error",
          null,
          "missing_api_key",
          "You didn't provide an API key: send it in an Authorization header using Bearer auth"
              + " (Authorization: Bearer YOUR_KEY).");
    }
    if (!MessageDigest.isEqual(keyDigest, sha256(header.substring(7).trim()))) {
      throw new ApiError(
          401, "invalid_request_error", null, "invalid_api_key", "Incorrect API key provided.");
    }
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e); // every JDK has SHA-256
    }
  }

  private CompletionRequest.Server context() {
    var config = weights.config();
    return new CompletionRequest.Server(
        weights.servedName,
        weights::has,
        tokenizer,
        eosIds,
        config.vocabSize(),
        config.maxPositions(),
        limits);
  }

  /**
   * Runs a request: every token goes to its choice as it is sampled (and, streamed, out to the
   * client); the choices end at EOS, a stop string or max_tokens; the client leaving cancels it.
   */
  private void complete(ServeHttp.Call call, CompletionRequest req) throws IOException {
    List<long[]> prompts = req.prompts();
    List<ChoiceState> choices = new ArrayList<>();
    for (int i = 0; i < prompts.size() * req.n(); i++) {
      choices.add(new ChoiceState(i, req, tokenizer));
    }
    CompletionAnswers answers = new CompletionAnswers(req, served.incrementAndGet());
    boolean[] started = new boolean[choices.size()];
    long[] seeds = new long[prompts.size()];
    for (int p = 0; p < seeds.length; p++) {
      seeds[p] = p == 0 ? req.seed() : Generator.groupSeed(req.seed(), p);
    }
    SamplingQueue.Key key =
        new SamplingQueue.Key(
            req.model(),
            req.n(),
            req.params(),
            Arrays.stream(req.stops()).boxed().toList(),
            Math.max(0, req.logprobs()));
    if (req.stream()) {
      call.startEvents();
    }
    SamplingQueue.Job job =
        queue.submit(
            key,
            prompts,
            seeds,
            (row, token, logprob, topIds, topLogprobs) -> {
              tokens.incrementAndGet();
              ChoiceState c = choices.get(row);
              boolean more = c.accept(token, logprob, topIds, topLogprobs);
              if (req.stream()) {
                send(call, answers.chunk(c, !started[row]));
                started[row] = true;
              }
              return more && !call.gone();
            });
    call.onGone(job::cancel);
    List<Generator.Generation> gens;
    try {
      gens = job.result().get(MAX_WAIT_MINUTES, TimeUnit.MINUTES);
    } catch (CancellationException e) {
      return; // the client went away: no one to answer
    } catch (TimeoutException e) {
      job.cancel();
      throw ApiError.server("no batch finished this request within " + MAX_WAIT_MINUTES + " min");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApiError.server("interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ApiError a) {
        throw a;
      }
      throw ApiError.server("generation failed: " + e.getCause());
    }
    for (int i = 0; i < choices.size(); i++) {
      choices.get(i).finish(gens.get(i).finishReason());
    }
    if (!req.stream()) {
      ok(call, answers.full(choices));
      return;
    }
    for (int i = 0; i < choices.size(); i++) {
      send(call, answers.chunk(choices.get(i), !started[i]));
    }
    if (req.includeUsage()) {
      send(call, answers.usageChunk(choices));
    }
    call.event("[DONE]");
    call.endEvents();
  }

  private static void send(ServeHttp.Call call, ObjectNode chunk) {
    if (chunk != null) {
      call.event(chunk.toString());
    }
  }

  @Override
  public void close() {
    http.close();
    queue.close(); // the running batch finishes first: the model is not closed under it
    pool.shutdownNow();
    weights.close();
  }
}
