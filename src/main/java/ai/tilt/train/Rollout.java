package ai.tilt.train;

import ai.tilt.data.PromptSet;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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

  /**
   * The rollout of chosen groups of other rollouts (of one iteration, alike in C and reward parts):
   * pick {i, g} is group g of {@code sources.get(i)}, in pick order. Dynamic sampling keeps its
   * informative groups this way; a data-parallel iteration joins its workers' parts.
   */
  static Rollout ofGroups(long iteration, List<Rollout> sources, List<int[]> picks) {
    int c = sources.get(0).samplesPerPrompt();
    int rows = picks.size() * c;
    List<PromptSet.Prompt> prompts = new ArrayList<>();
    long[][] completions = new long[rows][];
    boolean[] finished = new boolean[rows];
    boolean sampled = sources.stream().anyMatch(r -> r.samplingLogps() != null);
    float[][] sampling = sampled ? new float[rows][] : null;
    float[][] old = new float[rows][];
    float[][] ref = new float[rows][];
    double[] rewards = new double[rows];
    Map<String, double[]> parts = new LinkedHashMap<>();
    for (String name : sources.get(0).rewardParts().keySet()) {
      parts.put(name, new double[rows]);
    }
    String[] texts = new String[rows];
    for (int j = 0; j < picks.size(); j++) {
      Rollout r = sources.get(picks.get(j)[0]);
      int g = picks.get(j)[1];
      prompts.add(r.prompts().get(g));
      for (int k = 0; k < c; k++) {
        int from = g * c + k;
        int to = j * c + k;
        completions[to] = r.completions()[from];
        finished[to] = r.finished()[from];
        if (sampled) {
          sampling[to] = r.samplingLogps()[from];
        }
        old[to] = r.oldLogps()[from];
        ref[to] = r.refLogps()[from];
        rewards[to] = r.rewards()[from];
        for (Map.Entry<String, double[]> p : parts.entrySet()) {
          p.getValue()[to] = r.rewardParts().get(p.getKey())[from];
        }
        texts[to] = r.texts() == null ? null : r.texts()[from];
      }
    }
    return new Rollout(
        iteration, prompts, c, completions, finished, sampling, old, ref, rewards, parts, texts);
  }

  public double meanReward() {
    double s = 0;
    for (double r : rewards) {
      s += r;
    }
    return s / rewards.length;
  }
}
