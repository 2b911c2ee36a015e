package ai.tilt.train;

import ai.djl.ndarray.NDManager;
import java.util.Map;

/** An objective over a dataset file: its examples are the items, and it may hold out some. */
public interface DatasetObjective extends Objective {
  /** Number of training examples (the epoch length). */
  int trainSize();

  boolean hasEval();

  /** Held-out metrics ({@code eval/...}), computed without a graph. */
  Map<String, Double> evaluate(NDManager parent, int microBatch);

  /** One line about the data, for the run's first log line. */
  String describe();
}
