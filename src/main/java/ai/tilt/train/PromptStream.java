package ai.tilt.train;

import ai.tilt.data.PromptSet;
import java.util.ArrayList;
import java.util.List;

/**
 * Which training prompts an on-policy iteration collects: the next B of the seeded per-epoch order
 * (Tajwar et al., 2024, Algorithm 1, step 1), and for dynamic sampling's extra rounds B prompts of
 * the round's own permutation. Both are pure functions of the seed and the iteration (the epoch
 * order is cached, not state), so a resumed run collects the same prompts.
 */
final class PromptStream {
  private final List<PromptSet.Prompt> prompts;
  private final Streams streams;
  private final int perIteration;
  private long[] order; // the prompt permutation of epoch orderEpoch
  private long orderEpoch = -1;

  PromptStream(List<PromptSet.Prompt> prompts, Streams streams, int perIteration) {
    this.prompts = prompts;
    this.streams = streams;
    this.perIteration = perIteration;
  }

  /** The B prompts of an iteration: the next stretch of the seeded per-epoch prompt order. */
  List<PromptSet.Prompt> next(long iteration) {
    List<PromptSet.Prompt> out = new ArrayList<>();
    for (long k = iteration * perIteration; k < (iteration + 1) * perIteration; k++) {
      long epoch = k / prompts.size();
      if (order == null || orderEpoch != epoch) {
        order = streams.epochOrder(prompts.size(), epoch);
        orderEpoch = epoch;
      }
      out.add(prompts.get((int) order[(int) (k % prompts.size())]));
    }
    return out;
  }

  /** Dynamic sampling's extra round k (>= 1): B prompts from the round's own permutation. */
  List<PromptSet.Prompt> extra(long iteration, int round) {
    long[] perm = streams.extraRoundPrompts(iteration, round, prompts.size());
    List<PromptSet.Prompt> out = new ArrayList<>();
    for (int i = 0; i < perIteration; i++) {
      out.add(prompts.get((int) perm[i % perm.length]));
    }
    return out;
  }

  int size() {
    return prompts.size();
  }
}
