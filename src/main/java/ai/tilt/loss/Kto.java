package ai.tilt.loss;

import static ai.tilt.loss.LossMath.col;
import static ai.tilt.loss.LossMath.require;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Kahneman-Tversky Optimization: Ethayarajh, Xu, Muennighoff, Jurafsky and Kiela, 2024, "KTO: Model
 * Alignment as Prospect Theoretic Optimization", arXiv:2402.01306.
 *
 * <p>Intuition: learns from single responses labelled good or bad (no pairs) by pushing each
 * response's implicit reward above (desirable) or below (undesirable) a reference point, the
 * policy's current KL from the reference, through a saturating value function.
 *
 * <p>Conventions: N = 1; the rewards column holds the label (1 desirable, 0 undesirable; anything
 * else is an error); r = pi - ref (sequence sums); z = max(0, mean over the micro-batch of
 * (klPolicy - klReference)), detached, where the KL inputs are log-probs of mismatched completions
 * (TRL's KL batch). A desirable row's loss is w_D (1 - sigmoid(beta (r - z))), an undesirable row's
 * w_U (1 - sigmoid(beta (z - r))), as in TRL. z is estimated per micro-batch (TRL: per device
 * batch, gathered), so it depends on the micro-batch size.
 *
 * <p>Metrics: a group is desirable or not, so the per-group means of TRL's rewards/chosen would be
 * undefined on half the rows. Following TRL's KTO trainer, per-group sums and counts are reported
 * instead and the mean is their ratio over the window: rewards/chosen_sum = label * beta r,
 * rewards/rejected_sum = (1 - label) * beta r, logps/chosen_sum = label * pi, logps/rejected_sum =
 * (1 - label) * pi, count/chosen = label, count/rejected = 1 - label; so rewards/chosen =
 * mean(rewards/chosen_sum) / mean(count/chosen) over any window (undefined when no row is
 * desirable), and rewards/margins = rewards/chosen - rewards/rejected. kl = z (the same value on
 * every row of the micro-batch).
 *
 * @param beta inverse temperature of the implicit reward (default 0.1)
 * @param desirableWeight w_D (default 1.0)
 * @param undesirableWeight w_U (default 1.0)
 */
public record Kto(
    @Doc("inverse temperature of the implicit reward (TRL default 0.1)") Double beta,
    @Doc("weight w_D of desirable examples' losses (default 1.0)") Double desirableWeight,
    @Doc("weight w_U of undesirable examples' losses (default 1.0)") Double undesirableWeight)
    implements GroupLoss {

  public Kto {
    beta = beta == null ? 0.1 : beta;
    desirableWeight = desirableWeight == null ? 1.0 : desirableWeight;
    undesirableWeight = undesirableWeight == null ? 1.0 : undesirableWeight;
    LossMath.positive("beta", beta);
    LossMath.nonNegative("desirable_weight", desirableWeight);
    LossMath.nonNegative("undesirable_weight", undesirableWeight);
    require(
        desirableWeight + undesirableWeight > 0,
        "loss.desirable_weight and loss.undesirable_weight cannot both be 0");
  }

  @Override
  @JsonIgnore
  public String type() {
    return "kto";
  }

  @Override
  public boolean needsReference() {
    return true;
  }

  @Override
  public Grouping grouping() {
    return Grouping.LABELLED;
  }

  @Override
  public boolean needsKlBatch() {
    return true;
  }

  @Override
  public LossOutput compute(Responses r) {
    LossMath.checkPolicy(type(), r, 1, 0);
    NDArray ref = LossMath.reference(type(), r);
    for (float v : LossMath.rewards(type(), r)) {
      require(
          v == 0f || v == 1f,
          type() + ": the rewards column holds the label, 1 (desirable) or 0, got " + v);
    }
    long groups = r.policy().getShape().get(0);
    require(
        r.klPolicy() != null && r.klReference() != null,
        type() + ": needs klPolicy and klReference (log-probs of mismatched completions)");
    Shape g = new Shape(groups);
    require(
        r.klPolicy().getShape().equals(g) && r.klReference().getShape().equals(g),
        type()
            + ": klPolicy and klReference must be "
            + g
            + ", got "
            + r.klPolicy().getShape()
            + " and "
            + r.klReference().getShape());

    // the reference point: no gradient flows into it (TRL computes it under no_grad)
    NDArray z = Scalars.maximum(r.klPolicy().sub(r.klReference()).mean(), 0f).stopGradient(); // ()
    NDArray pi = col(r.policy(), 0); // (G)
    NDArray ratio = pi.sub(col(ref, 0)); // (G) r
    NDArray label = LossMath.mask(col(r.rewards(), 0).gt(0.5f)); // (G) constant 1 / 0
    NDArray unlabel = label.neg().add(1f);
    float b = beta.floatValue();
    NDArray gain = Scalars.mul(ratio.sub(z), b); // (G) beta (r - z)
    // 1 - sigmoid(x) = sigmoid(-x): desirable rows want beta (r - z) large, undesirable ones small
    NDArray desirable = Scalars.mul(Activation.sigmoid(gain.neg()), desirableWeight.floatValue());
    NDArray undesirable = Scalars.mul(Activation.sigmoid(gain), undesirableWeight.floatValue());
    NDArray loss = desirable.mul(label).add(undesirable.mul(unlabel)); // (G)

    NDArray reward = Scalars.mul(ratio.stopGradient(), b);
    NDArray logp = pi.stopGradient();
    Map<String, NDArray> m = new LinkedHashMap<>();
    m.put("rewards/chosen_sum", reward.mul(label));
    m.put("rewards/rejected_sum", reward.mul(unlabel));
    m.put("logps/chosen_sum", logp.mul(label));
    m.put("logps/rejected_sum", logp.mul(unlabel));
    m.put("count/chosen", label);
    m.put("count/rejected", unlabel);
    m.put("kl", z.broadcast(g));
    return new LossOutput(loss, m);
  }
}
