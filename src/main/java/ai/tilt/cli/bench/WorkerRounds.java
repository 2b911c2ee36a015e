package ai.tilt.cli.bench;

import ai.tilt.bench.DataParallelBench;
import ai.tilt.dist.World;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** {@code --nproc} and {@code --rounds} of the benches that time N workers against one. */
final class WorkerRounds {
  @Option(
      names = "--nproc",
      description =
          "data-parallel on N workers of this machine, each taking its share of the batch, against"
              + " one worker with one thread in alternating rounds (needs libtilt_dist.so)")
  Integer nproc;

  @Option(
      names = "--rounds",
      defaultValue = "3",
      description = "with --nproc: alternating rounds (default: ${DEFAULT-VALUE})")
  int rounds;

  /**
   * Runs and prints the N-against-one comparison when --nproc asks for it and this process is not
   * itself a worker; returns whether it did.
   */
  boolean compareIfAsked(World world, CommandSpec spec, String verb) throws Exception {
    if (nproc == null || world.distributed()) {
      return false;
    }
    BenchOutput.print(
        DataParallelBench.compare(nproc, rounds, BenchOutput.withoutWorkers(spec, verb)));
    return true;
  }
}
