package ai.tilt.cli.bench;

import ai.tilt.bench.PrecisionBench;
import ai.tilt.model.CausalLM;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tilt bench parity}: bf16-mixed against fp32: gradient cosines, log-prob differences. */
@Command(
    name = "parity",
    mixinStandardHelpOptions = true,
    description =
        "bf16-mixed against fp32 on this device: the smallest per-parameter gradient cosine and the largest"
            + " log-prob difference (the GPU smoke check).")
final class ParityBenchCommand implements Callable<Integer> {
  @Mixin ModelChoice choice;

  @Option(names = "--batch-size", defaultValue = "4")
  int batch;

  @Option(names = "--seq-len", defaultValue = "64")
  int seqLen;

  @Override
  public Integer call() throws Exception {
    try (CausalLM a = choice.load();
        CausalLM b = choice.load()) {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("bench", "parity");
      out.put("model", choice.label());
      out.put("device", a.manager().getDevice().toString());
      out.putAll(PrecisionBench.parity(a, b, batch, seqLen));
      BenchOutput.print(out);
    }
    return 0;
  }
}
