package ai.tilt.cli;

import ai.tilt.sampling.SamplingParams;
import picocli.CommandLine.Option;

/**
 * The sampling flags every sampling verb shares (generate, eval, data pairs), checked here so an
 * error names the flag the user typed.
 */
final class SamplingOptions {
  @Option(
      names = "--max-new-tokens",
      defaultValue = "64",
      description = "longest completion in tokens (default: ${DEFAULT-VALUE})")
  int maxNewTokens;

  @Option(
      names = "--temperature",
      defaultValue = "1.0",
      description = "divides the logits (default: ${DEFAULT-VALUE})")
  double temperature;

  @Option(
      names = "--top-p",
      defaultValue = "1.0",
      description = "nucleus mass; 1 keeps all (default: ${DEFAULT-VALUE})")
  double topP;

  @Option(
      names = "--top-k",
      defaultValue = "0",
      description = "keep the k most likely tokens; 0 keeps all (default: ${DEFAULT-VALUE})")
  int topK;

  @Option(
      names = "--seed",
      defaultValue = "0",
      description = "seed of the sampling streams (default: ${DEFAULT-VALUE})")
  long seed;

  /** The settings, or an error naming the flag that is out of range. */
  SamplingParams params(boolean greedy, boolean ignoreEos) {
    if (maxNewTokens < 1) {
      throw new IllegalArgumentException("--max-new-tokens must be >= 1, got " + maxNewTokens);
    }
    if (!greedy && !(temperature > 0)) {
      throw new IllegalArgumentException(
          "--temperature must be > 0 (--greedy takes the argmax), got " + temperature);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("--top-k must be >= 0 (0 keeps all), got " + topK);
    }
    return new SamplingParams(maxNewTokens, temperature, topK, topP, greedy, ignoreEos, seed);
  }
}
