package ai.tilt.train;

import ai.tilt.data.PromptSet;
import ai.tilt.model.CausalLM;
import ai.tilt.report.MetricsLog;
import ai.tilt.report.Plots;
import ai.tilt.reward.Reward;
import java.io.IOException;
import java.nio.file.Path;
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
  private final Collector collector;
  private final ReferenceModel reference;
  private final Collector.Settings cfg;
  private final List<PromptSet.Prompt> prompts;
  private final Reward gold;
  private double[] referenceRewards; // computed once: the reference does not change

  Evaluator(
      Collector collector,
      ReferenceModel reference,
      Collector.Settings cfg,
      List<PromptSet.Prompt> prompts,
      Reward gold) {
    this.collector = collector;
    this.reference = reference;
    this.cfg = cfg;
    this.prompts = prompts;
    this.gold = gold;
  }

  Map<String, Double> evaluate(CausalLM policy) {
    Rollout r = collector.collect(Streams.EVAL_ITERATION, prompts, cfg, gold, policy);
    if (referenceRewards == null) {
      referenceRewards =
          reference
              .apply(m -> collector.collect(Streams.EVAL_ITERATION, prompts, cfg, gold, m))
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

  /**
   * The evaluation a run logged at {@code step} (a resumed process reports the start's from it);
   * null if none.
   */
  static Map<String, Double> loggedEval(Path runDir, long step) {
    try {
      for (Plots.Row row : Plots.read(runDir.resolve(MetricsLog.METRICS_FILE)).rows()) {
        if (row.step() == step && row.values().containsKey("eval/mean_length")) {
          return row.values();
        }
      }
    } catch (IOException | RuntimeException e) {
      // no readable log: the table shows NaN for what only the first evaluation knew
    }
    return null;
  }

  /** The start (the reference) against the final policy on the eval prompts. */
  static String table(Map<String, Double> first, Map<String, Double> last) {
    StringBuilder sb = new StringBuilder("\n  eval (held-out prompts)    reference      final\n");
    String[][] rows = {
      {"gold reward", "eval/reward"},
      {"KL to reference", "eval/kl"},
      {"completion length", "eval/mean_length"},
      {"EOS rate", "eval/eos_rate"},
      {"win rate vs reference", "eval/win_rate"}
    };
    for (String[] row : rows) {
      double ref =
          switch (row[1]) {
            case "eval/reward" -> last.get("eval/reference_reward");
            case "eval/kl" -> 0.0;
            case "eval/win_rate" -> 0.5;
            default -> first == null ? Double.NaN : first.get(row[1]);
          };
      sb.append(String.format("  %-24s %10.3f %10.3f%n", row[0], ref, last.get(row[1])));
    }
    return sb.toString();
  }
}
