package ai.tilt.train;

import ai.tilt.data.PromptSet;
import ai.tilt.model.CausalLM;
import ai.tilt.reward.Reward;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Held-out evaluation of an on-policy run: the policy samples every eval prompt (from fixed
 * streams, so evaluations at different steps are comparable), and the samples are scored with the
 * gold reward. Reported: mean gold reward, the KL to the reference (sum over tokens of log pi - log
 * pi_ref, averaged over samples), length, EOS rate, and the win rate against the reference model's
 * samples of the same prompts under the same reward (ties count half).
 */
final class Evaluator {
  private static final long EVAL_STREAM = -7; // an iteration number no training iteration uses

  private final Collector collector;
  private final ReferenceModel reference;
  private final Collector.Settings cfg;
  private final List<PromptSet.Prompt> prompts;
  private final Reward gold;
  private final long seed;
  private double[] referenceRewards; // computed once: the reference does not change

  Evaluator(
      Collector collector,
      ReferenceModel reference,
      Collector.Settings cfg,
      List<PromptSet.Prompt> prompts,
      Reward gold,
      long seed) {
    this.collector = collector;
    this.reference = reference;
    this.cfg = cfg;
    this.prompts = prompts;
    this.gold = gold;
    this.seed = seed;
  }

  Map<String, Double> evaluate(CausalLM policy) {
    Rollout r = collector.collect(EVAL_STREAM, prompts, cfg, seed, gold, policy);
    if (referenceRewards == null) {
      referenceRewards =
          reference
              .apply(m -> collector.collect(EVAL_STREAM, prompts, cfg, seed, gold, m))
              .rewards();
    }
    double wins = 0;
    for (int i = 0; i < r.rows(); i++) {
      double a = r.rewards()[i];
      double b = referenceRewards[i];
      wins += a > b ? 1 : a == b ? 0.5 : 0;
    }
    Map<String, Double> s = RolloutStats.of(r);
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("eval/reward", s.get("objective/reward"));
    m.put("eval/kl", s.get("objective/kl"));
    m.put("eval/mean_length", s.get("completions/mean_length"));
    m.put("eval/eos_rate", s.get("completions/eos_rate"));
    m.put("eval/win_rate", wins / r.rows());
    double ref = 0;
    for (double v : referenceRewards) {
      ref += v / referenceRewards.length;
    }
    m.put("eval/reference_reward", ref);
    return m;
  }
}
