package ai.tilt.loss;

import static ai.tilt.loss.LossMath.col;

import ai.djl.ndarray.NDArray;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * Identity Preference Optimisation: Azar, Rowland, Piot, Guo, Calandriello, Valko and Munos, 2023,
 * "A General Theoretical Paradigm to Understand Learning from Human Preferences", arXiv:2310.12036.
 *
 * <p>Intuition: instead of pushing the log-ratio margin h to infinity as DPO's logistic loss can,
 * IPO regresses it onto a finite target 1/(2 tau), which keeps the policy near the reference even
 * when preferences are deterministic.
 *
 * <p>Conventions: N = 2 (column 0 chosen, 1 rejected); h = (pi_c - ref_c) - (pi_r - ref_r); the
 * loss of a group is (h - 1/(2 tau))^2 with {@code beta} playing tau, as in TRL ({@code
 * loss_type="ipo"}). By default h uses sequence-level sums (the paper's definition); with {@code
 * length_normalize: true} every log-prob is first divided by its response's length, as TRL does for
 * IPO, which changes the scale of h and so the meaning of beta. Tajwar et al.'s LLM code instead
 * computes ((beta h) - 1/(2 beta))^2 and their bandit code (h - beta)^2 (shared/notes/paper.md
 * section 3); neither is this record's convention.
 *
 * <p>Metrics: as {@link Dpo} (rewards/* = beta times the log-ratios actually used, i.e. length
 * normalised when length_normalize is set; logps/* likewise).
 *
 * @param beta tau, the regularisation: the target margin is 1/(2 beta) (default 0.1, target 5)
 * @param lengthNormalize use per-token mean log-probs (TRL) instead of sums (default false)
 */
public record Ipo(
    @Doc(
            "tau: h is regressed onto 1/(2 beta) (TRL's convention; default 0.1, a target margin of 5)")
        Double beta,
    @Doc("divide each log-prob by its response length before forming h (TRL's IPO); default: sums")
        Boolean lengthNormalize)
    implements GroupLoss {

  public Ipo {
    beta = beta == null ? 0.1 : beta;
    lengthNormalize = lengthNormalize != null && lengthNormalize;
    LossMath.positive("beta", beta);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "ipo";
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
    NDArray policy = r.policy(); // (G, 2)
    NDArray ref = LossMath.reference(type(), r); // (G, 2)
    if (lengthNormalize) {
      NDArray len = LossMath.lengths(type(), r);
      policy = policy.div(len);
      ref = ref.div(len);
    }
    NDArray ratio = policy.sub(ref); // (G, 2)
    NDArray h = col(ratio, 0).sub(col(ratio, 1)); // (G)
    NDArray loss = h.sub((float) (1 / (2 * beta))).square();
    float b = beta.floatValue();
    return new LossOutput(
        loss,
        LossMath.pairMetrics(
            Scalars.mul(col(ratio, 0), b),
            Scalars.mul(col(ratio, 1), b),
            col(policy, 0),
            col(policy, 1)));
  }
}
