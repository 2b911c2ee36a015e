package ai.tilt.loss;

/**
 * What a policy-gradient loss turns into advantages: one collected batch of B prompts with C
 * completions each, row {@code g * C + k} being completion k of prompt g. Token arrays are ragged,
 * one entry per completion token.
 *
 * @param rewards [B*C] sequence rewards (any missing-EOS penalty included, no KL term)
 * @param samplesPerPrompt C
 * @param oldLogps [B*C][L] log-probs under the policy that sampled
 * @param refLogps [B*C][L] log-probs under the frozen reference
 * @param klCoef the KL-in-the-reward coefficient now (0: none; the adaptive controller moves it)
 * @param baseline the reward baseline carried from earlier batches (REINFORCE)
 * @param oldValues [B*C][L] value-head predictions at collection time; null unless {@link
 *     PolicyGradientLoss#needsValues()}
 */
public record AdvantageInputs(
    double[] rewards,
    int samplesPerPrompt,
    float[][] oldLogps,
    float[][] refLogps,
    double klCoef,
    Advantages.Baseline baseline,
    float[][] oldValues) {

  /** Each row's reward minus klCoef times its k1 KL, sum_t (log pi_old - log pi_ref). */
  public double[] penalisedRewards() {
    double[] out = rewards.clone();
    if (klCoef > 0) {
      for (int i = 0; i < out.length; i++) {
        double kl = 0;
        for (int t = 0; t < oldLogps[i].length; t++) {
          kl += oldLogps[i][t] - refLogps[i][t];
        }
        out[i] -= klCoef * kl;
      }
    }
    return out;
  }

  /** Completion lengths in tokens, [B*C]. */
  public int[] lengths() {
    int[] out = new int[oldLogps.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = oldLogps[i].length;
    }
    return out;
  }

  /** A [B*C] row array as [B][C]. */
  public double[][] byPrompt(double[] perRow) {
    int c = samplesPerPrompt;
    double[][] out = new double[perRow.length / c][c];
    for (int i = 0; i < perRow.length; i++) {
      out[i / c][i % c] = perRow[i];
    }
    return out;
  }

  /** [B][C] back to [B*C]. */
  public static double[] flatten(double[][] byPrompt) {
    int c = byPrompt.length == 0 ? 0 : byPrompt[0].length;
    double[] out = new double[byPrompt.length * c];
    for (int g = 0; g < byPrompt.length; g++) {
      System.arraycopy(byPrompt[g], 0, out, g * c, c);
    }
    return out;
  }
}
