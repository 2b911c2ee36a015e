package ai.tilt.train;

import java.util.LinkedHashMap;
import java.util.Map;

/** What a rollout says about the policy, under TRL's metric names. */
final class RolloutStats {
  private RolloutStats() {}

  static Map<String, Double> of(Rollout r) {
    int rows = r.rows();
    double reward = r.meanReward();
    double var = 0;
    double kl = 0;
    double tokens = 0;
    double nll = 0;
    double finished = 0;
    for (int i = 0; i < rows; i++) {
      var += (r.rewards()[i] - reward) * (r.rewards()[i] - reward) / rows;
      kl += r.klOf(i) / rows;
      tokens += r.completions()[i].length;
      for (float v : r.oldLogps()[i]) {
        nll -= v;
      }
      finished += r.finished()[i] ? 1 : 0;
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("objective/reward", reward);
    m.put("objective/reward_std", Math.sqrt(var));
    m.put("objective/kl", kl);
    // the mean negative log-likelihood of the sampled tokens: an entropy estimate at temperature 1
    m.put("objective/entropy", nll / Math.max(1, tokens));
    m.put("completions/mean_length", tokens / rows);
    m.put("completions/eos_rate", finished / rows);
    for (Map.Entry<String, double[]> part : r.rewardParts().entrySet()) {
      double mean = 0;
      for (double v : part.getValue()) {
        mean += v / rows;
      }
      double sq = 0;
      for (double v : part.getValue()) {
        sq += (v - mean) * (v - mean) / rows;
      }
      m.put("rewards/" + part.getKey() + "/mean", mean);
      m.put("rewards/" + part.getKey() + "/std", Math.sqrt(sq));
    }
    return m;
  }

  /** Mean |trainer log-prob - sampler log-prob| over the sampled tokens. */
  static double logpDiff(Rollout r) {
    double sum = 0;
    long n = 0;
    for (int i = 0; i < r.rows(); i++) {
      for (int t = 0; t < r.oldLogps()[i].length; t++) {
        sum += Math.abs(r.oldLogps()[i][t] - r.samplingLogps()[i][t]);
        n++;
      }
    }
    return n == 0 ? 0 : sum / n;
  }
}
