package ai.tilt.model;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Loads, initialises and saves {@link CausalLM}s in HF layout (config.json + safetensors). */
public final class ModelFiles {
  private ModelFiles() {}

  /** Loads config.json and the weights of a HF model directory onto a device. */
  public static CausalLM load(Path dir, Device device) throws IOException {
    Torch.init();
    ModelConfig config = ModelConfig.load(dir);
    WeightNames names = new WeightNames(config);
    Map<String, Shape> expected = names.shapes();
    NDManager manager = NDManager.newBaseManager(device);
    try {
      Map<String, NDArray> loaded = new LinkedHashMap<>();
      List<String> unexpected = new ArrayList<>();
      readWeights(dir, manager, (fileName, array) -> {
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
              dir + ": tensor '" + fileName + "' has shape " + array.getShape() + ", config.json implies " + want);
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
        if (a == null) {
          throw new IllegalArgumentException(dir + ": missing tensor '" + name + "'");
        }
        params.put(name, a);
      }
      return new CausalLM(config, manager, params);
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
    return new CausalLM(config, manager, params);
  }

  interface TensorSink {
    void accept(String name, NDArray array) throws IOException;
  }

  // TODO(safetensors): replaced by the memory-mapped reader once it lands.
  private static void readWeights(Path dir, NDManager manager, TensorSink sink) throws IOException {
    Path file = dir.resolve("model.safetensors");
    try (InputStream in = Files.newInputStream(file)) {
      NDList list = NDList.decode(manager, in);
      for (NDArray a : list) {
        sink.accept(a.getName(), a);
      }
    }
  }
}
