package ai.tilt.runtime;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import ai.djl.util.cuda.CudaUtils;
import java.lang.management.MemoryUsage;
import java.util.OptionalLong;

/**
 * Which device models load on: {@code auto} (the first GPU when libtorch sees one, else the CPU),
 * {@code cpu}, {@code cuda} or {@code cuda:N}. Set once per process (from a recipe's {@code device}
 * key or {@code --device}); everything that makes arrays derives them from a model's manager, so
 * the same code runs on either.
 */
public final class Devices {
  private static volatile Device current;

  private Devices() {}

  /** Parses a device name. */
  public static Device parse(String spec) {
    String s = spec == null ? "auto" : spec.trim().toLowerCase();
    if (s.equals("auto")) {
      Engine engine = Torch.init();
      // a CPU-only libtorch on a GPU host still counts the GPUs (a JNA probe): it cannot use them
      boolean cuda = engine.hasCapability(StandardCapabilities.CUDA);
      return cuda && engine.getGpuCount() > 0 ? Device.gpu() : Device.cpu();
    }
    if (s.equals("cpu")) {
      return Device.cpu();
    }
    if (s.equals("cuda") || s.equals("gpu")) {
      return Device.gpu();
    }
    if (s.startsWith("cuda:") || s.startsWith("gpu:")) {
      try {
        return Device.gpu(Integer.parseInt(s.substring(s.indexOf(':') + 1)));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "device '" + spec + "': the index after ':' must be a number");
      }
    }
    throw new IllegalArgumentException("unknown device '" + spec + "' (auto, cpu, cuda, cuda:N)");
  }

  /**
   * Memory in use on the process's GPU (the whole device's, from CUDA's free/total figures), or
   * empty on the CPU: what benchmarks sample to report a peak.
   */
  public static OptionalLong gpuUsedMb() {
    Device d = current();
    if (!d.isGpu()) {
      return OptionalLong.empty();
    }
    try {
      MemoryUsage m = CudaUtils.getGpuMemory(d);
      return OptionalLong.of(m.getCommitted() >> 20); // DJL reports total - free as committed
    } catch (RuntimeException e) {
      return OptionalLong.empty();
    }
  }

  /** Free memory on the process's GPU in bytes, or -1 on the CPU or when unknown. */
  public static long gpuFreeBytes() {
    Device d = current();
    if (!d.isGpu()) {
      return -1;
    }
    try {
      MemoryUsage m = CudaUtils.getGpuMemory(d);
      return m.getMax() - m.getCommitted();
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /** Makes {@code spec} the process's device. */
  public static void use(String spec) {
    current = parse(spec);
  }

  /** Forgets the device set by {@link #use}: the next {@link #current} reads tilt.device again. */
  public static void reset() {
    current = null;
  }

  /** The process's device ({@code auto} until set). */
  public static Device current() {
    if (current == null) {
      current = parse(System.getProperty("tilt.device", "auto"));
    }
    return current;
  }
}
