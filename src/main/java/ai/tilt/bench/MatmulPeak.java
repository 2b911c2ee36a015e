package ai.tilt.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * Achieved fp32 GFLOP/s of square matmuls through DJL, the yardstick for model FLOP utilisation.
 * Measured in the same process as the benchmark it divides, because this machine's throughput moves
 * with the load of its neighbours (shared/anchor/RESULTS.md saw 126-200 GFLOP/s).
 */
public final class MatmulPeak {
  private MatmulPeak() {}

  /** Max over sizes of the median of {@code repeats} timed matmuls. */
  public static double gflops(NDManager parent, int[] sizes, int repeats) {
    double best = 0;
    for (int n : sizes) {
      try (NDManager m = parent.newSubManager()) {
        NDArray a = m.randomNormal(0f, 1f, new Shape(n, n), DataType.FLOAT32);
        NDArray b = m.randomNormal(0f, 1f, new Shape(n, n), DataType.FLOAT32);
        a.matMul(b).close(); // warm-up
        double[] secs = new double[repeats];
        for (int r = 0; r < repeats; r++) {
          long t0 = System.nanoTime();
          NDArray c = a.matMul(b);
          c.getFloat(0, 0); // forces completion on asynchronous devices
          secs[r] = (System.nanoTime() - t0) / 1e9;
          c.close();
        }
        Arrays.sort(secs);
        best = Math.max(best, 2.0 * n * n * n / secs[repeats / 2] / 1e9);
      }
    }
    return best;
  }

  /** The default probe: 1024 and 2048, median of 5. */
  public static double gflops(NDManager parent) {
    return gflops(parent, new int[] {1024, 2048}, 5);
  }
}
