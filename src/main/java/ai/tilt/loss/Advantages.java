package ai.tilt.loss;

import static ai.tilt.loss.LossMath.require;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Arrays;

/**
 * Advantages for the policy-gradient losses, as pure functions of rewards (and, for GAE, values) on
 * Java arrays: sequence-level arrays are {@code double[]} (one value per completion), token-level
 * arrays are ragged {@code float[][]} ([B][T_b], completion tokens only, never padding). Each
 * loss's {@link PolicyGradientLoss#advantages} calls these once per collected batch; the trainer
 * pads the result into the (B, T) {@link PolicyInputs#advantages()}.
 *
 * <p>Conventions: a sequence reward belongs on the completion's last token (EOS, or the last
 * generated token when cut at max length), never on padding (TRL#5338 placed it on the PAD after
 * EOS); group arrays are [G][C], G prompts with C completions each.
 */
public final class Advantages {
  /** What divides group-centred rewards in {@link #groupNormalized} ({@code scale_rewards}). */
  public enum Scale {
    /** The std of the prompt's group (GRPO). */
    @JsonProperty("group")
    GROUP,
    /** The std of every reward in the batch (TRL's {@code scale_rewards="batch"}). */
    @JsonProperty("batch")
    BATCH,
    /** Nothing (Dr. GRPO). */
    @JsonProperty("none")
    NONE
  }

  private Advantages() {}

  /** r_i - mean(r): the batch-mean baseline. */
  public static double[] batchMean(double[] rewards) {
    checkFinite(rewards);
    double mean = mean(rewards);
    double[] out = new double[rewards.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = rewards[i] - mean;
    }
    return out;
  }

  /**
   * A baseline carried across batches, immutable; the trainer keeps it between iterations and
   * checkpoints its plain fields. Two update rules (Tajwar et al.'s REINFORCE code, {@code
   * reinforce.py}, which updates the baseline with the current batch before subtracting it):
   *
   * <ul>
   *   <li>{@link #accumulate}: the mean of every reward seen so far ({@code baseline_type:
   *       moving_average}, the one its scripts use);
   *   <li>{@link #update}: b &lt;- decay b + (1 - decay) mean(batch) ({@code
   *       exponentially_moving_average}, decay 0.9); the code starts b at 0, here the first batch
   *       sets b to its mean so early advantages are not biased towards the raw rewards.
   * </ul>
   *
   * @param value the baseline b
   * @param count rewards seen so far (0: not initialised)
   */
  public record Baseline(double value, long count) {
    /** The state before any batch. */
    public static final Baseline INITIAL = new Baseline(0, 0);

    public Baseline {
      require(
          Double.isFinite(value) && count >= 0,
          "baseline: bad state (" + value + ", " + count + ")");
    }

    /** Whether a batch has been seen. */
    public boolean initialised() {
      return count > 0;
    }

    /** The exponential moving average after this batch (the first batch sets b to its mean). */
    public Baseline update(double[] rewards, double decay) {
      require(decay >= 0 && decay < 1, "baseline decay must be in [0, 1), got " + decay);
      checkFinite(rewards);
      require(rewards.length > 0, "baseline: empty batch");
      double m = mean(rewards);
      double b = count == 0 ? m : decay * value + (1 - decay) * m;
      return new Baseline(b, count + rewards.length);
    }

    /** The running mean of all rewards seen, this batch included. */
    public Baseline accumulate(double[] rewards) {
      checkFinite(rewards);
      require(rewards.length > 0, "baseline: empty batch");
      double sum = 0;
      for (double r : rewards) {
        sum += r;
      }
      long n = count + rewards.length;
      return new Baseline((value * count + sum) / n, n);
    }

    /** r_i - b. */
    public double[] advantages(double[] rewards) {
      double[] out = new double[rewards.length];
      for (int i = 0; i < out.length; i++) {
        out[i] = rewards[i] - value;
      }
      return out;
    }
  }

  /**
   * Leave-one-out advantages (Kool, van Hoof and Welling, 2019, "Buy 4 REINFORCE samples, get a
   * baseline for free!"; Ahmadian et al., 2024, arXiv:2402.14740): A_i = r_i - mean_{j != i} r_j =
   * C / (C - 1) (r_i - mean), per group of C >= 2 completions. E.g. [1, 2, 4]: baselines [3, 2.5,
   * 1.5], advantages [-2, -0.5, 2.5].
   */
  public static double[][] rloo(double[][] rewards) {
    double[][] out = new double[rewards.length][];
    for (int g = 0; g < rewards.length; g++) {
      double[] r = rewards[g];
      require(
          r.length >= 2, "rloo needs >= 2 completions per prompt, group " + g + " has " + r.length);
      checkFinite(r);
      double sum = 0;
      for (double x : r) {
        sum += x;
      }
      out[g] = new double[r.length];
      for (int i = 0; i < r.length; i++) {
        out[g][i] = r[i] - (sum - r[i]) / (r.length - 1);
      }
    }
    return out;
  }

