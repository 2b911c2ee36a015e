package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import java.util.Map;

/**
 * A training method as the loop sees it: how a window of items (the examples of a minibatch, split
 * into micro-batches) becomes micro-batch losses and metrics. SFT ({@link SftObjective}), the
 * preference losses ({@link PreferenceObjective}, over a dataset or a rollout's groups), the reward
 * model ({@link RewardObjective}) and the policy-gradient losses ({@link PolicyObjective}) each
 * implement it once.
 */
public interface Objective extends AutoCloseable {
  /** A prepared accumulation window. */
  interface Window {
    int microBatches();

    /** Real tokens processed in the window (for tokens/s). */
    long tokens();
  }

  /** Builds the window of these micro-batches of item indices. */
  Window prepare(List<List<Integer>> micros);

  /** Micro-batch {@code i}'s share of the window loss, with a graph (a collector is open). */
  NDArray microLoss(NDManager step, Window w, int i);

  /** The window's own metrics once its micro-batches ran (means over the window). */
  Map<String, Double> metrics(Window w);

  @Override
  default void close() {}
}
