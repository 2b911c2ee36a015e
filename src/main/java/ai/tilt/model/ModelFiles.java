package ai.tilt.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.Torch;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Loads, initialises and saves {@link CausalLM}s in HF layout (config.json + safetensors). */
public final class ModelFiles {
  private ModelFiles() {}

  /**
   * Loads config.json and the weights of a HF model directory onto a device, with the head it has.
   */
  public static CausalLM load(Path dir, Device device) throws IOException {
    return load(dir, device, headOf(dir), 0);
  }

  /**
   * The head a directory's config.json names: SCORE for a *ForSequenceClassification with one
   * label, LM otherwise.
   */
  public static Head headOf(Path dir) throws IOException {
    JsonNode json = JsonFiles.read(dir.resolve("config.json"));
    JsonNode arch = json.path("architectures");
    if (arch.isArray()
        && arch.size() > 0
        && arch.get(0).asText().endsWith("ForSequenceClassification")) {
      JsonNode labels = json.path("id2label");
      int n =
          json.has("num_labels")
              ? json.get("num_labels").asInt()
              : labels.isObject() ? labels.size() : 2;
      if (n != 1) {
        throw new IllegalArgumentException(
            dir.resolve("config.json")
                + ": a sequence classifier with "
                + n
                + " labels; Tilt's reward models have one (num_labels: 1)");
      }
      return Head.SCORE;
    }
    return Head.LM;
  }

  /**
   * Loads a directory as a model with the given head. Loading a causal LM as a reward model (head
   * SCORE) drops its LM head and starts {@code score.weight} at N(0, 0.02) from {@code seed}, as
   * transformers does when a *ForSequenceClassification is made from an LM checkpoint.
   */
  public static CausalLM load(Path dir, Device device, Head head, long seed) throws IOException {
    return load(dir, device, head, seed, Precision.FP32);
  }

  /**
   * Loads in a precision. With {@code bf16} every matrix and embedding is converted to bfloat16 as
   * soon as it is read, so the float32 copy of the whole model never exists: the peak is the bf16
   * model plus one float32 tensor.
   */
  public static CausalLM load(Path dir, Device device, Precision precision) throws IOException {
    return load(dir, device, headOf(dir), 0, precision);
  }

  public static CausalLM load(Path dir, Device device, Head head, long seed, Precision precision)
      throws IOException {
    Torch.init();
    Kernels kernels = precision == Precision.BF16 ? Kernels.on(device) : null;
    if (precision == Precision.BF16 && kernels == null) {
      throw new IllegalStateException(
          "precision bf16 needs Tilt's kernels, which did not load: " + Kernels.loadError());
    }
    List<NDArray> held = new ArrayList<>();
    ModelConfig config = ModelConfig.load(dir);
    WeightNames names = new WeightNames(config, head);
    Map<String, Shape> expected = names.shapes();
    NDManager manager = NDManager.newBaseManager(device);
    try {
      Map<String, NDArray> loaded = new LinkedHashMap<>();
      List<String> unexpected = new ArrayList<>();
      readWeights(
          dir,
          manager,
          (fileName, array) -> {
            String name = names.canonical(fileName, expected);
            if (name == null) {
              array.close();
              return;
            }
            Shape want = expected.get(name);
            if (want == null) {
              unexpected.add(fileName);
              array.close();
              return;
            }
            if (!array.getShape().equals(want)) {
              throw new IllegalArgumentException(
                  dir
                      + ": tensor '"
                      + fileName
                      + "' has shape "
                      + array.getShape()
                      + ", config.json implies "
                      + want);
            }
            if (kernels != null && want.dimension() >= 2) {
              NDArray w16 = kernels.toBf16(array);
              array.close();
              held.add(w16);
              array = w16;
            }
            loaded.put(name, array);
          });
      if (!unexpected.isEmpty()) {
        throw new IllegalArgumentException(
            dir + ": weights not used by a " + config.family().architecture + ": " + unexpected);
      }
      Map<String, NDArray> params = new LinkedHashMap<>();
      for (String name : expected.keySet()) {
        NDArray a = loaded.get(name);
        if (a == null && name.equals(WeightNames.SCORE)) {
          JniUtils.setSeed(seed);
          a = manager.randomNormal(0f, 0.02f, expected.get(name), DataType.FLOAT32);
          a.setName(name);
        }
        if (a == null) {
          throw new IllegalArgumentException(dir + ": missing tensor '" + name + "'");
        }
        params.put(name, a);
      }
      CausalLM model = new CausalLM(config, head, manager, params);
      if (precision == Precision.BF16) {
        model.holdInBf16(held);
      } else {
        model.setPrecision(precision);
      }
      return model;
    } catch (RuntimeException | IOException e) {
      manager.close();
      throw e;
    }
  }

  /**
   * A randomly initialised model: weights N(0, std), norm scales 1, biases 0 (HF's _init_weights).
   * Uses libtorch's generator seeded with {@code seed}, so the same seed gives the same weights.
   */
  public static CausalLM random(ModelConfig config, long seed, float std, Device device) {
    Torch.init();
    JniUtils.setSeed(seed);
    NDManager manager = NDManager.newBaseManager(device);
    Map<String, NDArray> params = new LinkedHashMap<>();
    for (Map.Entry<String, Shape> e : new WeightNames(config).shapes().entrySet()) {
      String name = e.getKey();
      Shape shape = e.getValue();
      NDArray a;
      boolean isNorm = name.contains("norm") || name.contains(".ln_");
      if (name.endsWith(".bias")) {
        a = manager.zeros(shape, DataType.FLOAT32);
      } else if (isNorm) {
        a = manager.ones(shape, DataType.FLOAT32);
      } else {
        a = manager.randomNormal(0f, std, shape, DataType.FLOAT32);
      }
      a.setName(name);
      params.put(name, a);
    }
    return new CausalLM(config, Head.LM, manager, params);
  }

  interface TensorSink {
    void accept(String name, NDArray array) throws IOException;
  }

  /** Streams every tensor of the directory's safetensors checkpoint (single file or sharded). */
  private static void readWeights(Path dir, NDManager manager, TensorSink sink) throws IOException {
    try (SafetensorsReader reader = Safetensors.open(dir)) {
      for (String name : reader.tensors().keySet()) {
        sink.accept(name, reader.load(name, manager));
      }
    }
  }

  /**
   * Writes the weights as {@code model.safetensors} (or HF-style shards above {@code
   * maxShardBytes}) in {@code dtype} ("F32", "F16", "BF16"), plus config.json. A tied head is not
   * written, as save_pretrained does not write it.
   */
  public static void save(CausalLM model, Path dir, String dtype, long maxShardBytes)
      throws IOException {
    if (model.precision() == Precision.BF16) {
      throw new IllegalStateException(
          "a model held in bf16 (inference only) cannot be saved; load it in fp32");
    }
    Files.createDirectories(dir);
    Safetensors.writeSharded(dir, model.parameters(), dtype, maxShardBytes, Map.of());
    ObjectNode config = HfConfigWriter.toJson(model.config());
    if (model.head() == Head.SCORE) {
      config.putArray("architectures").add(Head.SCORE.architecture(model.config().family()));
      config.putObject("id2label").put("0", "LABEL_0");
      config.putObject("label2id").put("LABEL_0", 0);
    }
    config.put(
        "torch_dtype",
        dtype.equals("F32") ? "float32" : dtype.equals("F16") ? "float16" : "bfloat16");
    writeJson(dir.resolve("config.json"), config);
  }

  /** Writes pretty JSON via a temporary file and a rename. */
  public static void writeJson(Path file, JsonNode json) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(
        tmp, new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
