package ai.tilt.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
