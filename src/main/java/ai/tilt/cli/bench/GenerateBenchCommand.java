package ai.tilt.cli.bench;

import ai.tilt.bench.GenerateBench;
import ai.tilt.model.CausalLM;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tilt bench generate}: sampling tokens/s with and without the KV cache, and GFLOP/s. */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description =
        "Batched sampling tokens/s with and without the KV cache, and GFLOP/s against a matmul peak measured in the same run.")
final class GenerateBenchCommand implements Callable<Integer> {
  @Mixin ModelChoice choice;

  @Option(names = "--batch-size", defaultValue = "8")
  int batch;

  @Option(names = "--prompt-len", defaultValue = "64")
  int promptLen;

  @Option(names = "--new-tokens", defaultValue = "128")
  int newTokens;

  @Option(
      names = "--repeats",
      defaultValue = "3",
      description = "timed runs with the cache (median)")
  int repeats;

  @Option(
      names = "--no-cache-repeats",
      defaultValue = "1",
      description = "timed runs without the cache (0 skips)")
  int noCache;

  @Override
  public Integer call() throws Exception {
    try (CausalLM model = choice.load()) {
      BenchOutput.print(
          GenerateBench.run(model, choice.label(), batch, promptLen, newTokens, repeats, noCache));
    }
    return 0;
  }
}
