package ai.tilt.loss;

import static ai.tilt.loss.LossMath.require;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Map;

/**
 * Best-of-N with an explicit negative gradient: the variant Tajwar, Singh, Sharma, Rafailov,
 * Schneider, Xie, Ermon, Finn and Kumar, 2024, "Preference Fine-Tuning of LLMs Should Leverage
 * Suboptimal, On-Policy Data", arXiv:2404.14367, use (project page and bandit code) to show that
 * pushing down bad responses, not only imitating good ones, is what speeds learning up.
 *
 * <p>Intuition: {@link BestOfN}'s likelihood on the best responses, plus a term that lowers the
 * likelihood of the worse ones.
 *
 * <p>Conventions: any N > k; the k highest-reward responses of a group (ties to the lower column)
 * are "best", the other N - k "worse"; the loss of a group is -mean_best(pi_i) + beta
 * mean_worse(pi_i) with sequence-level sums, or with {@code reference_constrained: true}
 * -mean_best(pi_i) + beta mean_worse(pi_i - ref_i) (the bandit code's constrained variant; the
 * reference shifts the value, not the gradient, but keeps the term at 0 where the policy equals the
 * reference). The negative term is unbounded below, as in the paper: a large beta or long training
 * can drive the worse responses' log-probs to -infinity. The transformer bandit's filter (a worse
 * sample counts only if its probability relative to the best exceeds 0.01) is not applied.
 *
 * <p>Metrics: rewards/mean, rewards/max, logps/mean, logps/best (see {@link LossMath#listMetrics}),
 * logps/selected (mean log-prob of the k best) and logps/worse (mean log-prob of the others).
 *
 * @param k responses treated as best per group (default 1)
 * @param beta weight of the negative term (default 0.1)
 * @param referenceConstrained push down pi_i - ref_i instead of pi_i (default false)
 */
public record BestOfNNeg(
    @Doc("responses imitated per prompt: the k best by reward (default 1)") Integer k,
    @Doc("weight of the term that pushes the worse responses' log-probs down (default 0.1)")
        Double beta,
    @Doc("push down log(pi/pi_ref) of the worse responses instead of log pi (needs the reference)")
        Boolean referenceConstrained)
    implements GroupLoss {

  public BestOfNNeg {
    k = k == null ? 1 : k;
    beta = beta == null ? 0.1 : beta;
    referenceConstrained = referenceConstrained != null && referenceConstrained;
    require(k >= 1, "loss.k must be >= 1, got " + k);
    LossMath.nonNegative("beta", beta);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "best_of_n_neg";
  }

  @Override
  public boolean needsReference() {
    return referenceConstrained;
  }

  @Override
  public Grouping grouping() {
    return Grouping.LISTS;
  }

  @Override
  public LossOutput compute(Responses r) {
    int n = LossMath.checkPolicy(type(), r, 0, k + 1);
    float[] rewards = LossMath.rewards(type(), r);
    Shape shape = r.policy().getShape();
    NDArray best =
        r.policy()
            .getManager()
            .create(LossMath.topK(rewards, (int) shape.get(0), n, k), shape); // (G, N)
    NDArray worse = best.neg().add(1f); // (G, N) constant
    NDArray logpBest = Scalars.div(r.policy().mul(best).sum(new int[] {1}), (float) k); // (G)
    NDArray pushed =
        referenceConstrained ? r.policy().sub(LossMath.reference(type(), r)) : r.policy(); // (G, N)
    NDArray worseTerm = Scalars.div(pushed.mul(worse).sum(new int[] {1}), (float) (n - k)); // (G)
    NDArray loss = logpBest.neg().add(Scalars.mul(worseTerm, beta.floatValue()));
    Map<String, NDArray> m = LossMath.listMetrics(r.policy(), rewards);
    m.put("logps/selected", logpBest.stopGradient());
    m.put(
        "logps/worse",
        Scalars.div(r.policy().stopGradient().mul(worse).sum(new int[] {1}), (float) (n - k)));
    return new LossOutput(loss, m);
  }
}
