package ai.tilt.reward;

import ai.djl.Device;
import ai.tilt.runtime.Devices;
import ai.tilt.tokenizer.TextTokenizer;
import java.nio.file.Path;

/**
 * What a {@link RewardSpec} may need to become a {@link Reward}.
 *
 * @param tokenizer the policy's tokenizer, used to decode completion ids when an input carries no
 *     text (text rewards) and for nothing else; null when there is none (text rewards then need
 *     {@link RewardInput#completion()})
 * @param baseDir directory that relative paths in the spec (a reward model's {@code path}) are
 *     resolved against; null means the working directory, as for the recipe's data paths
 * @param device where a reward model runs; null means the CPU
 */
public record RewardContext(TextTokenizer tokenizer, Path baseDir, Device device) {
  public RewardContext {
    baseDir = baseDir == null ? Path.of("") : baseDir;
  }

  /** No tokenizer, paths relative to the working directory, CPU. */
  public static RewardContext empty() {
    return new RewardContext(null, null, null);
  }

  /** With the policy's tokenizer; paths relative to the working directory, CPU. */
  public static RewardContext of(TextTokenizer tokenizer) {
    return new RewardContext(tokenizer, null, null);
  }

  /** A spec's path, resolved against {@link #baseDir()} unless absolute. */
  public Path resolve(String path) {
    return baseDir.resolve(path);
  }

  /** The device a reward model runs on. */
  public Device deviceOrCpu() {
    return device == null ? Devices.current() : device;
  }
}
