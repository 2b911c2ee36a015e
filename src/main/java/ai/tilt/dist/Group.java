package ai.tilt.dist;

import ai.djl.ndarray.NDArray;
import java.util.Collection;
import java.util.List;

/**
 * The collectives data-parallel training needs, over every worker of the job: one process ({@link
 * Solo}, where each is the identity) or c10d's Gloo or NCCL process group ({@link C10dGroup}).
 * Every rank must make the same calls in the same order, or the job hangs until the timeout: code
 * that branches on data makes its decision collective first ({@link #any}, {@link #sum}).
 */
public interface Group extends AutoCloseable {
  /** This worker's rank, 0 to {@link #size()} - 1. */
  int rank();

  /** Workers in the job. */
  int size();

  /** Workers of the job on this machine: they share its CPU memory and cores. */
  default int localSize() {
    return 1;
  }

  /** Rank 0: the worker that logs, prints and writes checkpoints. */
  default boolean isMain() {
    return rank() == 0;
  }

  /**
   * Sums every parameter's gradient across workers, in place (a parameter without one joins with
   * zeros). After it, every worker holds the same gradients. Returns the sum, over the parameters
   * in their order, of each gradient's squared L2 norm ({@code linalg_vector_norm}), added one by
   * one in the gradients' dtype: the squared global norm, computed the same way by every
   * implementation (the fallback without Tilt's kernels sums squares instead).
   */
  double allReduceGradients(Collection<NDArray> parameters);

  /** Element-wise sums over workers. */
  double[] sum(double... values);

  /** Element-wise maxima over workers. */
  double[] max(double... values);

  /** Whether any worker says true. */
  default boolean any(boolean mine) {
    return max(mine ? 1 : 0)[0] > 0;
  }

  /** Overwrites each array with rank {@code root}'s. */
  void broadcast(List<NDArray> arrays, int root);

  /** Every worker's bytes, in rank order (small objects: metrics, rollouts, key lists). */
  List<byte[]> allGather(byte[] mine);

  /** {@code out} (W n) gets every worker's {@code in} (n), rank by rank (ZeRO-1's weights). */
  void allGather(NDArray out, NDArray in);

  /** {@code out} (n) gets the sum over workers of this worker's slice of {@code in} (W n). */
  void reduceScatter(NDArray out, NDArray in);

  /** Returns when every worker has called it. */
  void barrier();

  @Override
  void close();
}
