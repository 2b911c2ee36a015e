package ai.tilt.loss;

import static ai.tilt.loss.LossMath.col;
import static ai.tilt.loss.LossMath.logisticLoss;

import ai.djl.ndarray.NDArray;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * Direct Preference Optimization: Rafailov, Sharma, Mitchell, Ermon, Manning and Finn, 2023,
 * "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
 * arXiv:2305.18290. Conservative DPO (label smoothing): Mitchell, 2023, "A note on DPO with noisy
 * preferences and relationship to IPO", as in TRL's {@code label_smoothing}.
 *
 * <p>Intuition: the implicit reward beta log(pi / pi_ref) is fitted to the preferences with a
 * Bradley-Terry (logistic) loss, which raises the chosen response relative to the reference and
 * lowers the rejected one.
 *
 * <p>Conventions: N = 2 (column 0 chosen, column 1 rejected); log-probs are sequence-level sums
 * (the paper and TRL; the Tajwar et al. LLM code sums per token differently, see
 * shared/notes/paper.md section 3); h = (pi_c - ref_c) - (pi_r - ref_r) and the loss of a group is
 * (1 - eps) (-log sigmoid(beta h)) + eps (-log sigmoid(-beta h)), eps = label_smoothing.
 *
 * <p>Metrics (TRL's, per group, detached): rewards/chosen = beta (pi_c - ref_c), rewards/rejected =
 * beta (pi_r - ref_r), rewards/margins, rewards/accuracies (1 if chosen reward > rejected),
 * logps/chosen = pi_c, logps/rejected = pi_r.
 *
 * @param beta inverse temperature of the implicit reward (default 0.1, TRL's)
 * @param labelSmoothing probability eps that a label is flipped, in [0, 0.5] (default 0)
 */
public record Dpo(
    @Doc("inverse temperature of the implicit reward beta log(pi/pi_ref) (TRL default 0.1)")
        Double beta,
    @Doc("conservative DPO: assumed probability that a preference label is flipped, in [0, 0.5]")
        Double labelSmoothing)
    implements GroupLoss {

  public Dpo {
    beta = beta == null ? 0.1 : beta;
    labelSmoothing = labelSmoothing == null ? 0.0 : labelSmoothing;
    LossMath.positive("beta", beta);
    LossMath.labelSmoothing(labelSmoothing);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "dpo";
  }

  @Override
  public boolean needsReference() {
    return true;
  }

  @Override
  public Grouping grouping() {
    return Grouping.PAIRS;
  }

  @Override
  public LossOutput compute(Responses r) {
    LossMath.checkPolicy(type(), r, 2, 0);
    NDArray ref = LossMath.reference(type(), r);
    NDArray ratio = r.policy().sub(ref); // (G, 2) log pi/pi_ref
    NDArray ratioC = col(ratio, 0); // (G)
    NDArray ratioR = col(ratio, 1); // (G)
    NDArray z = Scalars.mul(ratioC.sub(ratioR), beta.floatValue()); // (G) beta h
    NDArray loss = smoothedLogistic(z, labelSmoothing);
    return new LossOutput(
        loss,
        LossMath.pairMetrics(
            Scalars.mul(ratioC, beta.floatValue()),
            Scalars.mul(ratioR, beta.floatValue()),
            col(r.policy(), 0),
            col(r.policy(), 1)));
  }

  /** (1 - eps) (-log sigmoid(z)) + eps (-log sigmoid(-z)); the eps term is skipped when 0. */
  static NDArray smoothedLogistic(NDArray z, double eps) {
    NDArray loss = logisticLoss(z);
    if (eps == 0) {
      return loss;
    }
    return Scalars.mul(loss, (float) (1 - eps))
        .add(Scalars.mul(logisticLoss(z.neg()), (float) eps));
  }
}
