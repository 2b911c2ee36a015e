package ai.tilt.loss;

import static ai.tilt.loss.LossMath.col;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * The hinge (calibration) loss of SLiC-HF: Zhao, Joshi, Liu, Khalman, Saleh and Liu, 2023,
 * "SLiC-HF: Sequence Likelihood Calibration with Human Feedback", arXiv:2305.10425.
 *
 * <p>Intuition: a max-margin rule: once the chosen response beats the rejected one by the margin
 * 1/beta (in reference-relative log-likelihood), the pair stops contributing any gradient.
 *
 * <p>Conventions: N = 2 (column 0 chosen, 1 rejected); as in TRL's {@code loss_type="hinge"} the
 * margin is measured on the reference-relative h = (pi_c - ref_c) - (pi_r - ref_r) with
 * sequence-level sums, and the loss of a group is max(0, 1 - beta h), so beta is the reciprocal of
 * SLiC's margin delta. (SLiC-HF itself uses raw log-likelihoods plus a separate regulariser towards
 * the SFT model; the reference here plays that role.)
 *
 * <p>Metrics: as {@link Dpo}.
 *
 * @param beta reciprocal of the margin (default 0.1, TRL's: a margin of 10 nats)
 */
public record Hinge(
    @Doc("reciprocal of the margin on h (TRL default 0.1: a margin of 10 nats)") Double beta)
    implements GroupLoss {

  public Hinge {
    beta = beta == null ? 0.1 : beta;
    LossMath.positive("beta", beta);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "hinge";
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
    NDArray ratio = r.policy().sub(LossMath.reference(type(), r)); // (G, 2)
    float b = beta.floatValue();
    NDArray h = col(ratio, 0).sub(col(ratio, 1)); // (G)
    // relu's gradient at exactly 0 is 0 in torch: at the margin the pair is already satisfied
    NDArray loss = Activation.relu(Scalars.mul(h, -b).add(1f));
    return new LossOutput(
        loss,
        LossMath.pairMetrics(
            Scalars.mul(col(ratio, 0), b),
            Scalars.mul(col(ratio, 1), b),
            col(r.policy(), 0),
            col(r.policy(), 1)));
  }
}
