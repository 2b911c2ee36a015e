package ai.tilt.loss;

import ai.djl.ndarray.NDArray;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * Supervised fine-tuning: the negative log-likelihood of the target tokens (maximum likelihood; the
 * "SFT" baseline of Ouyang et al., 2022, "Training language models to follow instructions with
 * human feedback", and the likelihood term every method in Tajwar et al., 2024 starts from).
 *
 * <p>How the sum is normalised across micro-batches is the engine's choice ({@code
 * train.loss_normalization}); this type gives the two sums it needs.
 */
public record Sft() implements Loss {
  @Override
  @JsonIgnore
  public String type() {
    return "sft";
  }

  @Override
  public boolean needsReference() {
    return false;
  }

  @Override
  public <R> R match(Cases<R> cases) {
    return cases.sft(this);
  }

  /**
   * Sum over all target tokens of -log p.
   *
   * @param logp (B, N) per-token log-probs of the next tokens
   * @param targets (B, N) 1 where the token is trained on, 0 elsewhere (prompt, padding)
   * @return scalar
   */
  public static NDArray tokenSum(NDArray logp, NDArray targets) {
    return logp.mul(targets).sum().neg();
  }

  /**
   * Sum over sequences of the mean -log p of each sequence's target tokens; a sequence without
   * targets contributes 0.
   *
   * @param logp (B, N)
   * @param targets (B, N)
   * @return scalar
   */
  public static NDArray sequenceSum(NDArray logp, NDArray targets) {
    NDArray perSeq = logp.mul(targets).sum(new int[] {1}).neg(); // (B)
    NDArray count = Scalars.maximum(targets.sum(new int[] {1}), 1f); // (B)
    return perSeq.div(count).sum();
  }
}
