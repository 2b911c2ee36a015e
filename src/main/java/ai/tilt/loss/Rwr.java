package ai.tilt.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Map;

/**
 * Reward-weighted regression: Peters and Schaal, 2007, "Reinforcement learning by reward-weighted
 * regression for operational space control" (ICML 2007; no arXiv id), as used for LLMs by Tajwar et
 * al., 2024, "Preference Fine-Tuning of LLMs Should Leverage Suboptimal, On-Policy Data",
 * arXiv:2404.14367.
 *
 * <p>Intuition: maximum likelihood on every response, each weighted by exp(reward / tau), so better
 * responses are imitated more; weights are positive, so there is no negative gradient.
 *
 * <p>Conventions: any N >= 1 (a scored list per prompt, sampled on-policy or from data); the
 * weights w_i = min(exp(r_i / tau), max_weight) are constants (no gradient; the clamp at 20 is the
 * paper's code's); the loss of a group is the mean over its N responses of w_i (-pi_i), with
 * sequence-level sums, or per-token means with {@code length_normalize: true} (the paper's code
 * normalises by the number of response tokens). No baseline is subtracted, as in the released
 * scripts. No reference is used.
 *
 * <p>Metrics: rewards/mean, rewards/max, logps/mean, logps/best (see {@link LossMath#listMetrics}),
 * weights/mean and weights/max (the clamped weights of the group).
 *
 * @param tau temperature of the weights (default 1.0)
 * @param maxWeight clamp on the weights (default 20)
 * @param lengthNormalize per-token mean log-probs instead of sums (default false)
 */
public record Rwr(
    @Doc("temperature: weight = exp(reward / tau) (default 1.0)") Double tau,
    @Doc("clamp on the weights (default 20, the paper's code)") Double maxWeight,
    @Doc("weight per-token mean log-probs instead of sequence sums") Boolean lengthNormalize)
    implements GroupLoss {

  public Rwr {
    tau = tau == null ? 1.0 : tau;
    maxWeight = maxWeight == null ? 20.0 : maxWeight;
    lengthNormalize = lengthNormalize != null && lengthNormalize;
    LossMath.positive("tau", tau);
    LossMath.positive("max_weight", maxWeight);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "rwr";
  }

  @Override
  public boolean needsReference() {
    return false;
  }

  @Override
  public Grouping grouping() {
    return Grouping.LISTS;
  }

  @Override
  public LossOutput compute(Responses r) {
    LossMath.checkPolicy(type(), r, 0, 1);
    float[] rewards = LossMath.rewards(type(), r);
    Shape shape = r.policy().getShape();
    float[] w = new float[rewards.length];
    for (int i = 0; i < w.length; i++) {
      // in double so a large r / tau saturates at max_weight instead of overflowing
      w[i] = (float) Math.min(Math.exp(rewards[i] / tau), maxWeight);
    }
    NDArray weights = r.policy().getManager().create(w, shape); // (G, N) constants
    NDArray logp =
        lengthNormalize ? r.policy().div(LossMath.lengths(type(), r)) : r.policy(); // (G, N)
    NDArray loss = logp.mul(weights).mean(new int[] {1}).neg(); // (G)
    Map<String, NDArray> m = LossMath.listMetrics(logp, rewards);
    m.put("weights/mean", weights.mean(new int[] {1}));
    m.put("weights/max", weights.max(new int[] {1}, false));
    return new LossOutput(loss, m);
  }
}
