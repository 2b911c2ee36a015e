package ai.tilt.train;

import ai.tilt.data.PromptSet;
import java.util.List;
import java.util.Map;

/**
 * One iteration's rollout, the typed record that passes from collection to scoring to the update
 * (what OpenRLHF calls an "experience"). Row {@code g * C + k} is response k of prompt g; per-token
 * arrays are ragged, one entry per completion token, aligned with {@code completions}.
 *
 * @param iteration the iteration that collected it
 * @param prompts the B prompts
 * @param samplesPerPrompt C
 * @param completions [B*C][L_r] completion ids, EOS included when the row finished
 * @param finished [B*C] whether the row ended with an EOS id
 * @param samplingLogps [B*C][L_r] log-probs under the distribution each token was sampled from
 *     (after temperature, top-k, top-p); null for offline responses
 * @param oldLogps [B*C][L_r] log-probs under the policy at collection time, recomputed by a forward
 *     pass without a graph (the denominators of importance ratios)
 * @param refLogps [B*C][L_r] log-probs under the frozen reference
 * @param rewards [B*C] the reward of each row, the missing-EOS penalty included, before any KL term
 * @param rewardParts [B*C] each part's own scores of a reward list, by its logged name (empty for
 *     one reward)
 * @param texts [B*C] decoded completions (null without a tokenizer)
 */
public record Rollout(
    long iteration,
    List<PromptSet.Prompt> prompts,
    int samplesPerPrompt,
    long[][] completions,
    boolean[] finished,
    float[][] samplingLogps,
    float[][] oldLogps,
    float[][] refLogps,
    double[] rewards,
    Map<String, double[]> rewardParts,
    String[] texts) {

  public int rows() {
    return completions.length;
  }

  /** The prompt of row r. */
  public PromptSet.Prompt promptOf(int row) {
    return prompts.get(row / samplesPerPrompt);
  }

  /** Sum over row r's tokens of log pi_old - log pi_ref: the row's KL estimate (k1). */
  public double klOf(int row) {
    double kl = 0;
    for (int t = 0; t < oldLogps[row].length; t++) {
      kl += oldLogps[row][t] - refLogps[row][t];
    }
    return kl;
  }

  public double meanReward() {
    double s = 0;
    for (double r : rewards) {
      s += r;
    }
    return s / rewards.length;
  }
}
