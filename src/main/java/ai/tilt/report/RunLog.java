package ai.tilt.report;

import java.io.IOException;
import java.util.Map;

/**
 * Where a run's metrics and console lines go: {@link MetricsLog} on the worker that reports (the
 * only one, or rank 0 of a data-parallel job), {@link #discard()} on the others, whose metrics are
 * rank 0's anyway.
 */
public interface RunLog extends AutoCloseable {
  /** One training step's metrics. */
  void logStep(long step, Map<String, Double> metrics);

  /** Evaluation metrics (keys already prefixed, e.g. {@code eval/loss}). */
  void logEval(long step, Map<String, Double> metrics);

  /** A console line for an event. */
  void note(String message);

  @Override
  void close() throws IOException;

  /** A log that keeps nothing. */
  static RunLog discard() {
    return new RunLog() {
      @Override
      public void logStep(long step, Map<String, Double> metrics) {}

      @Override
      public void logEval(long step, Map<String, Double> metrics) {}

      @Override
      public void note(String message) {}

      @Override
      public void close() {}
    };
  }
}
