package ai.tilt.train;

import java.util.List;

/** An accumulation window of groups: micro-batches of group indices, and their metric sums. */
final class GroupWindow implements Objective.Window {
  final List<List<Integer>> micros;
  final int groups; // on this worker
  final long tokens;
  final MetricSums sums = new MetricSums();
  private double denominator; // each micro-batch's loss is divided by it: the step's groups

  GroupWindow(List<List<Integer>> micros, int groups, long tokens) {
    this.micros = micros;
    this.groups = groups;
    this.tokens = tokens;
    this.denominator = groups;
  }

  @Override
  public double denominator() {
    return denominator;
  }

  @Override
  public void useDenominator(double global) {
    denominator = global;
  }

  @Override
  public int microBatches() {
    return micros.size();
  }

  @Override
  public long tokens() {
    return tokens;
  }
}
