package ai.tilt.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The means over an iteration's optimizer steps that its metrics row reports: the loss, the
 * gradient norm and every objective metric, each step weighing the same. Steps with nothing to
 * train on are counted apart and enter no mean.
 */
final class StepMeans {
  private int steps;
  private int emptySteps;
  private double loss;
  private double gradNorm;
  private long tokens;
  private final Map<String, double[]> metrics = new LinkedHashMap<>(); // name -> {sum, count}

  void add(TrainStep.Result result, Map<String, Double> objectiveMetrics, long stepTokens) {
    steps++;
    loss += result.loss();
    gradNorm += result.gradNorm();
    tokens += stepTokens;
    for (Map.Entry<String, Double> e : objectiveMetrics.entrySet()) {
      double[] s = metrics.computeIfAbsent(e.getKey(), k -> new double[2]);
      if (!e.getValue().isNaN()) {
        s[0] += e.getValue();
        s[1]++;
      }
    }
  }

  void empty() {
    emptySteps++;
  }

  int steps() {
    return steps;
  }

  int emptySteps() {
    return emptySteps;
  }

  long tokens() {
    return tokens;
  }

  /** Mean loss of the steps that trained (NaN when none did). */
  double loss() {
    return steps == 0 ? Double.NaN : loss / steps;
  }

  double gradNorm() {
    return steps == 0 ? Double.NaN : gradNorm / steps;
  }

  Map<String, Double> objectiveMetrics() {
    Map<String, Double> out = new LinkedHashMap<>();
    metrics.forEach((k, s) -> out.put(k, s[1] == 0 ? Double.NaN : s[0] / s[1]));
    return out;
  }
}
