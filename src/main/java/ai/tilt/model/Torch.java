package ai.tilt.model;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Starts DJL's PyTorch engine the way Tilt needs it: offline (libtorch comes from the jars on the
 * classpath, never from the network) and with a thread count that does not collapse on shared
 * machines. Every entry point calls {@link #init()} before touching an NDArray.
 */
public final class Torch {
  private static volatile boolean started;

  private Torch() {}

  /** Sets DJL's system properties (unless the user set them) and starts the engine once. */
  public static synchronized Engine init() {
    if (!started) {
      setIfAbsent("ai.djl.offline", "true");
      setIfAbsent("ai.djl.default_engine", "PyTorch");
      // The TorchScript profiling executor only matters for scripted helpers and logs at start.
      setIfAbsent("ai.djl.pytorch.graph_optimizer", "false");
      Engine engine = Engine.getEngine("PyTorch");
      JniUtils.setNumThreads(threads());
      org.slf4j.LoggerFactory.getLogger(Torch.class).debug("libtorch {} from {}, {} threads ({})",
          engine.getVersion(), ai.djl.pytorch.jni.LibUtils.getLibtorchPath(), threads(), threadsSource());
      started = true;
      return engine;
    }
    return Engine.getEngine("PyTorch");
  }

  /**
   * Intra-op threads: {@code -Dtilt.threads}, else env {@code TILT_THREADS}, else the processors
   * this JVM may use. libtorch's own default counts the host's cores, which oversubscribes a
   * container limited to fewer CPUs ({@code docker run --cpus}); the JVM's count honours the limit.
   * The launcher and the Docker image also set {@code OMP_WAIT_POLICY=PASSIVE}, because spinning
   * OpenMP threads collapse throughput on shared cores (shared/notes/djl.md section 8).
   */
  static int threads() {
    String source = threadsSource();
    String value = source.equals("tilt.threads") ? System.getProperty("tilt.threads")
        : source.equals("TILT_THREADS") ? System.getenv("TILT_THREADS") : null;
    if (value == null) {
      return Runtime.getRuntime().availableProcessors();
    }
    try {
      int n = Integer.parseInt(value.trim());
      if (n >= 1) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(source + "=" + value + ": threads must be a whole number >= 1");
  }

  /** Where the thread count comes from: tilt.threads, TILT_THREADS or machine. */
  static String threadsSource() {
    if (System.getProperty("tilt.threads") != null) {
      return "tilt.threads";
    }
    String env = System.getenv("TILT_THREADS");
    return env != null && !env.isBlank() ? "TILT_THREADS" : "machine";
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
