package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.dist.World;
import org.junit.jupiter.api.Test;

/** Which GPU a worker of a data-parallel job takes. */
class WorkersTest {
  private static World local(int localRank, int localSize) {
    return new World(
        localRank, localSize, localRank, localSize, "h", 1, localRank == 0, "", "torchrun");
  }

  @Test
  void eachWorkerTakesItsLocalRanksGpu() {
    assertEquals(0, Workers.gpuIndex(local(0, 4), 8));
    assertEquals(3, Workers.gpuIndex(local(3, 4), 8));
    // a scheduler that shows each worker only its own GPU (SLURM --gpus-per-task=1)
    assertEquals(0, Workers.gpuIndex(local(3, 4), 1));
  }

  @Test
  void moreWorkersThanGpusIsRefusedNamingTheRank() {
    String why =
        assertThrows(IllegalStateException.class, () -> Workers.gpuIndex(local(2, 4), 2))
            .getMessage();
    assertTrue(why.contains("rank 2") && why.contains("2 GPU(s)"), why);
  }
}
