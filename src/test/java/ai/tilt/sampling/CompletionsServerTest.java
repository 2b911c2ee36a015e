package ai.tilt.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Lora;
import ai.tilt.model.LoraFiles;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.model.Presets;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tilt serve}'s routes, driven by {@link CompletionsClient} and by raw requests: seeded
 * samples equal the in-process generator's, new weights and LoRA adapters take effect, and bad
 * requests get 4xx answers naming the problem.
 */
class CompletionsServerTest {
  @TempDir static Path tmp;
  static ModelConfig config;
  static Path other; // another model of the same shape
  static CompletionsServer server;
  static URI url;
  static final long[] EOS = {3};
  static final HttpClient HTTP = HttpClient.newHttpClient();
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void start() throws IOException {
    config = Presets.config(ModelConfig.Family.LLAMA, "tiny", 100, null, EOS, null);
    Path base = tmp.resolve("base");
    try (CausalLM m = ModelFiles.random(config, 1, 0.2f, Device.cpu())) {
      ModelFiles.save(m, base, "F32", Long.MAX_VALUE);
    }
    other = tmp.resolve("other");
    try (CausalLM m = ModelFiles.random(config, 2, 0.2f, Device.cpu())) {
      ModelFiles.save(m, other, "F32", Long.MAX_VALUE);
    }
    server =
        new CompletionsServer(
            ModelFiles.load(base, Device.cpu()),
            null,
            "base",
            EOS,
            Device.cpu(),
            Precision.FP32,
            new InetSocketAddress("127.0.0.1", 0));
    server.start();
    url = URI.create("http://127.0.0.1:" + server.port());
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  static CompletionsClient client(String model) {
    return new CompletionsClient(
        new CompletionsClient.Settings(
            url, model, 2, Duration.ofSeconds(60), 0, Duration.ZERO, EOS));
  }

  static HttpResponse<String> post(String path, String body) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(url.resolve(path))
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static final List<long[]> PROMPTS = List.of(new long[] {5, 6, 7}, new long[] {9, 10, 11});
  static final SamplingParams PARAMS = new SamplingParams(6, 1.0, 0, 1.0, false, false, 0);
  static final long[] SEEDS = {101, 202};

  private static List<Generator.Generation> local(Path dir) throws IOException {
    try (CausalLM m = ModelFiles.load(dir, Device.cpu())) {
      return new Generator(m, EOS).generateGroups(PROMPTS, 3, PARAMS, SEEDS);
    }
  }

  private static void assertSame(List<Generator.Generation> a, List<Generator.Generation> b) {
    assertEquals(a.size(), b.size());
    for (int i = 0; i < a.size(); i++) {
      assertArrayEquals(a.get(i).completionIds(), b.get(i).completionIds(), "row " + i);
      assertArrayEquals(a.get(i).logprobs(), b.get(i).logprobs(), 1e-5f, "row " + i);
      assertEquals(a.get(i).finishReason(), b.get(i).finishReason(), "row " + i);
    }
  }

  /** One request per prompt with its seed gives what batched in-process sampling gives. */
  @Test
  void seededSamplesEqualInProcessSampling() throws Exception {
    List<Generator.Generation> remote;
    try (CompletionsClient c = client("base")) {
      remote = c.generateGroups(PROMPTS, 3, PARAMS, SEEDS);
      List<Generator.Generation> again = c.generateGroups(PROMPTS, 3, PARAMS, SEEDS);
      assertSame(remote, again);
      List<Generator.Generation> reseeded = c.generateGroups(PROMPTS, 3, PARAMS, new long[] {7, 8});
      boolean differs = false;
      for (int i = 0; i < remote.size(); i++) {
        differs |=
            !java.util.Arrays.equals(
                remote.get(i).completionIds(), reseeded.get(i).completionIds());
      }
      assertTrue(differs, "other seeds, other samples");
    }
    assertSame(local(tmp.resolve("base")), remote);
    boolean distinct = false;
    for (int k = 1; k < 3; k++) {
      distinct |=
          !java.util.Arrays.equals(remote.get(0).completionIds(), remote.get(k).completionIds());
    }
    assertTrue(distinct, "the n choices of a prompt are different draws");
  }

  /** Requests in flight together run as shared batches and sample what they sample alone. */
  @Test
  void concurrentRequestsShareBatchesAndKeepTheirSamples() throws Exception {
    List<long[]> prompts = new java.util.ArrayList<>();
    long[] seeds = new long[8];
    for (int i = 0; i < 8; i++) {
      prompts.add(new long[] {10 + i, 20 + i});
      seeds[i] = 1000 + i;
    }
    List<Generator.Generation> want;
    try (CausalLM m = ModelFiles.load(tmp.resolve("base"), Device.cpu())) {
      want = new Generator(m, EOS).generateGroups(prompts, 2, PARAMS, seeds);
    }
    long before = server.batches();
    try (CompletionsClient c =
        new CompletionsClient(
            new CompletionsClient.Settings(
                url, "base", 8, Duration.ofSeconds(60), 0, Duration.ZERO, EOS))) {
      assertSame(want, c.generateGroups(prompts, 2, PARAMS, seeds));
    }
    long batches = server.batches() - before;
    assertTrue(batches < 8, "8 requests in flight ran as " + batches + " batches");
  }

  @Test
  void badRequestsAreAnsweredWithTheirProblem() throws Exception {
    HttpResponse<String> r = post("/v1/completions", "{\"prompt\": [5, 100], \"max_tokens\": 2}");
    assertEquals(400, r.statusCode(), r.body());
    assertTrue(r.body().contains("token id 100 is outside the vocabulary [0, 100)"), r.body());
    r = post("/v1/completions", "{\"model\": \"nope\", \"prompt\": [5]}");
    assertEquals(404, r.statusCode(), r.body());
    r = post("/v1/completions", "{\"prompt\": []}");
    assertEquals(400, r.statusCode(), r.body());
    assertTrue(r.body().contains("Invalid 'prompt': empty array"), r.body());
    r = post("/v1/completions", "{\"prompt\": \"text\"}");
    assertEquals(400, r.statusCode(), r.body());
    assertTrue(r.body().contains("no tokenizer"), r.body());
    r = post("/v1/completions", "{oops");
    assertEquals(400, r.statusCode(), r.body());
    r = post("/update_weights_from_disk", "{\"model_path\": \"" + tmp.resolve("none") + "\"}");
    assertEquals(200, r.statusCode(), r.body());
    assertFalse(JSON.readTree(r.body()).get("success").asBoolean(), r.body());
    HttpResponse<String> health =
        HTTP.send(
            HttpRequest.newBuilder(url.resolve("/health")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(200, health.statusCode());
  }

  /** A LoRA adapter loaded by name changes what that name samples, and only that name. */
  @Test
  void loadedAdapterSamplesAsTheAdaptedModel() throws Exception {
    Path adapterDir = tmp.resolve("adapter");
    Path base = tmp.resolve("base");
    List<Generator.Generation> adapted;
    try (CausalLM m = ModelFiles.load(base, Device.cpu())) {
      Lora lora = Lora.create(m, new Lora.Spec(4, 8, 0, null, false), 3);
      m.setLora(lora);
      for (var e : lora.parameters().entrySet()) {
        if (e.getKey().contains("lora_B")) {
          NDArray b = e.getValue();
          b.addi(m.manager().randomNormal(0, 0.3f, b.getShape(), b.getDataType()));
        }
      }
      LoraFiles.save(m, adapterDir, base.toString());
      adapted = new Generator(m, EOS).generateGroups(PROMPTS, 3, PARAMS, SEEDS);
    }
    HttpResponse<String> r =
        post(
            "/v1/load_lora_adapter",
            "{\"lora_name\": \"tuned\", \"lora_path\": \"" + adapterDir + "\"}");
    assertEquals(200, r.statusCode(), r.body());
    try (CompletionsClient c = client("tuned")) {
      assertSame(adapted, c.generateGroups(PROMPTS, 3, PARAMS, SEEDS));
    }
    try (CompletionsClient c = client("base")) {
      assertSame(local(base), c.generateGroups(PROMPTS, 3, PARAMS, SEEDS));
    }
    r = post("/v1/unload_lora_adapter", "{\"lora_name\": \"tuned\"}");
    assertEquals(200, r.statusCode(), r.body());
    try (CompletionsClient c = client("tuned")) {
      SamplingServerException e =
          assertThrows(
              SamplingServerException.class, () -> c.generateGroups(PROMPTS, 1, PARAMS, SEEDS));
      assertTrue(e.getMessage().contains("HTTP 404"), e.getMessage());
    }
  }

  /** After update_weights_from_disk the server samples as the new weights do; then back. */
  @Test
  void updatedWeightsAreTheOnesSampled() throws Exception {
    try (CompletionsClient c = client("base")) {
      c.updateWeightsFromDisk("/update_weights_from_disk", other.toString());
      assertSame(local(other), c.generateGroups(PROMPTS, 3, PARAMS, SEEDS));
      c.updateWeightsFromDisk("/update_weights_from_disk", tmp.resolve("base").toString());
      assertSame(local(tmp.resolve("base")), c.generateGroups(PROMPTS, 3, PARAMS, SEEDS));
    }
    JsonNode models =
        JSON.readTree(
            HTTP.send(
                    HttpRequest.newBuilder(url.resolve("/v1/models")).build(),
                    HttpResponse.BodyHandlers.ofString())
                .body());
    assertEquals("base", models.get("data").get(0).get("id").asText());
  }
}
