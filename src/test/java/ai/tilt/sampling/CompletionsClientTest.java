package ai.tilt.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The server client against a scripted loopback server: the request carries what vLLM documents,
 * the response's documented fields are read back in choice order, failures are retried with
 * doubling backoff and end in an error naming the URL, the prompt and what was wrong.
 */
class CompletionsClientTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private HttpServer server;
  private final List<JsonNode> bodies = Collections.synchronizedList(new ArrayList<>());
  private final List<Long> sleeps = Collections.synchronizedList(new ArrayList<>());
  private final AtomicInteger calls = new AtomicInteger();

  /** A reply: status and body, from the request's body and the call's number (0-based). */
  record Reply(int status, String body) {}

  private URI serve(Function<Integer, Reply> script, int threads) throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    server.setExecutor(Executors.newFixedThreadPool(threads));
    server.createContext(
        "/v1/completions",
        ex -> {
          bodies.add(JSON.readTree(ex.getRequestBody()));
          respond(ex, script.apply(calls.getAndIncrement()));
        });
    server.start();
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  private static void respond(HttpExchange ex, Reply r) throws IOException {
    byte[] b = r.body().getBytes(StandardCharsets.UTF_8);
    ex.sendResponseHeaders(r.status(), b.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(b);
    }
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.stop(0);
    }
  }

  private CompletionsClient client(URI url, int retries, double timeoutS, int concurrency) {
    return new CompletionsClient(
        new CompletionsClient.Settings(
            url,
            "policy",
            concurrency,
            Duration.ofMillis((long) (timeoutS * 1000)),
            retries,
            Duration.ofMillis(100),
            new long[] {2}),
        sleeps::add);
  }

  /** n choices, listed in reverse index order; choice k has tokens [10k+1 .. 10k+len]. */
  static String choices(int n, int len) {
    StringBuilder sb = new StringBuilder("{\"choices\": [");
    for (int k = n - 1; k >= 0; k--) {
      sb.append("{\"index\": ").append(k).append(", \"text\": \"\", \"logprobs\": {\"tokens\": [");
      for (int t = 0; t < len; t++) {
        sb.append(t == 0 ? "" : ", ").append("\"token_id:").append(10 * k + t + 1).append('"');
      }
      sb.append("], \"token_logprobs\": [");
      for (int t = 0; t < len; t++) {
        sb.append(t == 0 ? "" : ", ").append(-0.5 * (t + 1));
      }
      sb.append("]}, \"finish_reason\": \"").append(k == 0 ? "stop" : "length").append("\"}");
      sb.append(k == 0 ? "" : ", ");
    }
    return sb.append("]}").toString();
  }

  private static final SamplingParams PARAMS = new SamplingParams(8, 0.7, 5, 0.9, false, false, 0);

  @Test
  void sendsTokenIdsAndReadsChoicesInIndexOrder() throws IOException {
    URI url = serve(i -> new Reply(200, choices(3, 2)), 2);
    try (CompletionsClient c = client(url, 0, 5, 2)) {
      List<Generator.Generation> g =
          c.generateGroups(
              List.of(new long[] {5, 6, 7}, new long[] {8}), 3, PARAMS, new long[] {11, 22});
      assertEquals(6, g.size());
      assertArrayEquals(new long[] {1, 2}, g.get(0).completionIds());
      assertArrayEquals(new long[] {21, 22}, g.get(2).completionIds()); // index 2, listed first
      assertArrayEquals(new float[] {-0.5f, -1.0f}, g.get(1).logprobs());
      assertEquals(Generator.FinishReason.EOS, g.get(0).finishReason());
      assertEquals(Generator.FinishReason.LENGTH, g.get(1).finishReason());
    }
    assertEquals(2, bodies.size());
    JsonNode first =
        bodies.stream().filter(b -> b.get("prompt").size() == 3).findFirst().orElseThrow();
    assertEquals("[5,6,7]", first.get("prompt").toString());
    assertEquals(3, first.get("n").asInt());
    assertEquals(11, first.get("seed").asLong(), "prompt 0 carries its group seed");
    assertEquals(8, first.get("max_tokens").asInt());
    assertEquals(0.7, first.get("temperature").asDouble(), 1e-12);
    assertEquals(5, first.get("top_k").asInt());
    assertEquals(0.9, first.get("top_p").asDouble(), 1e-12);
    assertTrue(first.get("return_tokens_as_token_ids").asBoolean());
    assertEquals(1, first.get("logprobs").asInt());
    assertEquals("[2]", first.get("stop_token_ids").toString());
    assertEquals("policy", first.get("model").asText());
  }

  @Test
  void fiveHundredsAreRetriedWithDoublingBackoff() throws IOException {
    URI url = serve(i -> i < 2 ? new Reply(503, "busy") : new Reply(200, choices(2, 1)), 1);
    try (CompletionsClient c = client(url, 3, 5, 1)) {
      List<Generator.Generation> g =
          c.generateGroups(List.of(new long[] {1}), 2, PARAMS, new long[] {0});
      assertEquals(2, g.size());
    }
    assertEquals(3, calls.get());
    assertEquals(List.of(100L, 200L), sleeps);
  }

  @Test
  void persistentFailureNamesTheUrlThePromptAndTheLastError() throws IOException {
    URI url = serve(i -> new Reply(500, "out of memory"), 1);
    try (CompletionsClient c = client(url, 2, 5, 1)) {
      SamplingServerException e =
          assertThrows(
              SamplingServerException.class,
              () -> c.generateGroups(List.of(new long[] {1}), 2, PARAMS, new long[] {0}));
      assertTrue(e.getMessage().contains(url + "/v1/completions"), e.getMessage());
      assertTrue(e.getMessage().contains("prompt 0"), e.getMessage());
      assertTrue(e.getMessage().contains("failed after 3 attempt(s)"), e.getMessage());
      assertTrue(e.getMessage().contains("HTTP 500: out of memory"), e.getMessage());
    }
    assertEquals(3, calls.get());
  }

  @Test
  void clientErrorsAreNotRetried() throws IOException {
    URI url = serve(i -> new Reply(404, "{\"message\": \"model 'policy' does not exist\"}"), 1);
    try (CompletionsClient c = client(url, 3, 5, 1)) {
      SamplingServerException e =
          assertThrows(
              SamplingServerException.class,
              () -> c.generateGroups(List.of(new long[] {1}), 1, PARAMS, new long[] {0}));
      assertTrue(e.getMessage().contains("HTTP 404 (not retried)"), e.getMessage());
      assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }
    assertEquals(1, calls.get());
  }

  @Test
  void aServerThatIsDownIsNamed() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort(); // closed again: nothing listens there
    }
    try (CompletionsClient c = client(URI.create("http://127.0.0.1:" + port), 2, 5, 1)) {
      SamplingServerException e =
          assertThrows(
              SamplingServerException.class,
              () -> c.generateGroups(List.of(new long[] {1}), 1, PARAMS, new long[] {0}));
      assertTrue(e.getMessage().contains("is the server up?"), e.getMessage());
      assertTrue(e.getMessage().contains("failed after 3 attempt(s)"), e.getMessage());
    }
    assertEquals(List.of(100L, 200L), sleeps);
  }

  @Test
  void aSlowServerTimesOutAndIsRetried() throws IOException {
    URI url =
        serve(
            i -> {
              if (i == 0) {
                try {
                  Thread.sleep(1500);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
              return new Reply(200, choices(1, 1));
            },
            2);
    try (CompletionsClient c = client(url, 1, 0.5, 1)) {
      List<Generator.Generation> g =
          c.generateGroups(List.of(new long[] {1}), 1, PARAMS, new long[] {0});
      assertEquals(1, g.size(), "the second attempt answers in time");
    }
    assertEquals(List.of(100L), sleeps);
    try (CompletionsClient c = client(url, 0, 0.5, 1)) {
      calls.set(0);
      SamplingServerException e =
          assertThrows(
              SamplingServerException.class,
              () -> c.generateGroups(List.of(new long[] {1}), 1, PARAMS, new long[] {0}));
      assertTrue(e.getMessage().contains("no response within 0.5 s"), e.getMessage());
    }
  }

  @Test
  void malformedAndShortResponsesNameTheField() throws IOException {
    String[][] cases = {
      {"{\"object\": \"error\"}", "has no \"choices\" list"},
      {choices(1, 2), "has 1 choices for n=2"},
      {
        "{\"choices\": [{\"index\": 0, \"logprobs\": null, \"finish_reason\": \"stop\"},"
            + " {\"index\": 1, \"logprobs\": null, \"finish_reason\": \"stop\"}]}",
        "choices[0].logprobs is missing"
      },
      {choices(2, 1).replace("token_id:1", "Hello"), "ignored return_tokens_as_token_ids"},
      {choices(2, 1).replace("\"length\"", "\"abort\""), "finish_reason is \"abort\""},
      {choices(2, 1).replace("-0.5", "0.5"), "token_logprobs[0] is 0.5"},
      {choices(2, 9), "has 9 tokens and 9 log-probs (max_tokens 8)"},
      {"not json", "is not JSON"},
    };
    String[] reply = new String[1];
    URI url = serve(i -> new Reply(200, reply[0]), 1);
    try (CompletionsClient c = client(url, 3, 5, 1)) {
      for (String[] k : cases) {
        reply[0] = k[0];
        calls.set(0);
        SamplingServerException e =
            assertThrows(
                SamplingServerException.class,
                () -> c.generateGroups(List.of(new long[] {1}), 2, PARAMS, new long[] {0}));
        assertTrue(e.getMessage().contains(k[1]), k[1] + " not in: " + e.getMessage());
        assertEquals(1, calls.get(), "a malformed answer is not retried: " + k[1]);
      }
    }
  }

  @Test
  void requestsRunConcurrentlyUpToTheLimit() throws IOException {
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    URI url =
        serve(
            i -> {
              most.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
              try {
                Thread.sleep(200);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              inFlight.decrementAndGet();
              return new Reply(200, choices(1, 1));
            },
            8);
    List<long[]> prompts = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      prompts.add(new long[] {i + 1});
    }
    try (CompletionsClient c = client(url, 0, 5, 3)) {
      assertEquals(8, c.generateGroups(prompts, 1, PARAMS, new long[8]).size());
    }
    assertEquals(3, most.get(), "max_concurrency 3 keeps three requests in flight");
  }
}
