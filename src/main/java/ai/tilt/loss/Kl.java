package ai.tilt.loss;

import ai.djl.ndarray.NDArray;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Per-token estimators of KL(pi_theta || pi_ref) from log-probs of tokens sampled from pi_theta,
 * after Schulman, 2020, "Approximating KL Divergence" (http://joschu.net/blog/kl-approx.html), with
 * d = ref - logp = log(pi_ref / pi_theta) at a sampled token:
 *
 * <ul>
 *   <li>k1 = -d = logp - ref: unbiased, can be negative; TRL's PPO/RLOO KL-in-reward ({@code
 *       kl_estimator: k1}), Ziegler et al. 2019;
 *   <li>k2 = d^2 / 2: biased, >= 0; the KL term of Tajwar et al.'s REINFORCE code ({@code approxkl}
 *       against the reference, weight {@code kl_weight});
 *   <li>k3 = exp(d) - d - 1: unbiased, >= 0 (exp(x) >= 1 + x), 0 exactly when logp == ref; the
 *       KL-in-loss of GRPO (Shao et al. 2024, eq. 4) and TRL's GRPOTrainer.
 * </ul>
 *
 * <p>The NDArray forms keep the graph of {@code logp} (plain sub/mul/exp, no dtype casts); {@code
 * ref} should carry none. As a loss term, d k1 / d logp = 1 has zero expectation on-policy, so only
 * k2 and k3 pull the policy towards the reference; k1 is kept for metrics and KL-in-reward.
 *
 * <p>Also the adaptive KL coefficient of Ziegler et al. 2019 ({@link AdaptiveKlController}).
 */
public final class Kl {
  /** The estimators a {@code kl_estimator} key names. */
  public enum Estimator {
    @JsonProperty("k1")
    K1,
    @JsonProperty("k2")
    K2,
    @JsonProperty("k3")
    K3;

    /** This estimator of KL(pi || ref) per token, (B, T) like its inputs. */
    public NDArray of(NDArray logp, NDArray ref) {
      return switch (this) {
        case K1 -> k1(logp, ref);
        case K2 -> k2(logp, ref);
        case K3 -> k3(logp, ref);
      };
    }
  }

  private Kl() {}

  /** k1 = logp - ref, (B, T) like its inputs. */
  public static NDArray k1(NDArray logp, NDArray ref) {
    return logp.sub(ref);
  }

  /** k2 = (logp - ref)^2 / 2. */
  public static NDArray k2(NDArray logp, NDArray ref) {
    NDArray d = logp.sub(ref);
    return Scalars.mul(d.mul(d), 0.5f);
  }

  /** k3 = exp(ref - logp) - (ref - logp) - 1. */
  public static NDArray k3(NDArray logp, NDArray ref) {
    NDArray d = ref.sub(logp); // log(pi_ref / pi_theta)
    return d.exp().sub(d).sub(1f);
  }

  /** k1 of float arrays (computed in double). */
  public static float[] k1(float[] logp, float[] ref) {
    checkLengths(logp, ref);
    float[] out = new float[logp.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) ((double) logp[i] - ref[i]);
    }
    return out;
  }

  /** k3 of float arrays (computed in double; never negative). */
  public static float[] k3(float[] logp, float[] ref) {
    checkLengths(logp, ref);
    float[] out = new float[logp.length];
    for (int i = 0; i < out.length; i++) {
      double d = (double) ref[i] - logp[i];
      out[i] = (float) (Math.expm1(d) - d); // exp(d) - 1 - d without cancellation near d = 0
    }
    return out;
  }

  private static void checkLengths(float[] logp, float[] ref) {
    LossMath.require(
        logp.length == ref.length,
        "KL: logp and ref lengths differ (" + logp.length + " vs " + ref.length + ")");
  }

  /**
   * The KL-penalty coefficient of Ziegler et al., 2019, "Fine-Tuning Language Models from Human
   * Preferences", arXiv:1909.08593, section 2.2, as in TRL's {@code AdaptiveKLController} (used by
   * the Tajwar et al. PPO code: initial 0.2, target 6, horizon 10000): after each batch, error =
   * clip(KL / target - 1, -0.2, 0.2) and coef *= 1 + error * nSteps / horizon, where KL is the
   * observed mean over sequences of the summed per-token k1 and nSteps the number of sequences in
   * the batch (TRL passes its batch size). With {@code target == null} the coefficient is fixed.
   * Immutable; its plain fields are what a checkpoint stores.
   *
   * @param coef current coefficient beta (>= 0)
   * @param target target KL in nats per sequence (> 0), or null for a fixed coefficient
   * @param horizon how many sequences it takes to move the coefficient by the error (> 0)
   */
  public record AdaptiveKlController(double coef, Double target, long horizon) {
    public AdaptiveKlController {
      LossMath.require(
          coef >= 0 && Double.isFinite(coef), "kl coefficient must be >= 0, got " + coef);
      LossMath.require(
          target == null || (target > 0 && Double.isFinite(target)),
          "kl target must be > 0, got " + target);
      LossMath.require(horizon > 0, "kl horizon must be > 0, got " + horizon);
    }

    /** A coefficient that never changes. */
    public static AdaptiveKlController fixed(double coef) {
      return new AdaptiveKlController(coef, null, 1);
    }

    /** Whether {@link #update} moves the coefficient. */
    @JsonIgnore
    public boolean isAdaptive() {
      return target != null;
    }

    /**
     * The controller after a batch of {@code nSteps} sequences whose KL was {@code observedKl};
     * this one when fixed.
     */
    public AdaptiveKlController update(double observedKl, long nSteps) {
      LossMath.require(
          Double.isFinite(observedKl), "observed KL must be finite, got " + observedKl);
      LossMath.require(nSteps >= 0, "nSteps must be >= 0, got " + nSteps);
      if (target == null) {
        return this;
      }
      double error = Math.max(-0.2, Math.min(0.2, observedKl / target - 1));
      // nSteps > 5 horizon with error -0.2 would make the factor negative: floor the coefficient at
      // 0
      return new AdaptiveKlController(
          Math.max(0, coef * (1 + error * nSteps / horizon)), target, horizon);
    }
  }
}
