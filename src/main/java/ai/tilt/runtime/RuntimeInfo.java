package ai.tilt.runtime;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.pytorch.jni.LibUtils;
import ai.djl.util.Utils;
import ai.djl.util.cuda.CudaUtils;
import java.io.IOException;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What a run can count on here: libtorch and its flavour, devices and their memory, threads, bf16,
 * DJL's native cache, disk and memory. {@code tilt doctor} prints it with a fix for each problem;
 * every training run logs {@link #line()} first, so a log from a user's machine says what it ran
 * on.
 *
 * @param problems things a run needs that are missing, each with its fix (doctor exits non-zero)
 * @param warnings things that work but cost speed or risk a failure later, each with advice
 */
public record RuntimeInfo(
    String java,
    String os,
    int cores,
    String engine,
    String flavour,
    String libtorch,
    String libtorchVersion,
    String jni,
    List<String> features,
    String device,
    List<String> gpus,
    int threads,
    String threadsSource,
    int interopThreads,
    String ompWaitPolicy,
    String bf16,
    Path cacheDir,
    long cacheBytes,
    Path diskPath,
    long diskFreeBytes,
    long memAvailableBytes,
    long maxHeapBytes,
    List<String> problems,
    List<String> warnings) {

  /** Below this a run is refused: even a small model's checkpoint may not fit. */
  static final long MIN_DISK = 256L << 20;

  /**
   * Below this a run is warned: a medium model's checkpoints (weights + AdamW state, keep_last 2)
   * take about that.
   */
  static final long LOW_DISK = 2L << 30;

  /** The bf16 status on a CPU without bf16 instructions; {@code tilt train} warns on it. */
  public static final String EMULATED_BF16 =
      "ok (emulated, far slower than fp32 on this CPU: train in fp32)";

  private static final Pattern FLAVOUR = Pattern.compile("-(cpu|cu\\d+)(-precxx11)?-linux");

  /**
   * Probes the machine; {@code runDir} is where checkpoints go (its nearest existing ancestor is
   * measured).
   */
  public static RuntimeInfo probe(Path runDir) {
    List<String> problems = new ArrayList<>();
    List<String> warnings = new ArrayList<>();
    Runtime rt = Runtime.getRuntime();
    String java =
        System.getProperty("java.runtime.version") + " (" + System.getProperty("java.vendor") + ")";
    String os = System.getProperty("os.name") + " " + System.getProperty("os.arch");
    String engineText = "not loaded";
    String flavour = "-";
    String libtorch = "-";
    String libtorchVersion = "-";
    String jni = "-";
    List<String> features = List.of();
    String device = System.getProperty("tilt.device", "auto");
    List<String> gpus = new ArrayList<>();
    int threads = 0;
    int interop = 0;
    String bf16 = "-";
    Engine engine = null;
    try {
      Torch.threads();
      engine = Torch.init();
    } catch (IllegalArgumentException e) {
      problems.add(
          e.getMessage() + "\n  fix: unset it, or give the number of intra-op threads (e.g. 4)");
    } catch (Throwable e) { // UnsatisfiedLinkError and EngineException both mean: no libtorch
      problems.add(
          "libtorch did not load: "
              + firstLine(e)
              + "\n  fix: the CPU build needs pytorch-native-cpu in the"
              + " jar (mvn package puts it in target/tilt.jar); another libtorch (a CUDA one, a newer"
              + " one) needs DJL's JNI built against it: scripts/build-jni.sh --torch DIR, then source"
              + " the env.sh it writes;"
              + " either needs a writable DJL cache (DJL_CACHE_DIR, now "
              + Utils.getCacheDir()
              + ")");
    }
    if (engine != null) {
      engineText = "PyTorch " + engine.getVersion() + " (DJL " + Engine.getDjlVersion() + ")";
      libtorch = LibUtils.getLibtorchPath();
      flavour = flavourOf(libtorch);
      NativeLibraries mapped = NativeLibraries.probe();
      if (mapped.libtorchPath() != null) {
        libtorch = mapped.libtorchPath();
      }
      libtorchVersion = mapped.libtorchVersion() == null ? "unknown" : mapped.libtorchVersion();
      jni = mapped.jniText();
      mapped.mismatch().ifPresent(problems::add);
      features = List.copyOf(new TreeSet<>(JniUtils.getFeatures()));
      threads = JniUtils.getNumThreads();
      interop = JniUtils.getNumInteropThreads();
      boolean cuda = engine.hasCapability(StandardCapabilities.CUDA);
      int count = cuda ? engine.getGpuCount() : 0;
      for (int i = 0; i < count; i++) {
        gpus.add(gpuText(i));
      }
      if (!cuda && CudaUtils.getGpuCount() > 0) {
        warnings.add(
            CudaUtils.getGpuCount()
                + " GPU(s) present but this libtorch is CPU-only"
                + "\n  advice: use the CUDA build (mvn -Pcuda package, or the Docker image with FLAVOUR=cu128)");
      }
      try {
        Device d = Devices.parse(device);
        device = d.isGpu() ? "cuda:" + d.getDeviceId() : "cpu";
        if (d.isGpu() && d.getDeviceId() >= count) {
          problems.add(
              "device "
                  + device
                  + " requested but libtorch sees "
                  + count
                  + " GPU(s)"
                  + "\n  fix: run on a GPU machine with the CUDA build (docker run --gpus all ...), or pass --device cpu");
        } else {
          bf16 = bf16Text(d, problems, warnings);
        }
      } catch (IllegalArgumentException e) {
        problems.add(e.getMessage() + "\n  fix: --device auto, cpu, cuda or cuda:N");
      }
    }
    String omp = Torch.ompWaitPolicy();
    if (threads > 1 && !omp.toLowerCase(Locale.ROOT).startsWith("passive")) {
      warnings.add(
          "OMP_WAIT_POLICY is "
              + omp
              + ": spinning OpenMP threads collapse throughput when other"
              + " processes share the cores\n  advice: unset it (Tilt then sets PASSIVE) or export OMP_WAIT_POLICY=PASSIVE");
    }
    Path cache = Utils.getCacheDir();
    long cacheBytes = sizeOf(cache);
    Path existing = nearestExisting(runDir.toAbsolutePath());
    long free = -1;
    try {
      free = Files.getFileStore(existing).getUsableSpace();
      if (free < MIN_DISK) {
        problems.add(
            String.format(
                Locale.ROOT,
                "only %s free under %s\n  fix: free space there or pass"
                    + " --run-dir on a larger disk",
                bytes(free),
                existing));
      } else if (free < LOW_DISK) {
        warnings.add(
            "only "
                + bytes(free)
                + " free under "
                + existing
                + "\n  advice: checkpoints of larger models"
                + " (weights + AdamW state) may not fit; lower checkpoint.keep_last or use another --run-dir");
      }
      if (!Files.isWritable(existing)) {
        problems.add(
            existing + " is not writable\n  fix: mount a writable volume there or pass --run-dir");
      }
    } catch (IOException e) {
      warnings.add("could not measure free disk under " + existing + ": " + e.getMessage());
    }
    long available = memAvailable();
    if (available >= 0 && available < (1L << 30)) {
      warnings.add(
          "only "
              + bytes(available)
              + " of memory available\n  advice: close other jobs or use a smaller preset");
    }
    return new RuntimeInfo(
        java,
        os,
        rt.availableProcessors(),
        engineText,
        flavour,
        libtorch,
        libtorchVersion,
        jni,
        features,
        device,
        List.copyOf(gpus),
        threads,
        Torch.threadsSource(),
        interop,
        omp,
        bf16,
        cache,
        cacheBytes,
        existing,
        free,
        available,
        rt.maxMemory(),
        List.copyOf(problems),
        List.copyOf(warnings));
  }

  /** The one-line summary every run logs first. */
  public String line() {
    return String.format(
        Locale.ROOT,
        "%s %s on %s%s, %d threads (%s, OMP %s), bf16 %s, DJL cache %s (%s),"
            + " %s free disk, %s memory available, heap %s",
        engine,
        flavour,
        device,
        gpus.isEmpty() ? "" : " [" + String.join("; ", gpus) + "]",
        threads,
        threadsSource,
        ompWaitPolicy.toLowerCase(Locale.ROOT),
        bf16,
        cacheDir,
        bytes(cacheBytes),
        bytes(diskFreeBytes),
        bytes(memAvailableBytes),
        bytes(maxHeapBytes));
  }

  /** Human-readable bytes: 1.5 GB, 820 MB. */
  public static String bytes(long b) {
    if (b < 0) {
      return "?";
    }
    if (b >= (1L << 30)) {
      return String.format(Locale.ROOT, "%.1f GB", b / (double) (1L << 30));
    }
    return String.format(Locale.ROOT, "%d MB", Math.round(b / (double) (1L << 20)));
  }

  /**
   * The flavour from a libtorch directory DJL extracted (".../2.7.1-20250812-cpu-linux-x86_64/").
   */
  static String flavourOf(String libtorchPath) {
    String external = System.getenv("PYTORCH_LIBRARY_PATH");
    if (external != null && !external.isBlank()) {
      String f = System.getenv("PYTORCH_FLAVOR");
      return (f == null ? "external" : f) + " (PYTORCH_LIBRARY_PATH)";
    }
    Matcher m = FLAVOUR.matcher(libtorchPath == null ? "" : libtorchPath);
    return m.find() ? m.group(1) + (m.group(2) == null ? "" : m.group(2)) : "unknown";
  }

  private static String gpuText(int i) {
    String text = "cuda:" + i;
    try {
      text += " sm_" + CudaUtils.getComputeCapability(i);
      MemoryUsage mem = CudaUtils.getGpuMemory(Device.gpu(i));
      text += ", " + bytes(mem.getMax() - mem.getCommitted()) + " free of " + bytes(mem.getMax());
    } catch (RuntimeException e) {
      text += " (" + firstLine(e) + ")";
    }
    return text;
  }

  /** Runs one bf16 product through the kernels and compares it with float32. */
  private static String bf16Text(Device d, List<String> problems, List<String> warnings) {
    Kernels k = Kernels.on(d);
    if (k == null) {
      warnings.add(
          "bf16 kernels did not load ("
              + Kernels.loadError()
              + ")\n  advice: precision fp32 still works;"
              + " bf16-mixed and bf16 will refuse to start");
      return "unavailable";
    }
    try (NDManager m = NDManager.newBaseManager(d)) {
      NDArray a = Scalars.div(m.arange(12f).reshape(3, 4), 4f);
      NDArray b = Scalars.div(m.arange(8f).reshape(4, 2), 8f);
      float diff = k.matmulBf16(a, b).sub(a.dot(b)).abs().max().getFloat();
      if (!(diff < 0.05f)) {
        problems.add(
            "bf16 matmul differs from float32 by " + diff + "\n  fix: train with precision: fp32");
        return "wrong";
      }
    }
    if (d.isGpu()) {
      String cc = CudaUtils.getComputeCapability(d.getDeviceId());
      boolean fast = cc.compareTo("80") >= 0;
      return fast ? "ok (tensor cores)" : "ok (sm_" + cc + " has no bf16 tensor cores: slow)";
    }
    if (cpuFlag("amx_bf16")) {
      return "ok (AMX)";
    }
    if (cpuFlag("avx512_bf16")) {
      return "ok (AVX512-BF16)";
    }
    // measured 20x slower than fp32 (Llama-small DPO, README Mixed precision)
    return EMULATED_BF16;
  }

  private static boolean cpuFlag(String flag) {
    try (Stream<String> lines = Files.lines(Path.of("/proc/cpuinfo"))) {
      return lines.anyMatch(
          l -> l.startsWith("flags") && (" " + l + " ").contains(" " + flag + " "));
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** MemAvailable from /proc/meminfo, capped by a cgroup (container) limit; -1 where unknown. */
  public static long memAvailable() {
    long available = -1;
    try (Stream<String> lines = Files.lines(Path.of("/proc/meminfo"))) {
      available =
          lines
              .filter(l -> l.startsWith("MemAvailable:"))
              .mapToLong(l -> Long.parseLong(l.replaceAll("\\D+", "")) * 1024)
              .findFirst()
              .orElse(-1);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    for (String[] f :
        new String[][] {
          {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
          {
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes"
          }
        }) {
      try {
        long limit = Long.parseLong(Files.readString(Path.of(f[0])).trim());
        long used = Long.parseLong(Files.readString(Path.of(f[1])).trim());
        if (limit < (1L << 50)) {
          available = Math.min(available, Math.max(0, limit - used));
        }
      } catch (IOException | RuntimeException e) {
        // no such cgroup file ("max" or absent): no container limit
      }
    }
    return available;
  }

  private static long sizeOf(Path dir) {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static Path nearestExisting(Path p) {
    Path q = p;
    while (q != null && !Files.exists(q)) {
      q = q.getParent();
    }
    return q == null ? Path.of(".").toAbsolutePath() : q;
  }

  private static String firstLine(Throwable e) {
    String s = e.getMessage() == null ? e.toString() : e.getMessage();
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
