package ai.tilt.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Where the iterations of Algorithm 1 get their training material: a dataset file ({@link
 * DatasetSource}: B examples and one optimizer step per iteration) or rollouts ({@link
 * RolloutSource}: B prompts with C responses each, sampled from the current policy or read from a
 * fixed set, and scored). The loop ({@link Trainer}) is the same for both.
 */
interface IterationSource extends AutoCloseable {
  /** Iterations the run makes in all. */
  long iterations();

  /** Optimizer steps of one iteration. */
  int stepsPerIteration();

  /** Examples (or prompts) in an epoch, for the data cursor. */
  int epochSize();

  /** The material of iteration {@code iteration}; a pure function of the seed and the state. */
  IterationPlan collect(long iteration, TrainerState state) throws IOException;

  /** Whether there is held-out data to evaluate. */
  boolean hasEval();

  /** Whether the starting model is evaluated too (on-policy runs compare the final with it). */
  boolean evaluatesStart();

  /** Held-out metrics ({@code eval/...}) of the current policy, computed without a graph. */
  Map<String, Double> evaluate();

  /** What to print when the run has finished; empty for nothing. */
  String finalReport();

  /**
   * Writes what a resume needs besides the trainer's state into a checkpoint being written (the
   * sampling servers' weights and in-flight samples); nothing by default.
   */
  default void saveState(Path checkpoint) throws IOException {}

  /**
   * The checkpoint {@link #saveState} wrote into is complete: what only older checkpoints name may
   * go. Nothing by default.
   */
  default void checkpointCommitted() {}

  /** One line for the run's first log line. */
  String describe();

  @Override
  default void close() {}
}
