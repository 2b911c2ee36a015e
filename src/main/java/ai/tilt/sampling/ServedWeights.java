package ai.tilt.sampling;

import ai.djl.Device;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Lora;
import ai.tilt.model.LoraFiles;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.NoGrad;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The model {@code tilt serve} samples from and the LoRA adapters loaded on it, with the routes
 * that change them: SGLang's {@code update_weights_from_disk}, vLLM's {@code load_lora_adapter} /
 * {@code unload_lora_adapter}. One lock keeps a batch and a change of weights apart.
 */
final class ServedWeights implements AutoCloseable {
  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  final String servedName;
  private final Device device;
  private final Precision precision;
  private final Map<String, Lora> adapters = new ConcurrentHashMap<>();
  private final Object lock = new Object();
  private volatile CausalLM model;

  ServedWeights(CausalLM model, String servedName, Device device, Precision precision) {
    this.model = model;
    this.servedName = servedName;
    this.device = device;
    this.precision = precision;
  }

  ModelConfig config() {
    return model.config();
  }

  /** Whether requests may name {@code name}: the served model or a loaded adapter. */
  boolean has(String name) {
    return name.equals(servedName) || adapters.containsKey(name);
  }

  /** One batch on the model: the lock keeps weight and adapter changes out of it. */
  List<Generator.Generation> run(
      SamplingQueue.Key key, List<long[]> prompts, long[] seeds, Generator.TokenObserver seen) {
    synchronized (lock) {
      Lora adapter = null;
      if (!key.model().equals(servedName)) {
        adapter = adapters.get(key.model());
        if (adapter == null) { // unloaded since the request came in
          throw ApiError.modelNotFound(key.model());
        }
      }
      model.setLora(adapter);
      // grad mode is per thread; off: no LoRA dropout, no graph
      try (NoGrad off = NoGrad.enter()) {
        long[] stops = key.stops().stream().mapToLong(Long::longValue).toArray();
        return new Generator(model, stops)
            .generateGroups(prompts, key.n(), key.params(), seeds, key.topLogprobs(), seen);
      } finally {
        model.setLora(null);
      }
    }
  }

  JsonNode models() {
    ObjectNode root = JSON.objectNode().put("object", "list");
    ArrayNode data = root.putArray("data");
    long created = System.currentTimeMillis() / 1000;
    data.addObject()
        .put("id", servedName)
        .put("object", "model")
        .put("created", created)
        .put("owned_by", "tilt")
        .put("max_model_len", model.config().maxPositions());
    for (String name : adapters.keySet()) {
      data.addObject()
          .put("id", name)
          .put("object", "model")
          .put("created", created)
          .put("owned_by", "tilt")
          .put("parent", servedName);
    }
    return root;
  }

  JsonNode updateWeights(JsonNode body) {
    String dir = body.path("model_path").asText(null);
    ObjectNode out = JSON.objectNode();
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
          || a.numLayers() != b.numLayers()
          || a.maxPositions() != b.maxPositions()) {
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
    out.put("success", true).put("message", "loaded " + dir);
    return checksum == null ? out : out.put("weights_checksum", checksum);
  }

  JsonNode loadLora(JsonNode body) throws IOException {
    String name = body.path("lora_name").asText(null);
    String dir = body.path("lora_path").asText(null);
    if (name == null || dir == null) {
      throw ApiError.invalid(
          name == null ? "lora_name" : "lora_path", "lora_name and lora_path are required");
    }
    if (!LoraFiles.isAdapter(Path.of(dir))) {
      throw ApiError.invalid("lora_path", "lora_path " + dir + " has no " + LoraFiles.CONFIG);
    }
    String checksum;
    try {
      checksum = WeightsManifest.verify(Path.of(dir));
    } catch (IOException e) {
      throw ApiError.invalid("lora_path", "refusing " + dir + ": " + e.getMessage());
    }
    synchronized (lock) {
      if (has(name)) {
        throw ApiError.invalid("lora_name", "the adapter '" + name + "' is already loaded");
      }
      try {
        adapters.put(name, LoraFiles.load(model, Path.of(dir), servedName));
      } finally {
        model.setLora(null);
      }
    }
    ObjectNode done = JSON.objectNode().put("success", true).put("message", "loaded " + name);
    return checksum == null ? done : done.put("weights_checksum", checksum);
  }

  JsonNode unloadLora(JsonNode body) {
    String name = body.path("lora_name").asText(null);
    synchronized (lock) {
      Lora lora = name == null ? null : adapters.remove(name);
      if (lora == null) {
        throw new ApiError(
            404,
            "invalid_request_error",
            "lora_name",
            "model_not_found",
            "no adapter named '" + name + "' is loaded");
      }
      lora.close();
    }
    return JSON.objectNode().put("success", true).put("message", "unloaded " + name);
  }

  @Override
  public void close() {
    synchronized (lock) {
      adapters.values().forEach(Lora::close);
      adapters.clear();
      model.close();
    }
  }
}
