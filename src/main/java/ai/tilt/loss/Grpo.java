package ai.tilt.loss;

import static ai.tilt.loss.LossMath.require;

import ai.djl.ndarray.NDArray;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * Group Relative Policy Optimization: Shao, Wang, Zhu, Xu, Song, Bi, Zhang, Zhang, Li, Wu and Guo,
 * 2024, "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models",
 * arXiv:2402.03300, section 4.1 (eq. 3); as TRL's GRPOTrainer computes it.
 *
 * <p>Intuition: PPO without a value model; each completion's advantage is its reward standardised
 * within the group of completions to the same prompt, and a KL penalty to the reference sits in the
 * loss rather than in the reward.
 *
 * <p>Per-token loss: -(min(r A, clip(r, 1 - epsilon, 1 + epsilon_high) A) - beta k3), with r =
 * exp(logp - old) per token (TRL's default {@code importance_sampling_level: token}) and k3 =
 * exp(ref - logp) - (ref - logp) - 1 ({@link Kl#k3}). On-policy (oldLogps null) r = 1 with the
 * gradient of logp, so d loss / d logp = -A + beta (1 - exp(ref - logp)). Normalisation: the
 * paper's per-sequence token mean is the trainer's per_sequence; TRL's default {@code loss_type:
 * dapo} is per_token.
 *
 * <p>Advantages, once per collected batch: {@link #advantages} = {@link Advantages#groupNormalized}
 * with {@code scale_rewards}, repeated on each token.
 *
 * <p>{@code importance_sampling_level: sequence} is GSPO (Zheng et al., 2025, "Group Sequence
 * Policy Optimization", arXiv:2507.18071, eq. 5-7): one ratio per sequence, s = exp(mean over its
 * tokens of logp - old), clipped per sequence and repeated on its tokens, so that under {@code
 * train.loss_normalization: per_sequence} the loss is the paper's -mean_i min(s_i A_i, clip(s_i)
 * A_i); the paper's clip ranges are far narrower (epsilon 3e-4, epsilon_high 4e-4). {@code
 * dual_clip: c} bounds the objective of negative advantages below by c A (Ye et al., 2020; see
 * {@link PolicyMath#clippedSurrogate}).
 *
 * @param epsilon lower clip range, and upper too unless epsilon_high is set (default 0.2)
 * @param epsilonHigh upper clip range (default: epsilon; DAPO uses 0.28)
 * @param beta weight of the k3 KL term (default 0.04, the paper's; TRL's default is 0, which needs
 *     no reference)
 * @param scaleRewards group (default), batch or none: how rewards are scaled into advantages
 * @param importanceSamplingLevel token (default) or sequence (GSPO)
 * @param dualClip the dual clip's c > 1, or null for none
 */
public record Grpo(
    @Doc(
            "clip range below 1 (and above, unless epsilon_high is set) of the per-token ratio (default 0.2)")
        Double epsilon,
    @Doc("clip range above 1 (default: epsilon; DAPO's clip-higher uses 0.28)") Double epsilonHigh,
    @Doc(
            "weight of the per-token k3 KL(pi || ref) in the loss (0.04 in the paper; 0: no reference needed)")
        Double beta,
    @Doc("advantages (r - group mean) / (std + 1e-4) with std of the group, of the batch, or none")
        Advantages.Scale scaleRewards,
    @Doc(
            "token: a ratio per token (GRPO); sequence: one per sequence, the geometric mean of its"
                + " token ratios, clipped per sequence (GSPO, Zheng et al., 2025)")
        Level importanceSamplingLevel,
    @Doc(
            "c > 1: a negative advantage's objective is bounded below by c A, so a token whose ratio"
                + " passed c stops pushing (dual clip, Ye et al., 2020; verl's clip_ratio_c: 3); null:"
                + " none")
        Double dualClip)
    implements PolicyGradientLoss {

  /** Where importance ratios are taken (TRL's importance_sampling_level). */
  public enum Level {
    @JsonProperty("token")
    TOKEN,
    @JsonProperty("sequence")
    SEQUENCE
  }

  public Grpo {
    epsilon = epsilon == null ? 0.2 : epsilon;
    epsilonHigh = epsilonHigh == null ? epsilon : epsilonHigh;
    beta = beta == null ? 0.04 : beta;
    scaleRewards = scaleRewards == null ? Advantages.Scale.GROUP : scaleRewards;
    importanceSamplingLevel =
        importanceSamplingLevel == null ? Level.TOKEN : importanceSamplingLevel;
    require(
        dualClip == null || (dualClip > 1 && Double.isFinite(dualClip)),
        "loss.dual_clip must be > 1 (verl uses 3), got " + dualClip);
    require(epsilon > 0 && epsilon < 1, "loss.epsilon must be in (0, 1), got " + epsilon);
    LossMath.positive("epsilon_high", epsilonHigh);
    LossMath.nonNegative("beta", beta);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "grpo";
  }

  @Override
  public boolean needsReference() {
    return beta > 0;
  }

  @Override
  public boolean needsValues() {
    return false;
  }

  /** Group-normalised advantages of [G][C] rewards with {@code scale_rewards}. */
  public double[][] advantages(double[][] rewards) {
    return Advantages.groupNormalized(rewards, scaleRewards);
  }

  @Override
  public AdvantageOutput advantages(AdvantageInputs in) {
    double[][] a = advantages(in.byPrompt(in.penalisedRewards()));
    return AdvantageOutput.ofSequences(AdvantageInputs.flatten(a), in, in.baseline());
  }

  @Override
  public TokenLossOutput compute(PolicyInputs in) {
    PolicyMath.Tokens t = PolicyMath.prepare(type(), in, needsReference(), false);
    NDArray logRatio =
        importanceSamplingLevel == Level.SEQUENCE
            ? PolicyMath.sequenceLogRatio(t)
            : PolicyMath.tokenLogRatio(t); // (B, T)
    PolicyMath.Surrogate s =
        PolicyMath.clippedSurrogate(
            logRatio, t.adv(), epsilon, epsilonHigh, dualClip == null ? 0 : dualClip);
    NDArray loss = s.loss();
    if (beta > 0) {
      loss = loss.add(Scalars.mul(PolicyMath.kl(Kl.Estimator.K3, t, true), beta.floatValue()));
    }
    Map<String, NDArray> m =
        PolicyMath.metrics(t, s.loss(), s.clipped(), PolicyMath.kl(Kl.Estimator.K3, t, false));
    if (dualClip != null) {
      m.put("dual_clip_ratio", PolicyMath.seqMean(s.dualClipped(), t.m()));
    }
    return new TokenLossOutput(loss.mul(t.m()), m);
  }
}
