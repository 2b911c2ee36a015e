package ai.tilt.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The pieces of {@link RuntimeInfo} and the thread default that do not depend on the machine. */
class RuntimeInfoTest {
  @Test
  void flavourComesFromDjlsCacheDirectoryName() {
    Assumptions.assumeTrue(
        System.getenv("PYTORCH_LIBRARY_PATH") == null,
        "an external libtorch names its own flavour");
    assertEquals(
        "cpu", RuntimeInfo.flavourOf("/root/.djl.ai/pytorch/2.7.1-20250812-cpu-linux-x86_64"));
    assertEquals("cu128", RuntimeInfo.flavourOf("/c/pytorch/2.7.1-20250812-cu128-linux-x86_64"));
    assertEquals(
        "cpu-precxx11",
        RuntimeInfo.flavourOf("/c/pytorch/2.5.1-20241113-cpu-precxx11-linux-x86_64"));
    assertEquals("unknown", RuntimeInfo.flavourOf("/opt/libtorch/lib"));
  }

  @Test
  void threadsComeFromThePropertyAndBadValuesNameTheirSource() {
    String before = System.getProperty("tilt.threads");
    try {
      System.setProperty("tilt.threads", "3");
      assertEquals(3, Torch.threads());
      assertEquals("tilt.threads", Torch.threadsSource());
      System.setProperty("tilt.threads", "0");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Torch::threads);
      assertEquals("tilt.threads=0: threads must be a whole number >= 1", e.getMessage());
      System.clearProperty("tilt.threads");
      if (System.getenv("TILT_THREADS") == null) {
        assertEquals(Runtime.getRuntime().availableProcessors(), Torch.threads());
        assertEquals("machine", Torch.threadsSource());
      }
    } finally {
      if (before == null) {
        System.clearProperty("tilt.threads");
      } else {
        System.setProperty("tilt.threads", before);
      }
    }
  }

  /**
   * A data-parallel worker takes its share of the cores: torchrun's OMP_NUM_THREADS, SLURM's CPUs
   * per task, else the processors over the workers on the machine, whether LOCAL_WORLD_SIZE
   * (torchrun) or the parsed world (SLURM) says how many; a user's TILT_THREADS still wins.
   */
  @Test
  void aWorkerTakesItsShareOfTheCores() {
    Assumptions.assumeTrue(System.getProperty("tilt.threads") == null);
    int cpus = Runtime.getRuntime().availableProcessors();
    assertEquals("machine", Torch.threadsSource(Map.of()));
    assertEquals(cpus, Torch.threads(Map.of()));
    assertEquals("worker", Torch.threadsSource(Map.of("LOCAL_WORLD_SIZE", "2")));
    assertEquals(Math.max(1, cpus / 2), Torch.threads(Map.of("LOCAL_WORLD_SIZE", "2")));
    assertEquals(3, Torch.threads(Map.of("LOCAL_WORLD_SIZE", "2", "OMP_NUM_THREADS", "3")));
    assertEquals(5, Torch.threads(Map.of("LOCAL_WORLD_SIZE", "2", "SLURM_CPUS_PER_TASK", "5")));
    assertEquals(7, Torch.threads(Map.of("LOCAL_WORLD_SIZE", "2", "TILT_THREADS", "7")));
    // SLURM's CPUs on the node, shared out: not the task's own CPUs divided again
    assertEquals(4, Torch.threads(Map.of("LOCAL_WORLD_SIZE", "2", "SLURM_CPUS_ON_NODE", "8")));
    IllegalArgumentException bad =
        assertThrows(
            IllegalArgumentException.class,
            () -> Torch.threads(Map.of("LOCAL_WORLD_SIZE", "2", "OMP_NUM_THREADS", "x")));
    assertEquals("OMP_NUM_THREADS=x: threads must be a whole number >= 1", bad.getMessage());
    try {
      Torch.shareCoresAmong(4); // SLURM: no LOCAL_WORLD_SIZE, the world says 4 on this node
      assertEquals("worker", Torch.threadsSource(Map.of()));
      assertEquals(Math.max(1, cpus / 4), Torch.threads(Map.of()));
      assertEquals(2, Torch.threads(Map.of("SLURM_CPUS_PER_TASK", "2")));
    } finally {
      Torch.shareCoresAmong(1);
    }
    assertEquals(cpus, Torch.threads(Map.of()));
  }

  @Test
  void availableMemoryIsReadOnLinux() {
    Assumptions.assumeTrue(System.getProperty("os.name").startsWith("Linux"));
    long m = RuntimeInfo.memAvailable();
    assertTrue(m > (64L << 20) && m < (1L << 50), "MemAvailable " + m);
  }

  /**
   * Without a user's choice, the process environment libgomp reads says PASSIVE once the engine
   * started.
   */
  @Test
  void openMpWaitsPassivelyUnlessTheUserChose() {
    Torch.init();
    String chosen = System.getenv("OMP_WAIT_POLICY");
    com.sun.jna.Function getenv =
        com.sun.jna.NativeLibrary.getInstance(com.sun.jna.Platform.C_LIBRARY_NAME)
            .getFunction("getenv");
    String nativeValue = (String) getenv.invoke(String.class, new Object[] {"OMP_WAIT_POLICY"});
    if (chosen == null) {
      assertEquals("PASSIVE (set by tilt)", Torch.ompWaitPolicy());
      assertEquals("PASSIVE", nativeValue);
    } else {
      assertEquals(chosen, Torch.ompWaitPolicy());
      assertEquals(chosen, nativeValue);
    }
  }
}
