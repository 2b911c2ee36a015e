package ai.tilt.runtime;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.pytorch.jni.LibUtils;
import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * Starts DJL's PyTorch engine the way Tilt needs it: offline (libtorch comes from the jars on the
 * classpath, never from the network) and with a thread count that does not collapse on shared
 * machines. Every entry point calls {@link #init()} before touching an NDArray.
 */
public final class Torch {
  private static volatile boolean started;
  private static volatile int localWorkers = 1; // shareCoresAmong
  private static volatile String ompWaitPolicy;

  private Torch() {}

  /** Sets DJL's system properties (unless the user set them) and starts the engine once. */
  public static synchronized Engine init() {
    if (!started) {
      setIfAbsent("ai.djl.offline", "true");
      setIfAbsent("ai.djl.default_engine", "PyTorch");
      // The TorchScript profiling executor only matters for scripted helpers and logs at start.
      setIfAbsent("ai.djl.pytorch.graph_optimizer", "false");
      passiveOpenMp();
      Engine engine = Engine.getEngine("PyTorch");
      int threads = threads();
      JniUtils.setNumThreads(threads);
      LoggerFactory.getLogger(Torch.class)
          .debug(
              "libtorch {} from {}, {} threads ({})",
              engine.getVersion(),
              LibUtils.getLibtorchPath(),
              threads,
              threadsSource());
      started = true;
      return engine;
    }
    return Engine.getEngine("PyTorch");
  }

  /**
   * Intra-op threads: {@code -Dtilt.threads}, else env {@code TILT_THREADS}, else for one of
   * several data-parallel workers on a machine ({@code LOCAL_WORLD_SIZE} > 1, or {@link
   * #shareCoresAmong}) {@code OMP_NUM_THREADS} (torchrun sets it), {@code SLURM_CPUS_PER_TASK}
   * (SLURM's CPUs for each task) or its share of {@code SLURM_CPUS_ON_NODE} or of the processors,
   * else the processors this JVM may use. libtorch's own default counts the host's cores, which
   * oversubscribes a container limited to fewer CPUs ({@code docker run --cpus}); the JVM's count
   * honours the limit. Together with {@link #passiveOpenMp()} this is a default that does not
   * collapse when other processes share the cores.
   */
  static int threads() {
    return threads(System.getenv());
  }

  static int threads(Map<String, String> env) {
    String source = threadsSource(env);
    String value =
        source.equals("tilt.threads")
            ? System.getProperty("tilt.threads")
            : source.equals("TILT_THREADS") ? env.get("TILT_THREADS") : null;
    if (source.equals("worker")) {
      String omp = env.get("OMP_NUM_THREADS");
      String perTask = env.get("SLURM_CPUS_PER_TASK");
      String onNode = env.get("SLURM_CPUS_ON_NODE");
      if (omp != null && !omp.isBlank()) {
        source = "OMP_NUM_THREADS";
        value = omp;
      } else if (perTask != null && !perTask.isBlank()) {
        source = "SLURM_CPUS_PER_TASK";
        value = perTask;
      } else {
        // SLURM's CPUs of the job on this node, where given: a task pinned to its own CPUs sees
        // only those, and dividing its count again would leave it a fraction of them
        int cpus =
            onNode != null && onNode.trim().matches("\\d+")
                ? Integer.parseInt(onNode.trim())
                : Runtime.getRuntime().availableProcessors();
        value = Integer.toString(Math.max(1, cpus / localWorkers(env)));
      }
    }
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
    throw new IllegalArgumentException(
        source + "=" + value + ": threads must be a whole number >= 1");
  }

  /**
   * Says that {@code workers} workers of a data-parallel job share this machine's cores, as the
   * job's launcher described it (torchrun's {@code LOCAL_WORLD_SIZE} is read at start; SLURM's
   * tasks per node come only through the parsed world): unless the user chose a count, this worker
   * then takes its share ({@link #threads}), at once if the engine has started.
   */
  public static synchronized void shareCoresAmong(int workers) {
    localWorkers = Math.max(1, workers);
    if (started) {
      JniUtils.setNumThreads(threads());
    }
  }

  /** The workers sharing this machine's cores: LOCAL_WORLD_SIZE, else what the world said. */
  private static int localWorkers(Map<String, String> env) {
    String local = env.get("LOCAL_WORLD_SIZE");
    if (local != null && !local.isBlank()) {
      try {
        return Math.max(1, Integer.parseInt(local.trim()));
      } catch (NumberFormatException e) {
        return localWorkers;
      }
    }
    return localWorkers;
  }

  /**
   * Copies {@code src} into {@code dst} in place, on the device, without a graph: what loading a
   * checkpoint's state into live arrays needs. DJL's {@code set(ByteBuffer)} would do it through
   * the host and makes libtorch print a deprecation warning (AutoNonVariableTypeMode) to the
   * console of every resumed run.
   */
  public static void copyInto(NDArray dst, NDArray src) {
    if (!dst.getShape().equals(src.getShape())) {
      throw new IllegalArgumentException(
          "cannot copy " + src.getShape() + " into " + dst.getShape());
    }
    dst.set(new NDIndex(dst.getShape().dimension() == 0 ? "" : ":"), src);
  }

  /** Where the thread count comes from: tilt.threads, TILT_THREADS, worker or machine. */
  static String threadsSource() {
    return threadsSource(System.getenv());
  }

  static String threadsSource(Map<String, String> env) {
    if (System.getProperty("tilt.threads") != null) {
      return "tilt.threads";
    }
    String set = env.get("TILT_THREADS");
    if (set != null && !set.isBlank()) {
      return "TILT_THREADS";
    }
    return localWorkers(env) > 1 ? "worker" : "machine";
  }

  /**
   * Makes libtorch's OpenMP threads wait passively unless the user chose a policy: spinning threads
   * lose 40-70% of throughput when other processes share the cores, and waiting passively measured
   * within noise of spinning on idle cores (shared/notes/djl.md section 8; README, Benchmarks).
   * libgomp reads {@code OMP_WAIT_POLICY} once, when libtorch loads it, so this sets the process's
   * environment through libc's {@code setenv} (JNA, which DJL already uses) just before the engine
   * starts; Java's own {@code System.getenv} cannot change it.
   */
  static void passiveOpenMp() {
    String chosen = System.getenv("OMP_WAIT_POLICY");
    if (chosen != null && !chosen.isBlank()) {
      ompWaitPolicy = chosen;
      return;
    }
    ompWaitPolicy = "unset";
    if (Platform.isWindows()) {
      return;
    }
    try {
      Function setenv = NativeLibrary.getInstance(Platform.C_LIBRARY_NAME).getFunction("setenv");
      if (setenv.invokeInt(new Object[] {"OMP_WAIT_POLICY", "PASSIVE", 0}) == 0) {
        ompWaitPolicy = "PASSIVE (set by tilt)";
      }
    } catch (RuntimeException | UnsatisfiedLinkError e) {
      // no libc to call: libgomp keeps its default (spinning briefly before sleeping)
    }
  }

  /**
   * Drops libtorch to one intra-op thread for the small ops of a sampling step: the decode body
   * ({@link CausalLM#decodeLogits}) and the draw from a few MB of logits ({@link
   * ai.tilt.sampling.TokenSampler}). Returns the count for {@link #restoreThreads}. Each op that
   * runs on several threads wakes the passively waiting workers, which costs more than these ops'
   * arithmetic (measured on llama-small: the body 6.5 vs 7.8 ms a step at batch 16, the draw about
   * 0.4 ms less a step at batch 8). {@code -Dtilt.decode_threads=all} keeps every thread (for
   * measuring the difference).
   */
  public static int oneThreadForDecode() {
    if ("all".equals(System.getProperty("tilt.decode_threads"))) {
      return 0;
    }
    int n = JniUtils.getNumThreads();
    if (n > 1) {
      JniUtils.setNumThreads(1);
    }
    return n;
  }

  public static void restoreThreads(int n) {
    if (n > 1) {
      JniUtils.setNumThreads(n);
    }
  }

  /** The OpenMP wait policy libtorch runs with: the user's, Tilt's PASSIVE, or "unset". */
  public static String ompWaitPolicy() {
    return ompWaitPolicy == null ? "unset" : ompWaitPolicy;
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
