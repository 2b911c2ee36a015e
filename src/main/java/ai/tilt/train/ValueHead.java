package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.model.Safetensors;
import ai.tilt.model.SafetensorsReader;
import ai.tilt.runtime.Torch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * PPO's value head: a linear map from the policy's final hidden state at each position to a scalar
 * value (the shared-trunk design of Ziegler et al., 2019 and TRL's original PPO). It trains with
 * the policy and lives beside the HF weights in checkpoints, as {@code value_head.safetensors}.
 */
final class ValueHead implements AutoCloseable {
  static final String FILE = "value_head.safetensors";
  private final NDManager manager;
  private final Map<String, NDArray> params =
      new LinkedHashMap<>(); // value_head.weight (1, d), value_head.bias (1)

  /** A fresh head: weights N(0, 0.02) drawn from libtorch's generator seeded with {@code seed}. */
  ValueHead(int hidden, long seed, NDManager parent) {
    this.manager = parent.newSubManager();
    JniUtils.setSeed(seed);
    NDArray w = manager.randomNormal(0f, 0.02f, new Shape(1, hidden), DataType.FLOAT32);
    NDArray b = manager.zeros(new Shape(1), DataType.FLOAT32);
    params.put("value_head.weight", w);
    params.put("value_head.bias", b);
  }

  Map<String, NDArray> parameters() {
    return params;
  }

  /** Values of hidden states: (..., d) -> (...). */
  NDArray values(NDArray states) {
    NDArray w = params.get("value_head.weight");
    NDArray b = params.get("value_head.bias");
    return states.getNDArrayInternal().linear(states, w, b).singletonOrThrow().squeeze(-1);
  }

  void save(Path dir) throws IOException {
    Safetensors.write(dir.resolve(FILE), params, "F32", Map.of());
  }

  void load(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    if (!Files.exists(file)) {
      throw new IOException(
          dir + " has no " + FILE + " (a PPO run's checkpoint keeps its value head there)");
    }
    try (SafetensorsReader r = Safetensors.open(file)) {
      for (Map.Entry<String, NDArray> e : params.entrySet()) {
        NDArray src = r.load(e.getKey(), manager);
        Torch.copyInto(e.getValue(), src);
        src.close();
      }
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}
