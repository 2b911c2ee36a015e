package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;

/**
 * A preference objective over one rollout, addressed by prompt: the loop makes minibatches of
 * prompts, and each prompt owns zero or more groups (the pairs of its responses that passed the
 * reward-gap threshold, or all its responses). Prompts without a group contribute nothing; a
 * minibatch without any makes an empty window, which the loop counts and skips.
 */
final class IterationObjective implements Objective {
  private final PreferenceObjective inner;
  private final List<List<Integer>> groupsOfPrompt;

  IterationObjective(PreferenceObjective inner, List<List<Integer>> groupsOfPrompt) {
    this.inner = inner;
    this.groupsOfPrompt = groupsOfPrompt;
  }

  @Override
  public Window prepare(List<List<Integer>> micros) {
    List<List<Integer>> groups = new ArrayList<>();
    for (List<Integer> micro : micros) {
      List<Integer> g = new ArrayList<>();
      for (int prompt : micro) {
        g.addAll(groupsOfPrompt.get(prompt));
      }
      if (!g.isEmpty()) {
        groups.add(g);
      }
    }
    return inner.prepare(groups);
  }

  @Override
  public NDArray microLoss(NDManager step, Window w, int i) {
    return inner.microLoss(step, w, i);
  }

  @Override
  public MetricSums metrics(Window w) {
    MetricSums m = inner.metrics(w);
    m.total("pairs/groups", ((GroupWindow) w).groups);
    return m;
  }
}
