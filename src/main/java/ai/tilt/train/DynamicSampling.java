package ai.tilt.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * DAPO's dynamic sampling (Yu et al., 2025, "DAPO: An Open-Source LLM Reinforcement Learning System
 * at Scale", arXiv:2503.14476, section 3.2; verl's {@code filter_groups}): a prompt whose C
 * responses all got the same reward has zero group-relative advantage and only dilutes the batch,
 * so such groups are dropped and further rounds of B prompts are sampled until B informative groups
 * are found or {@code online.dynamic_sampling.max_extra_rounds} rounds have run.
 *
 * <p>The batch keeps B prompts: the informative groups in the order they were drawn (round 0
 * first); when the rounds run out, dropped groups fill the rest, in the same order, and the
 * shortfall is logged ({@code sampling/uninformative_kept}) rather than the run failing (verl stops
 * instead) or the batch shrinking (which would change the step's shape from one iteration to the
 * next).
 */
final class DynamicSampling {
  private DynamicSampling() {}

  /** Whether prompt g's responses disagree on their reward. */
  static boolean informative(Rollout r, int g) {
    int c = r.samplesPerPrompt();
    double first = r.rewards()[g * c];
    for (int k = 1; k < c; k++) {
      if (r.rewards()[g * c + k] != first) {
        return true;
      }
    }
    return false;
  }

  /** The iteration's rollout of B groups, and what the selection did ({@code sampling/*}). */
  record Selected(Rollout rollout, Map<String, Double> metrics) {}

  /**
   * The B groups of an iteration from its rounds (each round's rollout holds whole groups, all
   * workers' prompts), and what the selection did.
   */
  static Selected select(List<Rollout> rounds, int b) {
    List<int[]> kept = new ArrayList<>(); // {round, group}
    List<int[]> dropped = new ArrayList<>();
    int sampled = 0;
    for (int i = 0; i < rounds.size(); i++) {
      Rollout r = rounds.get(i);
      for (int g = 0; g < r.prompts().size(); g++) {
        (informative(r, g) ? kept : dropped).add(new int[] {i, g});
        sampled++;
      }
    }
    int informativeFound = kept.size();
    List<int[]> chosen = new ArrayList<>(kept.subList(0, Math.min(b, kept.size())));
    for (int i = 0; chosen.size() < b && i < dropped.size(); i++) {
      chosen.add(dropped.get(i));
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("sampling/dropped_groups_frac", (double) dropped.size() / Math.max(1, sampled));
    m.put("sampling/extra_rounds", (double) rounds.size() - 1);
    m.put(
        "sampling/extra_samples",
        (double) (sampled - rounds.get(0).prompts().size()) * rounds.get(0).samplesPerPrompt());
    m.put("sampling/uninformative_kept", (double) Math.max(0, b - informativeFound));
    // the kept groups' reward is biased toward the middle: this is the policy's on fresh prompts
    m.put("sampling/reward_before_filter", rounds.get(0).meanReward());
    return new Selected(Rollout.ofGroups(rounds.get(0).iteration(), rounds, chosen), m);
  }

  /** Collects round k of an iteration (0: its own B prompts). */
  interface Rounds {
    Rollout collect(int round);
  }

  /**
   * The iteration's rollout: round 0, and with dynamic sampling on ({@code cfg} not null) more
   * rounds until B groups are informative or the rounds allowed have run, then the selection.
   */
  static Selected run(Online.DynamicRounds cfg, int b, Rounds rounds) {
    List<Rollout> got = new ArrayList<>();
    got.add(rounds.collect(0));
    if (cfg == null) {
      return new Selected(got.get(0), Map.of());
    }
    for (int k = 1; k <= cfg.maxExtraRounds() && !enough(got, b); k++) {
      got.add(rounds.collect(k));
    }
    return select(got, b);
  }

  /** Whether the rounds so far hold B informative groups. */
  static boolean enough(List<Rollout> rounds, int b) {
    int n = 0;
    for (Rollout r : rounds) {
      for (int g = 0; g < r.prompts().size(); g++) {
        n += informative(r, g) ? 1 : 0;
      }
    }
    return n >= b;
  }
}
