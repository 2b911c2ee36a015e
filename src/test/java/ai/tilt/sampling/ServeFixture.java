package ai.tilt.sampling;

import ai.djl.Device;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.model.Presets;
import ai.tilt.tokenizer.TextTokenizer;
import ai.tilt.tokenizer.TokenizerFixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A tiny random Llama with GPT-2's tokenizer and a ChatML chat template written into its
 * tokenizer_config.json, served by {@code tilt serve} on loopback, and the raw HTTP calls the
 * OpenAI API tests make against it.
 */
final class ServeFixture implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP = HttpClient.newHttpClient();
  static final String TEMPLATE =
      "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          + "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  static final int VOCAB = 50257; // GPT-2's
  static final long EOS = 50256;

  final Path dir;
  final TextTokenizer tokenizer;
  final CompletionsServer server;
  final URI url;
  final String key;

  private ServeFixture(Path dir, TextTokenizer tokenizer, CompletionsServer server, String key) {
    this.dir = dir;
    this.tokenizer = tokenizer;
    this.server = server;
    this.url = URI.create("http://127.0.0.1:" + server.port());
    this.key = key;
  }

  /** Writes the model with its tokenizer and template into {@code dir} (once per directory). */
  static Path model(Path dir) throws IOException {
    if (Files.exists(dir.resolve("config.json"))) {
      return dir;
    }
    ModelConfig c =
        Presets.config(ModelConfig.Family.LLAMA, "tiny", VOCAB, null, new long[] {EOS}, null);
    try (CausalLM m = ModelFiles.random(c, 7, 0.2f, Device.cpu())) {
      ModelFiles.save(m, dir, "F32", Long.MAX_VALUE);
    }
    Path gpt2 = TokenizerFixtures.dir("gpt2");
    Files.copy(gpt2.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
    ObjectNode config = (ObjectNode) JSON.readTree(gpt2.resolve("tokenizer_config.json").toFile());
    config.put("chat_template", TEMPLATE);
    Files.writeString(dir.resolve("tokenizer_config.json"), config.toString());
    return dir;
  }

  static ServeFixture start(Path dir, ServeLimits limits) throws IOException {
    model(dir);
    TextTokenizer tokenizer = TextTokenizer.load(dir);
    CompletionsServer server =
        new CompletionsServer(
            ModelFiles.load(dir, Device.cpu()),
            tokenizer,
            "tiny",
            tokenizer.eosIds(),
            Device.cpu(),
            Precision.FP32,
            new InetSocketAddress("127.0.0.1", 0),
            limits);
    server.start();
    return new ServeFixture(dir, tokenizer, server, limits.apiKey());
  }

  HttpResponse<String> post(String path, String body) throws Exception {
    return send(
        HttpRequest.newBuilder(url.resolve(path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)));
  }

  HttpResponse<String> get(String path) throws Exception {
    return send(HttpRequest.newBuilder(url.resolve(path)).GET());
  }

  HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A 200 answer's JSON. */
  JsonNode ok(String path, String body) throws Exception {
    HttpResponse<String> r = post(path, body);
    if (r.statusCode() != 200) {
      throw new AssertionError("HTTP " + r.statusCode() + ": " + r.body());
    }
    return JSON.readTree(r.body());
  }

  /**
   * The events of a server-sent event stream, checking its framing: every event is one {@code data:
   * ...} line followed by a blank line, and the last is {@code [DONE]} (not returned).
   */
  static List<JsonNode> events(HttpResponse<String> r) throws IOException {
    if (r.statusCode() != 200) {
      throw new AssertionError("HTTP " + r.statusCode() + ": " + r.body());
    }
    String type = r.headers().firstValue("content-type").orElse("");
    if (!type.startsWith("text/event-stream")) {
      throw new AssertionError("content-type " + type);
    }
    String body = r.body();
    if (!body.endsWith("data: [DONE]\n\n")) {
      throw new AssertionError("the stream does not end with [DONE]: " + tail(body));
    }
    List<JsonNode> out = new ArrayList<>();
    String[] events = body.substring(0, body.length() - 2).split("\n\n", -1);
    for (int i = 0; i < events.length - 1; i++) {
      String e = events[i];
      if (!e.startsWith("data: ") || e.indexOf('\n') >= 0) {
        throw new AssertionError("event " + i + " is not one data line: " + e);
      }
      out.add(JSON.readTree(e.substring("data: ".length())));
    }
    return out;
  }

  private static String tail(String s) {
    return s.length() < 200 ? s : s.substring(s.length() - 200);
  }

  @Override
  public void close() {
    server.close();
    tokenizer.close();
  }
}
