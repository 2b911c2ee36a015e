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

  /** How the loss's groups are made of responses. */
  enum Grouping {
    /** Two responses, chosen then rejected. */
    PAIRS,
    /** One response with a desirable (1) or undesirable (0) label in the rewards column. */
    LABELLED,
    /** Any N >= 1 scored responses. */
    LISTS
  }

  /** The groups this loss trains on. */
  Grouping grouping();

  @Override
  default boolean scoresGroups() {
    return true;
  }

  @Override
  default boolean learnsFromRollouts() {
    return true;
  }

  @Override
  default <R> R match(Cases<R> cases) {
    return cases.groups(this);
  }
}
