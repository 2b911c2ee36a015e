package ai.tilt.loss;

import static ai.tilt.loss.LossMath.mask;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Map;

/**
 * REINFORCE Leave-One-Out: Ahmadian, Cremer, Gallé, Fadaee, Kreutzer, Pietquin, Üstün and Hooker,
 * 2024, "Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human Feedback
 * in LLMs", arXiv:2402.14740; the baseline from Kool, van Hoof and Welling, 2019, "Buy 4 REINFORCE
 * Samples, Get a Baseline for Free!" (ICLR 2019 workshop).
 *
 * <p>Intuition: REINFORCE on whole completions where each of a prompt's C samples is judged against
 * the mean reward of the other C - 1 ({@link Advantages#rloo}), an unbiased baseline without a
 * value model.
 *
 * <p>Per-token loss: -A_t w_b logp_t (+ kl_beta KL_t), with w_b = stopgrad(rho_b) where the clip is
 * inactive and 0 where it is active; rho_b = exp(sum_t (logp - old)) is TRL's RLOOTrainer
 * importance ratio, which treats the completion as one action (sequence level, not per token), and
 * the clip is active where (rho_b > 1 + epsilon and A > 0) or (rho_b < 1 - epsilon and A &lt; 0).
 * On-policy (oldLogps null or equal) w = 1 and the loss is REINFORCE's -A logp. TRL's per-sequence
 * loss is -min(rho A, clip(rho, 1 - eps, 1 + eps) A); its gradient, -A rho d(sum_t logp) or 0, is
 * exactly the gradient of our tokens summed over the sequence, but its value is -A rho (about -A)
 * instead of -A logp. TRL sums log-probs over the completion and averages over completions; the
 * trainer's per_sequence normalisation gives that gradient divided by each completion's length,
 * per_token a token mean.
 *
 * <p>KL: TRL (beta 0.05) and Ahmadian et al. put the KL penalty in the reward (r - beta sum_t k1:
 * {@code online.kl_coef}, folded into the rewards by {@link #advantages}, not into the loss);
 * {@code kl_beta} adds a KL term to the loss instead (default 0).
 *
 * @param epsilon clip range of the importance ratio (default 0.2, TRL's)
 * @param klBeta weight of a KL term in the loss (default 0)
 * @param klEstimator k1, k2 or k3 (default) for that term
 */
public record Rloo(
    @Doc(
            "clip range of the sequence-level importance ratio when a batch is reused (TRL default 0.2)")
        Double epsilon,
    @Doc(
            "weight of a KL(pi || ref) term in the loss (default 0; TRL puts beta 0.05 KL in the reward instead)")
        Double klBeta,
    @Doc("per-token KL estimator of that term: k1, k2 or k3 (default)") Kl.Estimator klEstimator)
    implements PolicyGradientLoss {

  public Rloo {
    epsilon = epsilon == null ? 0.2 : epsilon;
    klBeta = klBeta == null ? 0.0 : klBeta;
    klEstimator = klEstimator == null ? Kl.Estimator.K3 : klEstimator;
    LossMath.require(epsilon > 0 && epsilon < 1, "loss.epsilon must be in (0, 1), got " + epsilon);
    LossMath.nonNegative("kl_beta", klBeta);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "rloo";
  }

  @Override
  public boolean needsReference() {
    return klBeta > 0;
  }

  @Override
  public boolean needsValues() {
    return false;
  }

  /** Leave-one-out advantages of [G][C] rewards ({@link Advantages#rloo}). */
  public double[][] advantages(double[][] rewards) {
    return Advantages.rloo(rewards);
  }

  @Override
  public AdvantageOutput advantages(AdvantageInputs in) {
    double[][] a = advantages(in.byPrompt(in.penalisedRewards()));
    return AdvantageOutput.ofSequences(AdvantageInputs.flatten(a), in, in.baseline());
  }

  @Override
  public TokenLossOutput compute(PolicyInputs in) {
    PolicyMath.Tokens t = PolicyMath.prepare(type(), in, needsReference(), false);
    NDArray seqLogRatio = t.logp().stopGradient().sub(t.old()).sum(new int[] {1}, true); // (B, 1)
    NDArray rho = seqLogRatio.exp().broadcast(t.logp().getShape()); // (B, T) constants
    float e = epsilon.floatValue();
    NDArray clippedOn =
        rho.gt(1 + e)
            .logicalAnd(t.adv().gt(0f))
            .logicalOr(rho.lt(1 - e).logicalAnd(t.adv().lt(0f)));
    NDArray w = NDArrays.where(clippedOn, rho.zerosLike(), rho); // (B, T)
    NDArray pg = t.logp().mul(t.adv().mul(w)).neg(); // (B, T)
    NDArray loss = pg;
    if (klBeta > 0) {
      loss = loss.add(Scalars.mul(PolicyMath.kl(klEstimator, t, true), klBeta.floatValue()));
    }
    Map<String, NDArray> m =
        PolicyMath.metrics(t, pg, mask(clippedOn), PolicyMath.kl(klEstimator, t, false));
    return new TokenLossOutput(loss.mul(t.m()), m);
  }
}
