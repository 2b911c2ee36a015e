package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.tilt.dist.Group;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * AdamW as a training step uses it: the workers' gradients combined, their global norm, clipping,
 * the update, and state that checkpoints hold in one format whatever the number of workers. {@link
 * AdamW} keeps every moment on every worker (plain data parallelism); {@link ShardedAdamW} keeps
 * each worker's share only (ZeRO stage 1, {@code train.zero: 1}).
 */
public interface Optimizer extends AutoCloseable {
  /**
   * Sums every worker's gradients (each worker divided its losses by the whole step's denominator,
   * so the sum is the one-process gradient) and returns their global L2 norm.
   */
  double reduceGradients(Group group);

  /** Scales the gradients {@link #reduceGradients} combined (clipping). */
  void clip(float scale);

  /** One update of the trainable weights with the combined gradients. */
  void update(double lr);

  /** Updates done so far. */
  long step();

  /** Every state array, for the per-step tempAttach (djl.md section 3, rule 2). */
  List<NDArray> stateArrays();

  /**
   * Brings what {@link #save} writes to the worker that writes it: a collective every worker calls
   * before rank 0 saves (ZeRO gathers the shards; the replicated optimizer has it already).
   */
  default void gather() {}

  /**
   * Writes the moments as {@code exp_avg.NAME} / {@code exp_avg_sq.NAME} (torch's names), whole: a
   * checkpoint does not depend on the number of workers. Rank 0 calls it, after {@link #gather}.
   */
  void save(Path file) throws IOException;

  /** Restores what {@link #save} wrote, each worker keeping what it holds. */
  void load(Path file) throws IOException;

  @Override
  void close();
}