  /**
   * GRPO's advantages (Shao et al., 2024, DeepSeekMath, arXiv:2402.03300, section 4.1.2), as TRL's
   * GRPOTrainer computes them: A = (r - mean_g) / (std + 1e-4), mean_g over the prompt's group and
   * std the unbiased (n - 1) standard deviation ({@code torch.std}) of the group ({@code group}),
   * of every reward in the batch ({@code batch}, TRL's {@code scale_rewards="batch"}), or no
   * division ({@code none}: Dr. GRPO, Liu et al., 2025, arXiv:2503.20783, which argues that the
   * per-group std up-weights prompts that are too easy or too hard). Groups of C >= 2.
   */
  public static double[][] groupNormalized(double[][] rewards, Scale scale) {
    int total = 0;
    for (int g = 0; g < rewards.length; g++) {
      require(
          rewards[g].length >= 2,
          "grpo needs >= 2 completions per prompt, group " + g + " has " + rewards[g].length);
      checkFinite(rewards[g]);
      total += rewards[g].length;
    }
    double[] flat = new double[total];
    int at = 0;
    for (double[] r : rewards) {
      System.arraycopy(r, 0, flat, at, r.length);
      at += r.length;
    }
    double batchStd = std(flat);
    double[][] out = new double[rewards.length][];
    for (int g = 0; g < rewards.length; g++) {
      double[] r = rewards[g];
      double m = mean(r);
      double denom =
          switch (scale) {
            case GROUP -> std(r) + 1e-4;
            case BATCH -> batchStd + 1e-4;
            case NONE -> 1;
          };
      out[g] = new double[r.length];
      for (int i = 0; i < r.length; i++) {
        out[g][i] = (r[i] - m) / denom;
      }
    }
    return out;
  }

  /** Each value clamped to [-c, c] (the REINFORCE code clamps its advantages at 10). */
  public static double[] clip(double[] a, double c) {
    require(c > 0, "advantage clip must be > 0, got " + c);
    double[] out = new double[a.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = Math.max(-c, Math.min(c, a[i]));
    }
    return out;
  }

  /** Row b repeats perSequence[b] on its lengths[b] completion tokens: [B][T_b]. */
  public static float[][] sequenceToTokens(double[] perSequence, int[] lengths) {
    require(
        perSequence.length == lengths.length,
        "sequenceToTokens: " + perSequence.length + " values for " + lengths.length + " lengths");
    float[][] out = new float[lengths.length][];
    for (int b = 0; b < lengths.length; b++) {
      require(lengths[b] >= 0, "sequenceToTokens: negative length " + lengths[b]);
      out[b] = new float[lengths[b]];
      Arrays.fill(out[b], (float) perSequence[b]);
    }
    return out;
  }

  /** Per-token advantages and value targets from {@link #gae}, [B][T_b] each. */
  public record Gae(float[][] advantages, float[][] returns) {}

  /**
   * Generalized advantage estimation (Schulman et al., 2016, arXiv:1506.02438) per completion, as
   * in TRL's PPO: delta_t = r_t + gamma V_{t+1} - V_t with V_{T_b} = 0 after the last token, A_t =
   * delta_t + gamma lam A_{t+1}, returns_t = A_t + V_t. Computed in double.
   *
   * @param tokenRewards [B][T_b] per-token rewards (e.g. {@link #tokenRewardsWithKl})
   * @param values [B][T_b] value-head predictions at collection time
   */
  public static Gae gae(float[][] tokenRewards, float[][] values, double gamma, double lam) {
    require(gamma >= 0 && gamma <= 1, "gae: gamma must be in [0, 1], got " + gamma);
    require(lam >= 0 && lam <= 1, "gae: lam must be in [0, 1], got " + lam);
    require(
        tokenRewards.length == values.length,
        "gae: " + tokenRewards.length + " reward rows but " + values.length + " value rows");
    float[][] adv = new float[values.length][];
    float[][] ret = new float[values.length][];
    for (int b = 0; b < values.length; b++) {
      int n = values[b].length;
      require(
          tokenRewards[b].length == n,
          "gae: row " + b + " has " + tokenRewards[b].length + " rewards but " + n + " values");
      adv[b] = new float[n];
      ret[b] = new float[n];
      double last = 0;
      for (int t = n - 1; t >= 0; t--) {
        double next = t + 1 < n ? values[b][t + 1] : 0.0;
        double delta = tokenRewards[b][t] + gamma * next - values[b][t];
        last = delta + gamma * lam * last;
        adv[b][t] = (float) last;
        ret[b][t] = (float) (last + values[b][t]);
      }
    }
    return new Gae(adv, ret);
  }

