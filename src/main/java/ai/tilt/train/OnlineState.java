package ai.tilt.train;

import ai.tilt.loss.Advantages;
import ai.tilt.loss.Kl;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What an on-policy run carries from one iteration to the next, checkpointed in {@code
 * trainer_state.json}'s {@code extra}: REINFORCE's moving-average reward baseline and the KL
 * coefficient (which the adaptive controller moves toward {@code online.kl_target}).
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

  /**
   * The state after an iteration: the baseline the advantages moved to, and the KL coefficient
   * after the controller has seen the rollout's mean KL.
   */
  OnlineState afterIteration(Rollout r, Online cfg, Advantages.Baseline baselineAfter) {
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
    return new OnlineState(baselineAfter, coef);
  }
}
