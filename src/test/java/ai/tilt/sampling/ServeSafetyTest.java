package ai.tilt.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What keeps {@code tilt serve} safe to expose: every bad field gets a 4xx in OpenAI's error shape
 * naming it, the limits refuse what is too big naming the flag, the API key guards every route but
 * /health, and a client that goes away stops its work.
 */
class ServeSafetyTest {
  @TempDir static Path tmp;
  static ServeFixture open; // no key, default limits
  static ServeFixture keyed; // a key, small limits

  @BeforeAll
  static void start() throws Exception {
    open = ServeFixture.start(tmp.resolve("tiny"), ServeLimits.defaults());
    keyed = ServeFixture.start(tmp.resolve("tiny"), new ServeLimits("sk-test", 2000, 2, 4, 100));
  }

  @AfterAll
  static void stop() {
    open.close();
    keyed.close();
  }

  /** Asserts an OpenAI-shaped error: status, the param it names, and a piece of its message. */
  static void assertError(HttpResponse<String> r, int status, String param, String says)
      throws Exception {
    assertEquals(status, r.statusCode(), r.body());
    assertTrue(
        r.headers().firstValue("content-type").orElse("").startsWith("application/json"),
        r.headers().toString());
    JsonNode e = ServeFixture.JSON.readTree(r.body()).get("error");
    assertTrue(e != null && e.has("message") && e.has("type") && e.has("code"), r.body());
    assertEquals(param, e.get("param").isNull() ? null : e.get("param").asText(), r.body());
    assertTrue(e.get("message").asText().contains(says), r.body());
  }

  static HttpResponse<String> completion(ServeFixture s, String fields) throws Exception {
    return s.post("/v1/completions", "{\"prompt\": [5, 6], " + fields + "}");
  }

  @Test
  void badFieldsAreNamedAsTheClientWroteThem() throws Exception {
    assertError(
        completion(open, "\"max_tokens\": \"lots\""), 400, "max_tokens", "expected an integer");
    assertError(completion(open, "\"max_tokens\": 0"), 400, "max_tokens", ">= 1, but got 0");
    assertError(completion(open, "\"max_tokens\": 2.5"), 400, "max_tokens", "expected an integer");
    assertError(completion(open, "\"temperature\": -1"), 400, "temperature", ">= 0");
    assertError(completion(open, "\"temperature\": \"hot\""), 400, "temperature", "a decimal");
    assertError(completion(open, "\"top_p\": 0"), 400, "top_p", "> 0");
    assertError(completion(open, "\"top_p\": 1.5"), 400, "top_p", "<= 1");
    assertError(completion(open, "\"n\": 0"), 400, "n", ">= 1");
    assertError(completion(open, "\"logprobs\": 21"), 400, "logprobs", "<= 20");
    assertError(completion(open, "\"stream\": \"yes\""), 400, "stream", "a boolean");
    assertError(completion(open, "\"stop\": 3"), 400, "stop", "a string or an array");
    assertError(
        completion(open, "\"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]"),
        400,
        "stop",
        "at most 4");
    assertError(
        completion(open, "\"max_token\": 3"),
        400,
        "max_token",
        "Unrecognized request argument supplied: max_token");
    assertError(
        completion(open, "\"presence_penalty\": 0.5"),
        400,
        "presence_penalty",
        "no presence penalty");
    assertError(
        completion(open, "\"stream_options\": {\"include_usage\": true}"),
        400,
        "stream_options",
        "only allowed when 'stream' is true");
    assertError(
        completion(open, "\"echo\": true, \"logprobs\": 1"), 400, "echo", "prompt's log-probs");
    assertError(
        completion(open, "\"stop_token_ids\": [70000]"),
        400,
        "stop_token_ids[0]",
        "outside the vocabulary");
    assertError(
        open.post("/v1/completions", "{\"prompt\": [5, \"x\"]}"), 400, "prompt[1]", "a token id");
    assertError(
        open.post("/v1/completions", "{\"prompt\": [\"a\", [5]]}"), 400, "prompt[1]", "a string");
    assertError(
        open.post("/v1/completions", "{\"prompt\": {}}"),
        400,
        "prompt",
        "expected a string, an array");
    assertError(
        open.post("/v1/completions", "{\"max_tokens\": 3}"),
        400,
        "prompt",
        "Missing required parameter: 'prompt'");
    assertError(open.post("/v1/completions", "{oops"), 400, null, "could not parse the JSON body");
    assertError(open.post("/v1/completions", "[1]"), 400, null, "must be a JSON object");
    assertError(
        completion(open, "\"model\": \"gpt-4\""), 404, "model", "The model `gpt-4` does not exist");
    // chat
    String hi = "\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]";
    assertError(
        open.post(
            "/v1/chat/completions",
            "{" + hi + ", \"max_tokens\": 3, \"max_completion_tokens\": 3}"),
        400,
        "max_tokens",
        "not both");
    assertError(
        open.post("/v1/chat/completions", "{" + hi + ", \"max_completion_tokens\": 0}"),
        400,
        "max_completion_tokens",
        ">= 1");
    assertError(
        open.post("/v1/chat/completions", "{" + hi + ", \"top_logprobs\": 2}"),
        400,
        "top_logprobs",
        "only allowed when 'logprobs' is true");
    assertError(
        open.post("/v1/chat/completions", "{" + hi + ", \"logprobs\": 1}"),
        400,
        "logprobs",
        "a boolean");
    assertError(
        open.post("/v1/chat/completions", "{" + hi + ", \"tools\": [{\"type\": \"function\"}]}"),
        400,
        "tools",
        "tool calls");
    assertError(
        open.post("/v1/chat/completions", "{\"messages\": []}"), 400, "messages", "empty array");
    assertError(
        open.post(
            "/v1/chat/completions", "{\"messages\": [{\"role\": \"king\", \"content\": \"x\"}]}"),
        400,
        "messages[0].role",
        "'king'");
    assertError(
        open.post(
            "/v1/chat/completions",
            "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}"),
        400,
        "messages[0].content[0].type",
        "text parts only");
    // routes and methods
    assertError(open.post("/v1/embeddings", "{}"), 404, null, "Invalid URL (POST /v1/embeddings)");
    assertError(open.get("/"), 404, null, "Invalid URL (GET /)");
    HttpResponse<String> wrong = open.get("/v1/completions");
    assertError(wrong, 405, null, "takes POST");
    assertEquals("POST", wrong.headers().firstValue("allow").orElse(""));
    assertError(open.post("/v1/models", "{}"), 405, null, "takes GET");
  }

