package ai.tilt.loss;

import static ai.tilt.loss.LossMath.require;

import ai.djl.ndarray.NDArray;
import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;
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
 * @param epsilon lower clip range, and upper too unless epsilon_high is set (default 0.2)
 * @param epsilonHigh upper clip range (default: epsilon; DAPO uses 0.28)
 * @param beta weight of the k3 KL term (default 0.04, the paper's; TRL's default is 0, which needs
 *     no reference)
 * @param scaleRewards group (default), batch or none: how rewards are scaled into advantages
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
        Advantages.Scale scaleRewards)
    implements PolicyGradientLoss {

  public Grpo {
    epsilon = epsilon == null ? 0.2 : epsilon;
    epsilonHigh = epsilonHigh == null ? epsilon : epsilonHigh;
    beta = beta == null ? 0.04 : beta;
    scaleRewards = scaleRewards == null ? Advantages.Scale.GROUP : scaleRewards;
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
    PolicyMath.Surrogate s =
        PolicyMath.clippedSurrogate(t.logp(), t.old(), t.adv(), epsilon, epsilonHigh);
    NDArray loss = s.loss();
    if (beta > 0) {
      loss = loss.add(PolicyMath.kl(Kl.Estimator.K3, t, true).mul(beta.floatValue()));
    }
    Map<String, NDArray> m =
        PolicyMath.metrics(t, s.loss(), s.clipped(), PolicyMath.kl(Kl.Estimator.K3, t, false));
    return new TokenLossOutput(loss.mul(t.m()), m);
  }
}
