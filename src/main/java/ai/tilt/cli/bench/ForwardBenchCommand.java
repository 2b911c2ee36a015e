package ai.tilt.cli.bench;

import ai.tilt.bench.ForwardBench;
import ai.tilt.model.CausalLM;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tilt bench forward}: forward and forward+backward tokens/s of the log-prob loss; MFU. */
@Command(
    name = "forward",
    mixinStandardHelpOptions = true,
    description =
        "Forward and forward+backward tokens/s of the log-prob loss, and MFU against a matmul peak measured in the same run.")
final class ForwardBenchCommand implements Callable<Integer> {
  @Mixin ModelChoice choice;

  @Option(names = "--batch-size", defaultValue = "8")
  int batch;

  @Option(names = "--seq-len", defaultValue = "128")
  int seqLen;

  @Option(names = "--steps", defaultValue = "3", description = "timed steps (median)")
  int steps;

  @Override
  public Integer call() throws Exception {
    try (CausalLM model = choice.load()) {
      BenchOutput.print(ForwardBench.run(model, choice.label(), batch, seqLen, steps));
    }
    return 0;
  }
}
