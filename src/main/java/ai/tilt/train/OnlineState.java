package ai.tilt.train;

import ai.tilt.loss.Advantages;
import ai.tilt.loss.Grpo;
import ai.tilt.loss.Kl;
import ai.tilt.loss.PolicyGradientLoss;
import ai.tilt.loss.Reinforce;
import ai.tilt.loss.Rloo;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What an on-policy run carries from one iteration to the next, checkpointed in {@code
 * trainer_state.json}'s {@code extra}: REINFORCE's moving-average reward baseline and the KL
 * coefficient (which the adaptive controller moves toward {@code online.kl_target}).
 *
 * <p>The rewards advantages are computed from include the KL penalty when {@code online.kl_coef} is
 * set: r - kl_coef * sum_t (log pi_old - log pi_ref), the per-sequence form of the per-token k1
 * penalty of Ziegler et al. (2019).
 */
record OnlineState(Advantages.Baseline baseline, double klCoef) {

  static OnlineState of(TrainerState s, Online cfg) {
    Map<String, Double> e = s.extra();
    return new OnlineState(
        new Advantages.Baseline(
            e.getOrDefault("baseline", 0.0), e.getOrDefault("baseline_count", 0.0).longValue()),
        e.getOrDefault("kl_coef", cfg.klCoef()));
  }

  Map<String, Double> toMap() {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("baseline", baseline.value());
    m.put("baseline_count", (double) baseline.count());
    m.put("kl_coef", klCoef);
    return m;
  }

  /** Each row's reward with the KL penalty. */
  double[] penalisedRewards(Rollout r) {
    double[] out = r.rewards().clone();
    if (klCoef > 0) {
      for (int i = 0; i < out.length; i++) {
        out[i] -= klCoef * r.klOf(i);
      }
    }
    return out;
  }

  /**
   * Per-token advantages of REINFORCE, RLOO and GRPO: each row's sequence advantage on every token.
   */
  float[][] advantages(PolicyGradientLoss loss, Rollout r) {
    double[] rewards = penalisedRewards(r);
    double[] perRow;
    if (loss instanceof Reinforce re) {
      perRow = re.advantages(rewards, baseline).advantages(); // clipped inside the loss
    } else if (loss instanceof Rloo) {
      perRow = flatten(Advantages.rloo(byPrompt(rewards, r.samplesPerPrompt())));
    } else if (loss instanceof Grpo g) {
      perRow =
          flatten(
              Advantages.groupNormalized(
                  byPrompt(rewards, r.samplesPerPrompt()), g.scaleRewards()));
    } else {
      throw new IllegalArgumentException("loss " + loss.type() + " is not supported on-policy yet");
    }
    int[] lengths = new int[r.rows()];
    for (int i = 0; i < lengths.length; i++) {
      lengths[i] = r.completions()[i].length;
    }
    return Advantages.sequenceToTokens(perRow, lengths);
  }

  /** The state after an iteration: the baseline has seen its rewards, the KL controller its KL. */
  OnlineState afterIteration(Rollout r, Online cfg, PolicyGradientLoss pg) {
    Advantages.Baseline b =
        pg instanceof Reinforce re
            ? re.advantages(penalisedRewards(r), baseline).baseline()
            : baseline;
    double coef = klCoef;
    if (cfg.klTarget() != null && coef > 0) {
      double kl = 0;
      for (int i = 0; i < r.rows(); i++) {
        kl += r.klOf(i) / r.rows();
      }
      coef =
          new Kl.AdaptiveKlController(coef, cfg.klTarget(), cfg.klHorizon())
              .update(kl, r.rows())
              .coef();
    }
    return new OnlineState(b, coef);
  }

  private static double[][] byPrompt(double[] rewards, int c) {
    double[][] out = new double[rewards.length / c][c];
    for (int i = 0; i < rewards.length; i++) {
      out[i / c][i % c] = rewards[i];
    }
    return out;
  }

  private static double[] flatten(double[][] a) {
    double[] out = new double[a.length * (a.length == 0 ? 0 : a[0].length)];
    int k = 0;
    for (double[] row : a) {
      for (double v : row) {
        out[k++] = v;
      }
    }
    return out;
  }
}
