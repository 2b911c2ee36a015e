package ai.tilt.loss;

import static ai.tilt.loss.LossMath.col;

import ai.djl.ndarray.NDArray;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * Simple Preference Optimization: Meng, Xia and Chen, 2024, "SimPO: Simple Preference Optimization
 * with a Reference-Free Reward", arXiv:2405.14734.
 *
 * <p>Intuition: the reward is the policy's own average per-token log-likelihood (what generation
 * actually ranks by), so no reference model is needed, and a target margin gamma asks the chosen
 * response to win by a clear gap.
 *
 * <p>Conventions: N = 2 (column 0 chosen, 1 rejected); reference-free; a_i = pi_i / len_i
 * (per-token mean log-prob); the loss of a group is -log sigmoid(beta (a_c - a_r) - gamma), with
 * optional label smoothing as in {@link Dpo} and TRL's CPO trainer ({@code loss_type="simpo"},
 * whose {@code simpo_gamma} is this gamma). TRL's CPO adds a BC term ({@code cpo_alpha}); pure
 * SimPO, as here, has none.
 *
 * <p>Metrics: TRL's reference-free convention: rewards/chosen = beta a_c, rewards/rejected = beta
 * a_r (margins, accuracies from those); logps/chosen = a_c and logps/rejected = a_r are the
 * per-token means the loss uses, as TRL logs them.
 *
 * @param beta reward scale (default 2.0, the SimPO paper's range 2.0-2.5; TRL's CPO default 0.1 is
 *     for CPO, not SimPO)
 * @param gamma target reward margin (default 0.5, TRL's {@code simpo_gamma})
 * @param labelSmoothing in [0, 0.5] (default 0)
 */
public record Simpo(
    @Doc("scale of the reward beta * mean token log-prob (SimPO paper: 2.0-2.5)") Double beta,
    @Doc("target reward margin gamma (TRL's simpo_gamma, default 0.5)") Double gamma,
    @Doc("assumed probability that a preference label is flipped, in [0, 0.5]")
        Double labelSmoothing)
    implements GroupLoss {

  public Simpo {
    beta = beta == null ? 2.0 : beta;
    gamma = gamma == null ? 0.5 : gamma;
    labelSmoothing = labelSmoothing == null ? 0.0 : labelSmoothing;
    LossMath.positive("beta", beta);
    LossMath.nonNegative("gamma", gamma);
    LossMath.labelSmoothing(labelSmoothing);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "simpo";
  }

  @Override
  public boolean needsReference() {
    return false;
  }

  @Override
  public Grouping grouping() {
    return Grouping.PAIRS;
  }

  @Override
  public LossOutput compute(Responses r) {
    LossMath.checkPolicy(type(), r, 2, 0);
    NDArray avg = r.policy().div(LossMath.lengths(type(), r)); // (G, 2) mean token log-probs
    NDArray rewards = Scalars.mul(avg, beta.floatValue()); // (G, 2)
    NDArray z = col(rewards, 0).sub(col(rewards, 1)).sub(gamma.floatValue()); // (G)
    NDArray loss = Dpo.smoothedLogistic(z, labelSmoothing);
    return new LossOutput(
        loss, LossMath.pairMetrics(col(rewards, 0), col(rewards, 1), col(avg, 0), col(avg, 1)));
  }
}
