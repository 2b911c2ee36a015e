package ai.tilt.train;

import ai.tilt.data.ResponseGroup;
import ai.tilt.loss.GroupLoss;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Turns a rollout into the groups the preference losses train on: pairs of a prompt's C responses
 * (chosen = higher reward) for pair losses, one labelled response per row for KTO (desirable when
 * its reward beats its prompt's mean), or all C scored responses for RWR and Best-of-N.
 */
final class PairBuilder {
  /**
   * The groups of one rollout and, for each prompt, the indices of its groups.
   *
   * @param referenceSums [group][response] reference log-prob sums, from the rollout's per-token
   *     ones
   */
  record Built(
      List<ResponseGroup> groups, List<List<Integer>> groupsOfPrompt, float[][] referenceSums) {}

  private PairBuilder() {}

  static Built build(Rollout r, GroupLoss loss, Online cfg, Streams streams) {
    List<ResponseGroup> groups = new ArrayList<>();
    List<float[]> refs = new ArrayList<>();
    List<List<Integer>> ofPrompt = new ArrayList<>();
    int c = r.samplesPerPrompt();
    SplittableRandom rnd = streams.pairs(r.iteration());
    for (int g = 0; g < r.prompts().size(); g++) {
      List<Integer> mine = new ArrayList<>();
      long[] prompt = r.prompts().get(g).ids();
      int line = r.prompts().get(g).line();
      int base = g * c;
      switch (loss.grouping()) {
        case LABELLED -> {
          double mean = 0;
          for (int k = 0; k < c; k++) {
            mean += r.rewards()[base + k] / c;
          }
          for (int k = 0; k < c; k++) {
            double label = r.rewards()[base + k] > mean + cfg.pairThreshold() ? 1 : 0;
            mine.add(
                add(groups, refs, r, prompt, line, new int[] {base + k}, new double[] {label}));
          }
        }
        case PAIRS -> {
          for (int[] pair : pairs(r, base, c, cfg, rnd)) {
            double[] rewards = {r.rewards()[pair[0]], r.rewards()[pair[1]]};
            mine.add(add(groups, refs, r, prompt, line, pair, rewards));
          }
        }
        case LISTS -> {
          int[] rows = new int[c];
          double[] rewards = new double[c];
          for (int k = 0; k < c; k++) {
            rows[k] = base + k;
            rewards[k] = r.rewards()[base + k];
          }
          mine.add(add(groups, refs, r, prompt, line, rows, rewards));
        }
      }
      ofPrompt.add(mine);
    }
    return new Built(groups, ofPrompt, refs.toArray(new float[0][]));
  }

  private static int add(
      List<ResponseGroup> groups,
      List<float[]> refs,
      Rollout r,
      long[] prompt,
      int line,
      int[] rows,
      double[] rewards) {
    List<long[]> responses = new ArrayList<>();
    float[] ref = new float[rows.length];
    for (int i = 0; i < rows.length; i++) {
      responses.add(r.completions()[rows[i]]);
      for (float v : r.refLogps()[rows[i]]) {
        ref[i] += v;
      }
    }
    groups.add(new ResponseGroup(prompt, responses, rewards, line, false));
    refs.add(ref);
    return groups.size() - 1;
  }

  /** [chosen row, rejected row] pairs of one prompt whose reward gap exceeds the threshold. */
  static List<int[]> pairs(Rollout r, int base, int c, Online cfg, SplittableRandom rnd) {
    double[] rw = r.rewards();
    List<int[]> out = new ArrayList<>();
    switch (cfg.pairs()) {
      case BEST_VS_WORST -> {
        int best = base;
        int worst = base;
        for (int k = base + 1; k < base + c; k++) {
          best = rw[k] > rw[best] ? k : best; // ties keep the earlier sample
          worst = rw[k] < rw[worst] ? k : worst;
        }
        if (rw[best] - rw[worst] > cfg.pairThreshold()) {
          out.add(new int[] {best, worst});
        }
      }
      case ALL -> {
        for (int i = base; i < base + c; i++) {
          for (int j = i + 1; j < base + c; j++) {
            if (Math.abs(rw[i] - rw[j]) > cfg.pairThreshold()) {
              out.add(rw[i] > rw[j] ? new int[] {i, j} : new int[] {j, i});
            }
          }
        }
      }
      case RANDOM -> {
        if (c >= 2) {
          int i = base + rnd.nextInt(c);
          int j = base + rnd.nextInt(c - 1);
          j = j >= i ? j + 1 : j;
          if (Math.abs(rw[i] - rw[j]) > cfg.pairThreshold()) {
            out.add(rw[i] > rw[j] ? new int[] {i, j} : new int[] {j, i});
          }
        }
      }
    }
    return out;
  }
}
