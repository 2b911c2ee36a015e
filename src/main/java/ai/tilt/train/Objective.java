package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import java.util.Map;

/**
 * A training method as the loop sees it: its data, and how a window of examples becomes micro-batch
 * losses and metrics. The loop itself ({@link Trainer}) knows only example indices; SFT ({@link
 * SftObjective}), the preference losses ({@link PreferenceObjective}) and the reward model ({@link
 * RewardObjective}) each implement this once.
 */
public interface Objective extends AutoCloseable {
  /** A prepared accumulation window. */
  interface Window {
    int microBatches();

    /** Real tokens processed in the window (for tokens/s). */
    long tokens();
  }

  /** Number of training examples (the epoch length). */
  int trainSize();

  /** Builds the window of these micro-batches of training-example indices. */
  Window prepare(List<List<Integer>> micros);

  /** Micro-batch {@code i}'s share of the window loss, with a graph (a collector is open). */
  NDArray microLoss(NDManager step, Window w, int i);

  /** The window's own metrics once its micro-batches ran (means over the window). */
  Map<String, Double> metrics(Window w);

  boolean hasEval();

  /** Held-out metrics ({@code eval/...}), computed without a graph. */
  Map<String, Double> evaluate(NDManager parent, int microBatch);

  /** One line about the data, for the run's first log line. */
  String describe();

  @Override
  default void close() {}
}
