package ai.tilt.loss;

/**
 * Advantages of one collected batch, ready for {@link PolicyInputs}.
 *
 * @param advantages [B*C][L] per-token advantages (a sequence advantage repeated on its tokens)
 * @param returns [B*C][L] value targets (PPO), else null
 * @param baseline the reward baseline to carry to the next batch
 */
public record AdvantageOutput(
    float[][] advantages, float[][] returns, Advantages.Baseline baseline) {

  /** Sequence-level advantages spread over each row's tokens, no value targets. */
  static AdvantageOutput ofSequences(
      double[] perRow, AdvantageInputs in, Advantages.Baseline baseline) {
    return new AdvantageOutput(Advantages.sequenceToTokens(perRow, in.lengths()), null, baseline);
  }
}
