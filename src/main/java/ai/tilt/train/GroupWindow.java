package ai.tilt.train;

import java.util.List;

/** An accumulation window of groups: micro-batches of group indices, and their metric sums. */
final class GroupWindow extends Objective.Normalised {
  final List<List<Integer>> micros;
  final int groups; // on this worker; each micro-batch's loss is divided by the step's
  final long tokens;
  final MetricSums sums = new MetricSums();

  GroupWindow(List<List<Integer>> micros, int groups, long tokens) {
    super(groups);
    this.micros = micros;
    this.groups = groups;
    this.tokens = tokens;
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
