package ai.tilt.loss;

import static ai.tilt.loss.LossMath.require;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Map;

/**
 * Filtered behaviour cloning / Best-of-N: maximum likelihood on the best of N sampled responses, as
 * in ReST (Gulcehre et al., 2023, "Reinforced Self-Training (ReST) for Language Modeling",
 * arXiv:2308.08998) and the Best-of-N baseline of Tajwar et al., 2024, "Preference Fine-Tuning of
 * LLMs Should Leverage Suboptimal, On-Policy Data", arXiv:2404.14367.
 *
 * <p>Intuition: sample several responses, keep the highest-scored and imitate them; the rest are
 * simply discarded (no negative gradient).
 *
 * <p>Conventions: any N >= k; in each group the k responses with the highest rewards are selected,
 * ties going to the lower column index; the loss of a group is the mean over those k of -pi_i
 * (sequence-level sums). No reference is used. The paper's LLM runs use N = 4, k = 1.
 *
 * <p>Metrics: rewards/mean, rewards/max, logps/mean, logps/best (see {@link LossMath#listMetrics})
 * and logps/selected, the mean log-prob of the k selected responses.
 *
 * @param k responses kept per group (default 1)
 */
public record BestOfN(
    @Doc("responses imitated per prompt: the k best by reward (default 1)") Integer k)
    implements GroupLoss {

  public BestOfN {
    k = k == null ? 1 : k;
    require(k >= 1, "loss.k must be >= 1, got " + k);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "best_of_n";
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
    LossMath.checkPolicy(type(), r, 0, k);
    float[] rewards = LossMath.rewards(type(), r);
    Shape shape = r.policy().getShape();
    float[] top = LossMath.topK(rewards, (int) shape.get(0), (int) shape.get(1), k);
    NDArray selected = r.policy().getManager().create(top, shape); // (G, N) constant 0/1
    NDArray logpTop = Scalars.div(r.policy().mul(selected).sum(new int[] {1}), (float) k); // (G)
    Map<String, NDArray> m = LossMath.listMetrics(r.policy(), rewards);
    m.put("logps/selected", logpTop.stopGradient());
    return new LossOutput(logpTop.neg(), m);
  }
}
