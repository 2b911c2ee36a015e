package ai.tilt.loss;

/**
 * A loss over groups of scored responses to one prompt (pairs, single labelled responses, or lists
 * of N): every preference-tuning objective except plain SFT and the reward model's.
 */
public sealed interface GroupLoss extends Loss
    permits Dpo, Ipo, Hinge, Simpo, Orpo, Kto, PrefFt, Rwr, BestOfN, BestOfNNeg {
  /**
   * The loss and metrics of a micro-batch; a pure function of its inputs (no model, no I/O).
   *
   * @throws IllegalArgumentException when the inputs do not fit the loss (e.g. N != 2 for a pair
   *     loss, a missing reference)
   */
  LossOutput compute(Responses r);

  /** Whether {@link Responses#reference()} must be given. */
  boolean needsReference();

  /**
   * Responses per group the loss needs: 2 for pairs, 1 for KTO, 0 for any N >= 1 (scored lists).
   */
  int responsesPerGroup();
}