  @Test
  void aModelWithoutChatTemplateSaysSo() throws Exception {
    try (CompletionsServer bare =
        new CompletionsServer(
            ModelFiles.load(ServeFixture.model(tmp.resolve("tiny")), Device.cpu()),
            null,
            "bare",
            new long[] {ServeFixture.EOS},
            Device.cpu(),
            Precision.FP32,
            new InetSocketAddress("127.0.0.1", 0))) {
      bare.start();
      HttpResponse<String> r =
          ServeFixture.HTTP.send(
              HttpRequest.newBuilder(
                      java.net.URI.create(
                          "http://127.0.0.1:" + bare.port() + "/v1/chat/completions"))
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertError(r, 400, "messages", "has no chat template");
    }
  }

  @Test
  void limitsRefuseWhatIsTooBigNamingTheFlag() throws Exception {
    // the model's context is 1024 positions
    StringBuilder ids = new StringBuilder("5");
    for (int i = 1; i < 1020; i++) {
      ids.append(", 5");
    }
    assertError(
        open.post("/v1/completions", "{\"prompt\": [" + ids + "], \"max_tokens\": 10}"),
        400,
        "prompt",
        "maximum context length is 1024 tokens (max_position_embeddings). However, you requested"
            + " 1030 tokens (1020 in prompt, 10 in max_tokens)");
    assertError(completion(keyed, "\"n\": 5"), 400, "n", "<= 4");
    assertError(
        completion(keyed, "\"n\": 4, \"max_tokens\": 26"),
        400,
        "max_tokens",
        "--max-request-tokens");
    // the prompt's cache counts: 4 x (2 + 24) = 104 tokens over the limit of 100
    assertError(
        completion(keyed, "\"n\": 4, \"max_tokens\": 24"),
        400,
        "max_tokens",
        "= 104 tokens of cache, over this server's limit of 100");
    assertError(
        keyed.post("/v1/completions", "{\"prompt\": [\"a\", \"b\", \"c\"]}"),
        400,
        "prompt",
        "--max-prompts");
    assertError(
        keyed.post("/v1/completions", "{\"prompt\": \"" + "x".repeat(3000) + "\"}"),
        413,
        null,
        "--max-request-bytes");
    // a client that waits for "100 Continue" gets the same answer before it sends the body
    // (a raw socket: JDK 17's HttpClient waits forever on a final answer to Expect, JDK-8286171)
    try (Socket socket = new Socket("127.0.0.1", keyed.url.getPort())) {
      socket.setSoTimeout(30_000);
      socket
          .getOutputStream()
          .write(
              ("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\n"
                      + "Content-Type: application/json\r\nContent-Length: 5000\r\n"
                      + "Expect: 100-continue\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      String answer = readUntil(socket.getInputStream(), "}}");
      assertTrue(answer.startsWith("HTTP/1.1 413"), answer);
      assertTrue(answer.contains("5000 bytes, over this server's limit of 2000"), answer);
    }
    // n x (prompt + max_tokens) within the limit still runs: 4 x (2 + 23) = 100
    assertEquals(200, completion(keyed, "\"n\": 4, \"max_tokens\": 23").statusCode());
  }

  @Test
  void theKeyGuardsEveryRouteButHealth() throws Exception {
    for (String path :
        List.of(
            "/v1/completions",
            "/v1/chat/completions",
            "/update_weights_from_disk",
            "/v1/nothing")) {
      HttpResponse<String> r =
          ServeFixture.HTTP.send(
              HttpRequest.newBuilder(keyed.url.resolve(path))
                  .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": [5]}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertError(r, 401, null, "You didn't provide an API key");
      assertEquals("Bearer", r.headers().firstValue("www-authenticate").orElse(""));
    }
    HttpResponse<String> wrong =
        ServeFixture.HTTP.send(
            HttpRequest.newBuilder(keyed.url.resolve("/v1/models"))
                .header("Authorization", "Bearer sk-wrong")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertError(wrong, 401, null, "Incorrect API key");
    assertEquals(
        200,
        ServeFixture.HTTP
            .send(
                HttpRequest.newBuilder(keyed.url.resolve("/health")).build(),
                HttpResponse.BodyHandlers.ofString())
            .statusCode());
    assertEquals(200, keyed.get("/v1/models").statusCode());
    // the trainer's client sends the key it is given
    SamplingParams p = SamplingParams.sample(3, 0);
    try (CompletionsClient c =
        new CompletionsClient(
            new CompletionsClient.Settings(
                keyed.url,
                "tiny",
                1,
                Duration.ofSeconds(30),
                0,
                Duration.ZERO,
                new long[0],
                "sk-test"))) {
      assertEquals(1, c.generateGroups(List.of(new long[] {5}), 1, p, new long[] {1}).size());
    }
    try (CompletionsClient c =
        new CompletionsClient(
            new CompletionsClient.Settings(
                keyed.url, "tiny", 1, Duration.ofSeconds(30), 0, Duration.ZERO, new long[0]))) {
      SamplingServerException e =
          assertThrows(
              SamplingServerException.class,
              () -> c.generateGroups(List.of(new long[] {5}), 1, p, new long[] {1}));
      assertTrue(e.getMessage().contains("HTTP 401"), e.getMessage());
    }
  }

  @Test
  void listeningBeyondLoopbackNeedsAKey() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new CompletionsServer(
                    null,
                    null,
                    "x",
                    new long[0],
                    Device.cpu(),
                    Precision.FP32,
                    new InetSocketAddress("0.0.0.0", 0)));
    assertTrue(e.getMessage().contains("--api-key"), e.getMessage());
  }

  /** What a socket says until {@code end} (the answer's JSON closes; the connection stays open). */
  static String readUntil(InputStream in, String end) throws java.io.IOException {
    StringBuilder got = new StringBuilder();
    byte[] buf = new byte[4096];
    for (int n; !got.toString().contains(end) && (n = in.read(buf)) > 0; ) {
      got.append(new String(buf, 0, n, StandardCharsets.UTF_8));
    }
    return got.toString();
  }

  /** A raw HTTP/1.1 request on a socket the test closes when it likes. */
  static Socket request(ServeFixture s, String body) throws Exception {
    Socket socket = new Socket("127.0.0.1", s.url.getPort());
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    OutputStream out = socket.getOutputStream();
    out.write(
        ("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: "
                + b.length
                + "\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
    out.write(b);
    out.flush();
    return socket;
  }

  /**
   * A long request whose client closes its connection stops generating within a few steps, streamed
   * or not, and the model is free for the next request at once.
   */
  @Test
  void aClientThatLeavesStopsItsWork() throws Exception {
    String longRequest =
        "{\"prompt\": [5, 6, 7], \"n\": 16, \"max_tokens\": 1000, \"ignore_eos\": true, \"seed\": 1";
    for (String stream : List.of("false", "true")) {
      long before = open.server.tokensGenerated();
      Socket socket = request(open, longRequest + ", \"stream\": " + stream + "}");
      long deadline = System.currentTimeMillis() + 60_000;
      while (open.server.tokensGenerated() - before < 16 * 20) { // 20 steps in
        assertTrue(System.currentTimeMillis() < deadline, "the request did not start");
        Thread.sleep(5);
      }
      if (stream.equals("true")) {
        InputStream in = socket.getInputStream();
        byte[] head = in.readNBytes(12);
        assertEquals("HTTP/1.1 200", new String(head, StandardCharsets.US_ASCII));
      }
      socket.close();
      long closed = System.currentTimeMillis();
      Thread.sleep(500);
      long settled = open.server.tokensGenerated();
      Thread.sleep(500);
      assertEquals(
          settled, open.server.tokensGenerated(), "stream " + stream + ": still generating");
      long spent = settled - before;
      assertTrue(spent < 16 * 1000 / 2, "stream " + stream + ": " + spent + " of 16000 tokens ran");
      long start = System.currentTimeMillis();
      assertEquals(200, completion(open, "\"max_tokens\": 4").statusCode());
      long next = System.currentTimeMillis() - start;
      assertTrue(
          next < 2000,
          "the next request waited " + next + " ms (closed " + (start - closed) + " ms before)");
    }
  }
}