  /**
   * Whitening over every token of the batch, as TRL's {@code masked_whiten} (shift_mean True) does
   * to PPO's advantages: (x - mean) / sqrt(var + 1e-8), var unbiased. Needs >= 2 tokens.
   */
  public static float[][] whiten(float[][] x) {
    double sum = 0;
    long n = 0;
    for (float[] row : x) {
      for (float v : row) {
        sum += v;
        n++;
      }
    }
    require(n >= 2, "whiten needs >= 2 tokens, got " + n);
    double mean = sum / n;
    double ss = 0;
    for (float[] row : x) {
      for (float v : row) {
        ss += (v - mean) * (v - mean);
      }
    }
    double scale = 1 / Math.sqrt(ss / (n - 1) + 1e-8);
    float[][] out = new float[x.length][];
    for (int b = 0; b < x.length; b++) {
      out[b] = new float[x[b].length];
      for (int t = 0; t < x[b].length; t++) {
        out[b][t] = (float) ((x[b][t] - mean) * scale);
      }
    }
    return out;
  }

  /**
   * Per-token rewards with the KL penalty in the reward (Ziegler et al. 2019; TRL's PPO and the
   * Tajwar et al. PPO code): r_t = -klCoef (logp_t - ref_t) (k1) on every completion token, plus
   * the sequence reward on the last one. Rows must have >= 1 token.
   *
   * @param logps [B][T_b] log-probs at collection time
   * @param refLogps [B][T_b] reference log-probs
   */
  public static float[][] tokenRewardsWithKl(
      double[] sequenceRewards, float[][] logps, float[][] refLogps, double klCoef) {
    return tokenRewardsWithKl(sequenceRewards, logps, refLogps, klCoef, Kl.Estimator.K1);
  }

  /**
   * {@link #tokenRewardsWithKl} with another per-token KL estimate in the penalty: k1 = d, k2 = d^2
   * / 2, k3 = exp(-d) + d - 1, with d = logp - ref (see {@link Kl}).
   */
  public static float[][] tokenRewardsWithKl(
      double[] sequenceRewards,
      float[][] logps,
      float[][] refLogps,
      double klCoef,
      Kl.Estimator estimator) {
    require(klCoef >= 0 && Double.isFinite(klCoef), "kl coefficient must be >= 0, got " + klCoef);
    require(
        sequenceRewards.length == logps.length && logps.length == refLogps.length,
        "tokenRewardsWithKl: "
            + sequenceRewards.length
            + " rewards, "
            + logps.length
            + " logp rows, "
            + refLogps.length
            + " ref rows");
    checkFinite(sequenceRewards);
    float[][] out = new float[logps.length][];
    for (int b = 0; b < logps.length; b++) {
      int n = logps[b].length;
      require(
          n >= 1, "tokenRewardsWithKl: row " + b + " has no completion token to carry its reward");
      require(
          refLogps[b].length == n,
          "tokenRewardsWithKl: row "
              + b
              + " has "
              + n
              + " logps but "
              + refLogps[b].length
              + " reference logps");
      out[b] = new float[n];
      for (int t = 0; t < n; t++) {
        double d = (double) logps[b][t] - refLogps[b][t];
        double kl =
            switch (estimator) {
              case K1 -> d;
              case K2 -> 0.5 * d * d;
              case K3 -> Math.exp(-d) + d - 1;
            };
        double r = -klCoef * kl;
        out[b][t] = (float) (t == n - 1 ? r + sequenceRewards[b] : r);
      }
    }
    return out;
  }

  /**
   * Discounted returns of per-token rewards, G_t = r_t + gamma G_{t+1} within each row (REINFORCE's
   * return-to-go; OpenRLHF's {@code get_cumulative_returns}).
   */
  public static float[][] cumulativeReturns(float[][] tokenRewards, double gamma) {
    float[][] out = new float[tokenRewards.length][];
    for (int b = 0; b < tokenRewards.length; b++) {
      out[b] = new float[tokenRewards[b].length];
      double g = 0;
      for (int t = tokenRewards[b].length - 1; t >= 0; t--) {
        g = tokenRewards[b][t] + gamma * g;
        out[b][t] = (float) g;
      }
    }
    return out;
  }

  /** Ragged rows [B][T_b] left-aligned into a row-major (B, width) array, zero after each row. */
  public static float[] padded(float[][] ragged, int width) {
    float[] out = new float[ragged.length * width];
    for (int b = 0; b < ragged.length; b++) {
      require(
          ragged[b].length <= width,
          "padded: row " + b + " has " + ragged[b].length + " > " + width + " tokens");
      System.arraycopy(ragged[b], 0, out, b * width, ragged[b].length);
    }
    return out;
  }

  static double mean(double[] x) {
    double s = 0;
    for (double v : x) {
      s += v;
    }
    return s / x.length;
  }

  /** Unbiased (n - 1) standard deviation, as torch.std. */
  static double std(double[] x) {
    double m = mean(x);
    double ss = 0;
    for (double v : x) {
      ss += (v - m) * (v - m);
    }
    return Math.sqrt(ss / (x.length - 1));
  }

  private static void checkFinite(double[] x) {
    for (double v : x) {
      require(Double.isFinite(v), "rewards must be finite, got " + v);
    }
  }
}
