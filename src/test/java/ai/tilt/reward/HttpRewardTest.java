package ai.tilt.reward;

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
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The http reward against a local server: protocol, retries, timeouts and response errors. */
class HttpRewardTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration FAST =
      Duration.ofMillis(10); // backoff for tests; the public create() uses 0.5 s

  /** One scripted reply: a status and body, or (status 0) rewards computed from the request. */
  record Reply(int status, String body, long delayMs) {}

  HttpServer server;
  ExecutorService pool;
  final ArrayDeque<Reply> script = new ArrayDeque<>();
  final List<JsonNode> requests = new CopyOnWriteArrayList<>();
  final List<Map<String, List<String>>> headers = new CopyOnWriteArrayList<>();
  final List<Long> sleeps = new CopyOnWriteArrayList<>(); // backoffs asked for, in ms
  String url;

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    pool = Executors.newCachedThreadPool();
    server.setExecutor(pool);
    server.createContext("/score", this::handle);
    server.start();
    url = "http://127.0.0.1:" + server.getAddress().getPort() + "/score";
  }

  @AfterEach
  void stop() {
    server.stop(0);
    pool.shutdownNow(); // wakes handlers still sleeping past a client timeout
  }

  private void handle(HttpExchange ex) throws IOException {
    JsonNode req = JSON.readTree(ex.getRequestBody().readAllBytes());
    requests.add(req);
    headers.add(Map.copyOf(ex.getRequestHeaders()));
    Reply r;
    synchronized (script) {
      r = script.isEmpty() ? new Reply(0, null, 0) : script.poll();
    }
    if (r.delayMs() > 0) {
      try {
        Thread.sleep(r.delayMs());
      } catch (InterruptedException e) {
        ex.close();
        return;
      }
    }
    String body = r.body();
    int status = r.status();
    if (status == 0) { // reward = characters of the completion + 0.5 if finished
      StringBuilder sb = new StringBuilder("{\"rewards\": [");
      for (int i = 0; i < req.get("completions").size(); i++) {
        sb.append(i == 0 ? "" : ", ")
            .append(
                req.get("completions").get(i).asText().length()
                    + (req.get("finished").get(i).asBoolean() ? 0.5 : 0));
      }
      body = sb.append("], \"model\": \"test\"}").toString();
      status = 200;
    }
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  void reply(int status, String body) {
    script.add(new Reply(status, body, 0));
  }

  Reward reward(double timeoutS, int retries, int batchSize) {
    return new HttpReward(url, timeoutS, retries, batchSize, Map.of())
        .create(name -> null, FAST, sleeps::add);
  }

  static RewardInput item(String completion, boolean finished) {
    return new RewardInput(
        JSON.createObjectNode().put("answer", "x"),
        "p",
        new long[] {1, 2},
        completion,
        finished ? new long[] {7, 2} : new long[] {7},
        finished);
  }

  static String error(Reward r, List<RewardInput> batch) {
    return assertThrows(RewardException.class, () -> r.score(batch)).getMessage();
  }

  @Test
  void postsTheProtocolInBatchesAndKeepsOrder() {
    Map<String, String> h = Map.of("Authorization", "Bearer ${TOKEN}", "X-Run", "tilt");
    Reward r =
        new HttpReward(url, null, null, 2, h)
            .create(name -> name.equals("TOKEN") ? "s3cret" : null, FAST, sleeps::add);
    double[] got = r.score(List.of(item("abc", true), item("hello", false), item("", true)));
    assertArrayEquals(new double[] {3.5, 5, 0.5}, got, 0.0);
    assertEquals(2, requests.size()); // batch_size 2: items 0-1, then item 2
    JsonNode first = requests.get(0);
    assertEquals("[\"p\",\"p\"]", first.get("prompts").toString());
    assertEquals("[\"abc\",\"hello\"]", first.get("completions").toString());
    assertEquals("[{\"answer\":\"x\"},{\"answer\":\"x\"}]", first.get("records").toString());
    assertEquals("[[1,2],[1,2]]", first.get("prompt_ids").toString());
    assertEquals("[[7,2],[7]]", first.get("completion_ids").toString());
    assertEquals("[true,false]", first.get("finished").toString());
    assertEquals(1, requests.get(1).get("completions").size());
    assertEquals(List.of("Bearer s3cret"), headers.get(0).get("Authorization"));
    assertEquals(List.of("tilt"), headers.get(0).get("X-run"));
    assertEquals(List.of("application/json"), headers.get(0).get("Content-type"));
    // text-only inputs send null ids
    r.score(List.of(RewardInput.ofText(null, "xy")));
    assertEquals("[null]", requests.get(2).get("completion_ids").toString());
    assertEquals("[null]", requests.get(2).get("prompts").toString());
  }

  @Test
  void a503IsRetriedWithBackoff() {
    reply(503, "warming up");
    reply(503, "still warming up");
    try (Reward r =
        new HttpReward(url, 5.0, 2, null, null)
            .create(n -> null, HttpScorer.DEFAULT_BACKOFF, sleeps::add)) {
      assertArrayEquals(new double[] {3}, r.score(List.of(item("abc", false))), 0.0);
    }
    assertEquals(3, requests.size());
    assertEquals(List.of(500L, 1000L), sleeps, "0.5 s, then twice that");
    reply(429, "slow down");
    assertArrayEquals(new double[] {1}, reward(5, 1, 64).score(List.of(item("a", false))), 0.0);
    assertEquals(5, requests.size());
    assertEquals(List.of(500L, 1000L, 10L), sleeps, "429 is retried too (test backoff 10 ms)");
  }

  @Test
  void a400FailsAtOnceNamingStatusUrlAndBody() {
    reply(400, "bad request: " + "x".repeat(300));
    String msg = error(reward(5, 3, 64), List.of(item("a", false)));
    assertEquals(1, requests.size(), "not retried");
    assertTrue(
        msg.contains(url) && msg.contains("HTTP 400") && msg.contains("bad request: xxx"), msg);
    assertTrue(
        msg.contains("x".repeat(187) + "...") && !msg.contains("x".repeat(188)),
        "body cut at 200 chars: " + msg);
  }

  @Test
  void serverErrorsAndTimeoutsFailAfterTheRetries() {
    reply(500, "boom");
    reply(502, "still boom");
    String msg = error(reward(5, 1, 64), List.of(item("a", false)));
    assertTrue(
        msg.contains("failed after 2 attempt")
            && msg.contains("HTTP 502: still boom")
            && msg.contains(url),
        msg);
    assertEquals(2, requests.size());

    // replies slower than the client's timeout: both attempts time out, none of them scores
    script.add(new Reply(200, "{\"rewards\": [1]}", 2000));
    script.add(new Reply(200, "{\"rewards\": [1]}", 2000));
    msg = error(reward(0.3, 1, 64), List.of(item("a", false)));
    assertTrue(
        msg.contains("failed after 2 attempt") && msg.contains("no response within 0.3 s"), msg);
    assertEquals(4, requests.size());
  }

  @Test
  void aDeadServerIsRetriedThenNamed() {
    server.stop(0);
    String msg = error(reward(1, 1, 64), List.of(item("a", false)));
    assertTrue(
        msg.contains(url)
            && msg.contains("failed after 2 attempt")
            && msg.contains("ConnectException"),
        msg);
  }

  @Test
  void badResponsesFailAtOnce() {
    List<RewardInput> two = List.of(item("a", false), item("b", false));
    reply(200, "<html>oops</html>");
    String msg = error(reward(5, 3, 64), two);
    assertTrue(msg.contains("not JSON") && msg.contains("<html>oops"), msg);
    reply(200, "{\"rewards\": [1]}");
    msg = error(reward(5, 3, 64), two);
    assertTrue(msg.contains("1 rewards for 2 completions"), msg);
    reply(200, "{\"scores\": [1, 2]}");
    assertTrue(error(reward(5, 3, 64), two).contains("no \"rewards\" list"));
    reply(200, "{\"rewards\": [1, NaN]}"); // what Python's json.dumps writes for nan
    msg = error(reward(5, 3, 64), two);
    assertTrue(msg.contains("rewards[1] (item 1) is NaN, not a finite number"), msg);
    reply(200, "{\"rewards\": [\"1\", 2]}");
    assertTrue(error(reward(5, 3, 64), two).contains("rewards[0] (item 0)"));
    assertEquals(5, requests.size(), "none retried");
  }

  @Test
  void specErrorsNameTheKey() {
    String msg =
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    new HttpReward(url, null, null, null, Map.of("Authorization", "Bearer ${NOPE}"))
                        .create(n -> null, FAST, sleeps::add))
            .getMessage();
    assertTrue(msg.contains("reward.headers.Authorization") && msg.contains("NOPE"), msg);
    msg =
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    new HttpReward(url, null, null, null, Map.of("Host", "x"))
                        .create(n -> null, FAST, sleeps::add))
            .getMessage();
    assertTrue(msg.contains("reward.headers.Host"), msg);
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> new HttpReward("ftp://x/y", null, null, null, null))
            .getMessage()
            .contains("reward.url"));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class, () -> new HttpReward(null, null, null, null, null))
            .getMessage()
            .contains("reward.url is required"));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class, () -> new HttpReward(url, 0.0, null, null, null))
            .getMessage()
            .contains("reward.timeout_s must be > 0"));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class, () -> new HttpReward(url, null, -1, null, null))
            .getMessage()
            .contains("reward.retries must be >= 0"));
  }
}
