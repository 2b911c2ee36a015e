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

  /**
   * Lays the parameters' values and gradients end to end in {@code flatParams} and {@code
   * flatGrads} (1-D, of their dtype, at least their total length), in their order: each parameter
   * becomes a view of its slice of {@code flatParams} and its gradient a view of its slice of
   * {@code flatGrads}, which backward then adds into in place. Collectives on the flat vectors then
   * need no copy in or out (ZeRO-1). Needs Tilt's dist library: one process without it cannot.
   */
  void flatten(List<NDArray> params, NDArray flatParams, NDArray flatGrads);

  /**
   * The index of the first parameter that is no longer the view {@link #flatten} made (something
   * replaced its storage or its gradient since), or -1 when all still are.
   */
  int unflattened(List<NDArray> params, NDArray flatParams, NDArray flatGrads);

  /** Returns when every worker has called it. */
  void barrier();

  @Override
  void close();
}
