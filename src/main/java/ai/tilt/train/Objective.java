package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * A training method as the loop sees it: how a window of items (the examples of a minibatch, split
 * into micro-batches) becomes micro-batch losses and metrics. SFT ({@link SftObjective}), the
 * preference losses ({@link PreferenceObjective}, over a dataset or a rollout's groups), the reward
 * model ({@link RewardObjective}) and the policy-gradient losses ({@link PolicyObjective}) each
 * implement it once.
 */
public interface Objective extends AutoCloseable {
  /**
   * A prepared accumulation window: the micro-batches of this worker's share of one optimizer step.
   */
  interface Window {
    int microBatches();

    /** Real tokens processed in the window (for tokens/s). */
    long tokens();

    /**
     * What the window's loss is a mean over, on this worker: target tokens, sequences or groups;
     * possibly 0 (a worker whose share has no completion tokens), so it can be summed over workers.
     */
    double denominator();

    /**
     * Divides the micro-batch losses by {@code global} instead: the denominator summed over every
     * worker of a data-parallel step, so that their summed gradients are the one-process gradient.
     */
    void useDenominator(double global);
  }

  /**
   * A window that keeps its denominator: it divides by the local one, until {@link #useDenominator}
   * gives the global one; by at least 1 either way (an empty mean is 0, not NaN).
   */
  abstract class Normalised implements Window {
    private final double local;
    private double divisor;

    protected Normalised(double local) {
      this.local = local;
      this.divisor = Math.max(1, local);
    }

    @Override
    public double denominator() {
      return local;
    }

    @Override
    public void useDenominator(double global) {
      divisor = Math.max(1, global);
    }

    /** What the micro-batch losses are divided by. */
    protected double divisor() {
      return divisor;
    }
  }

  /** Builds the window of these micro-batches of item indices. */
  Window prepare(List<List<Integer>> micros);

  /** Micro-batch {@code i}'s share of the window loss, with a graph (a collector is open). */
  NDArray microLoss(NDManager step, Window w, int i);

  /**
   * The window's own metrics once its micro-batches ran, as sums and counts: the workers' sums of a
   * data-parallel step add up to the step's.
   */
  MetricSums metrics(Window w);

  @Override
  default void close() {}
}
