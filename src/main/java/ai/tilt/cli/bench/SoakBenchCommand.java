package ai.tilt.cli.bench;

import ai.tilt.bench.TrainBench;
import ai.tilt.model.CausalLM;
import ai.tilt.runtime.ChildJvm;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tilt bench soak}: RSS over many optimizer steps of a tiny model; it must stay flat. */
@Command(
    name = "soak",
    mixinStandardHelpOptions = true,
    description = {
      "Many optimizer steps of a tiny model with RSS sampled every N steps: native memory must stay flat.",
      "Runs in a child JVM with a fixed, pre-touched 128 MB heap and the C1 JIT only: a growing Java heap and"
          + " the C2 compiler's own arenas raise RSS during warm-up (measured: +20-30 MB in the first 1,000"
          + " steps, then flat) and would hide what this measures, the tensors' native memory."
    })
final class SoakBenchCommand implements Callable<Integer> {
  @Option(names = "--steps", defaultValue = "2000")
  int steps;

  @Option(names = "--every", defaultValue = "100")
  int every;

  @Option(names = "--same-jvm", description = "run in this JVM, with its own flags")
  boolean sameJvm;

  @Override
  public Integer call() throws Exception {
    if (!sameJvm) {
      ProcessBuilder pb =
          ChildJvm.builder(
              List.of("-Xms128m", "-Xmx128m", "-XX:+AlwaysPreTouch", "-XX:TieredStopAtLevel=1"),
              List.of(
                  "bench",
                  "soak",
                  "--same-jvm",
                  "--steps",
                  Integer.toString(steps),
                  "--every",
                  Integer.toString(every)));
      pb.inheritIO();
      return pb.start().waitFor();
    }
    ModelChoice tiny = new ModelChoice();
    tiny.preset = "tiny";
    tiny.arch = "llama";
    tiny.vocab = 512;
    try (CausalLM model = tiny.load()) {
      BenchOutput.print(TrainBench.soak(model, steps, every, System.err));
    }
    return 0;
  }
}
