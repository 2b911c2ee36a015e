package ai.tilt.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonAlias;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * How per-token losses become the loss of one optimizer step ({@code train.loss_normalization};
 * verl's {@code loss_agg_mode}, TRL's {@code loss_type}). A step's window may span several
 * micro-batches and data-parallel workers, so each mode is a sum that micro-batches add up ({@link
 * #numerator}) over a count that workers add up ({@link #denominator}): the step's loss does not
 * depend on how the window was split.
 *
 * <ul>
 *   <li>{@code per_token} (token_mean; TRL's {@code dapo}, its default): the sum over every token
 *       of the window over their count; a long completion weighs more (Yu et al., 2025, "DAPO: An
 *       Open-Source LLM Reinforcement Learning System at Scale", arXiv:2503.14476, eq. 8).
 *   <li>{@code per_sequence} (seq_mean_token_mean; TRL's {@code grpo}): each sequence's token mean,
 *       averaged over sequences (Shao et al., 2024, arXiv:2402.03300, eq. 3), which lets a short
 *       completion's tokens weigh more than a long one's.
 *   <li>{@code seq_mean_token_sum_norm} (TRL's {@code dr_grpo}): the sum over every token over
 *       sequences times a constant length, {@code online.max_new_tokens}; no length bias at all
 *       (Liu et al., 2025, "Understanding R1-Zero-Like Training: A Critical Perspective",
 *       arXiv:2503.20783, section 3.1).
 * </ul>
 *
 * <p>With 2 sequences of 1 and 3 tokens and per-token losses (a), (b, c, d): per_token gives (a + b
 * + c + d) / 4, per_sequence (a + (b + c + d) / 3) / 2, seq_mean_token_sum_norm with length 4 (a +
 * b + c + d) / 8.
 */
public enum Aggregation {
  @JsonProperty("per_token")
  @JsonAlias({"token_mean", "token-mean"})
  PER_TOKEN,
  @JsonProperty("per_sequence")
  @JsonAlias({"seq_mean_token_mean", "seq-mean-token-mean"})
  PER_SEQUENCE,
  @JsonProperty("seq_mean_token_sum_norm")
  @JsonAlias({"seq-mean-token-sum-norm", "dr_grpo"})
  SEQ_MEAN_TOKEN_SUM_NORM;

  /**
   * A micro-batch's share of the step's sum: the masked per-token losses summed, or for
   * per_sequence each row's token mean summed (a row without tokens adds 0).
   *
   * @param perToken (B, T) per-token losses, with graph; masked cells may hold anything
   * @param mask (B, T) float 0/1
   * @return a scalar with the graph
   */
  public NDArray numerator(NDArray perToken, NDArray mask) {
    NDArray on = mask.gt(0f); // (B, T)
    NDArray masked = NDArrays.where(on, perToken, perToken.zerosLike()); // (B, T)
    if (this != PER_SEQUENCE) {
      return masked.sum();
    }
    return masked.sum(new int[] {1}).div(Scalars.maximum(mask.sum(new int[] {1}), 1f)).sum();
  }

  /**
   * What the step's sum is divided by: its tokens, its sequences, or its sequences times {@code
   * length}.
   *
   * @param tokens the loss tokens of the window (on this worker)
   * @param sequences the sequences of the window
   * @param length the constant of seq_mean_token_sum_norm (the longest completion)
   */
  public double denominator(long tokens, long sequences, long length) {
    return switch (this) {
      case PER_TOKEN -> tokens;
      case PER_SEQUENCE -> sequences;
      case SEQ_MEAN_TOKEN_SUM_NORM -> (double) sequences * length;
    };
  }

  /** The name recipes use. */
  public String key() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
