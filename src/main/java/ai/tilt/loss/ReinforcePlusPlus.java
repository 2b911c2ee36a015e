package ai.tilt.loss;

import static ai.tilt.loss.LossMath.require;

import ai.djl.ndarray.NDArray;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * REINFORCE++: Hu, 2025, "REINFORCE++: An Efficient RLHF Algorithm with Robustness to Both Prompt
 * and Reward Models", arXiv:2501.03262; as OpenRLHF's {@code advantage_estimator: reinforce} and
 * {@code reinforce_baseline} (verl's {@code reinforce_plus_plus} and {@code
 * reinforce_plus_plus_baseline}).
 *
 * <p>Intuition: PPO's clipped token-level update without a critic; the per-token KL penalty stays
 * in the reward, and every token's return is normalised against all the tokens of the global batch,
 * not against its own prompt's group, which the paper argues keeps one prompt's easy or hard group
 * from setting its own scale.
 *
 * <p>Advantages, once per collected batch ({@link #advantages}): sequence rewards r (with {@code
 * baseline: group_mean}, r minus the mean reward of its prompt's C responses: REINFORCE++-baseline,
 * which drops GRPO's division by the group's std); per-token rewards r_t = -kl_coef KL_t plus r on
 * the last token ({@code online.kl_coef}, the adaptive controller when {@code online.kl_target} is
 * set; KL_t by {@code kl_estimator}, k1 or k2); returns G_t = sum over s >= t of gamma^(s - t) r_s;
 * then A = (G - mean) / sqrt(var + 1e-8) over every token of the batch.
 *
 * <p>Per-token loss: -min(r A, clip(r, 1 - epsilon, 1 + epsilon_high) A), r = exp(logp - old) (see
 * {@link PolicyMath#clippedSurrogate}), plus kl_beta times the {@code kl_estimator} KL to the
 * reference when kl_beta > 0 (OpenRLHF's {@code use_kl_loss}, k2 recommended for the baseline
 * variant). On-policy the ratio is 1 and d loss / d logp = -A.
 *
 * @param epsilon lower clip range, and upper unless epsilon_high is set (default 0.2)
 * @param epsilonHigh upper clip range (default: epsilon)
 * @param baseline none (REINFORCE++, default) or group_mean (REINFORCE++-baseline)
 * @param gamma discount of the return-to-go (default 1)
 * @param klEstimator KL per token in the reward penalty and the loss term: k1 (default) or k2
 * @param klBeta weight of a KL term in the loss (default 0: none, no reference needed)
 */
public record ReinforcePlusPlus(
    @Doc("clip range below 1 (and above, unless epsilon_high is set) of the token ratio (0.2)")
        Double epsilon,
    @Doc("clip range above 1 (default: epsilon)") Double epsilonHigh,
    @Doc(
            "none: REINFORCE++; group_mean: subtract each prompt's mean reward first"
                + " (REINFORCE++-baseline)")
        Baseline baseline,
    @Doc("discount of the per-token return-to-go (default 1)") Double gamma,
    @Doc(
            "per-token KL of the penalty online.kl_coef puts in the reward, and of kl_beta's loss"
                + " term: k1 (default) or k2")
        Kl.Estimator klEstimator,
    @Doc("weight of a KL(pi || ref) term in the loss (default 0: none)") Double klBeta)
    implements PolicyGradientLoss {

  /** What is subtracted from each reward before the batch normalisation. */
  public enum Baseline {
    @JsonProperty("none")
    NONE,
    @JsonProperty("group_mean")
    GROUP_MEAN
  }

  public ReinforcePlusPlus {
    epsilon = epsilon == null ? 0.2 : epsilon;
    epsilonHigh = epsilonHigh == null ? epsilon : epsilonHigh;
    baseline = baseline == null ? Baseline.NONE : baseline;
    gamma = gamma == null ? 1.0 : gamma;
    klEstimator = klEstimator == null ? Kl.Estimator.K1 : klEstimator;
    klBeta = klBeta == null ? 0.0 : klBeta;
    require(epsilon > 0 && epsilon < 1, "loss.epsilon must be in (0, 1), got " + epsilon);
    LossMath.positive("epsilon_high", epsilonHigh);
    require(gamma >= 0 && gamma <= 1, "loss.gamma must be in [0, 1], got " + gamma);
    require(
        klEstimator != Kl.Estimator.K3,
        "loss.kl_estimator of reinforce_plus_plus is k1 or k2 (the paper's), got k3");
    LossMath.nonNegative("kl_beta", klBeta);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "reinforce_plus_plus";
  }

  @Override
  public boolean needsReference() {
    return klBeta > 0;
  }

  @Override
  public boolean needsValues() {
    return false;
  }

  @Override
  public AdvantageOutput advantages(AdvantageInputs in) {
    double[] r = in.rewards();
    if (baseline == Baseline.GROUP_MEAN) {
      double[][] g = in.byPrompt(r);
      for (double[] group : g) {
        double mean = Advantages.mean(group);
        for (int k = 0; k < group.length; k++) {
          group[k] -= mean;
        }
      }
      r = AdvantageInputs.flatten(g);
    }
    float[][] tokenRewards =
        Advantages.tokenRewardsWithKl(r, in.oldLogps(), in.refLogps(), in.klCoef(), klEstimator);
    float[][] returns = Advantages.cumulativeReturns(tokenRewards, gamma);
    return new AdvantageOutput(Advantages.whiten(returns), null, in.baseline());
  }

  @Override
  public TokenLossOutput compute(PolicyInputs in) {
    PolicyMath.Tokens t = PolicyMath.prepare(type(), in, needsReference(), false);
    PolicyMath.Surrogate s =
        PolicyMath.clippedSurrogate(PolicyMath.tokenLogRatio(t), t.adv(), epsilon, epsilonHigh, 0);
    NDArray loss = s.loss();
    if (klBeta > 0) {
      loss = loss.add(Scalars.mul(PolicyMath.kl(klEstimator, t, true), klBeta.floatValue()));
    }
    Map<String, NDArray> m =
        PolicyMath.metrics(t, s.loss(), s.clipped(), PolicyMath.kl(klEstimator, t, false));
    return new TokenLossOutput(loss.mul(t.m()), m);
  }
}
