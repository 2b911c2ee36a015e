package ai.tilt.cli.bench;

import picocli.CommandLine.Command;

/** {@code tilt bench ...}: throughput figures, each run ending in one JSON line. */
@Command(
    name = "bench",
    description = "Benchmarks; each prints one JSON line with its figures and settings.",
    mixinStandardHelpOptions = true,
    subcommands = {
      GenerateBenchCommand.class,
      ForwardBenchCommand.class,
      TrainBenchCommand.class,
      DpoBenchCommand.class,
      OnlineBenchCommand.class,
      MemoryBenchCommand.class,
      AttentionBenchCommand.class,
      ParityBenchCommand.class,
      SoakBenchCommand.class,
      DataBenchCommand.class
    })
public final class BenchCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }
}
