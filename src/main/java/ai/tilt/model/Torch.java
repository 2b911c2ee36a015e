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
      String threads = System.getProperty("tilt.threads");
      if (threads != null) {
        JniUtils.setNumThreads(Integer.parseInt(threads));
      }
      started = true;
      return engine;
    }
    return Engine.getEngine("PyTorch");
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
