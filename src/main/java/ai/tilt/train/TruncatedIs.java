package ai.tilt.train;

/**
 * Truncated importance sampling for samples drawn by a different engine than the trainer (Yao et
 * al., 2025, "Your Efficient RL Framework Secretly Brings You Off-Policy RL Training"; the
 * truncation is IMPALA's, Espeholt et al., 2018): an inference server's log-probs of the tokens it
 * sampled differ from the trainer's (other kernels, other precision, or weights some iterations
 * old), so the policy gradient, an expectation under the trainer's policy, weighs each token by w =
 * min(pi(y_t) / pi_sampler(y_t), cap). Scaling the advantage by w >= 0 is the same as scaling the
 * per-token loss, PPO's clipped surrogate included (min(r A w, clip(r) A w) = w min(r A, clip(r)
 * A)).
 */
final class TruncatedIs {
  private TruncatedIs() {}

  /** Per-token weights and how many tokens the cap truncated. */
  record Weights(float[][] weights, double mean, double truncatedFraction) {}

  /**
   * @param trainer [B*C][L_r] the trainer's log-probs of the sampled tokens (the policy that
   *     collected, no graph)
   * @param sampler [B*C][L_r] the server's log-probs of the same tokens
   */
  static Weights of(float[][] trainer, float[][] sampler, double cap) {
    float[][] w = new float[trainer.length][];
    double sum = 0;
    long n = 0;
    long truncated = 0;
    for (int r = 0; r < trainer.length; r++) {
      if (sampler[r].length != trainer[r].length) {
        throw new IllegalStateException(
            "row " + r + ": " + sampler[r].length + " sampler log-probs for " + trainer[r].length);
      }
      w[r] = new float[trainer[r].length];
      for (int t = 0; t < w[r].length; t++) {
        double ratio = Math.exp((double) trainer[r][t] - sampler[r][t]);
        if (ratio > cap) {
          ratio = cap;
          truncated++;
        }
        w[r][t] = (float) ratio;
        sum += ratio;
        n++;
      }
    }
    return new Weights(w, n == 0 ? 1 : sum / n, n == 0 ? 0 : (double) truncated / n);
  }

  /** advantages [B*C][L_r] times the weights, token by token, as a new array. */
  static float[][] scale(float[][] advantages, float[][] weights) {
    float[][] out = new float[advantages.length][];
    for (int r = 0; r < advantages.length; r++) {
      out[r] = new float[advantages[r].length];
      for (int t = 0; t < out[r].length; t++) {
        out[r][t] = advantages[r][t] * weights[r][t];
      }
    }
    return out;
  }
}
