package ai.tilt.loss;

import ai.djl.ndarray.NDArray;

/**
 * What a policy-gradient loss sees of a micro-batch of B sampled completions, token by token. Every
 * array is (B, T), float32, column t of row b is completion token t of sequence b (how completions
 * are aligned in the window is the trainer's choice; the mask says which cells are tokens). Cells
 * where {@code mask} is 0 are ignored entirely: their values may be anything, NaN included, and
 * change neither the loss, its gradient nor the metrics.
 *
 * @param logps (B, T) log pi_theta(y_t | x, y_<t) of each sampled completion token; carries the
 *     graph back to the policy's weights
 * @param oldLogps (B, T) the same under the policy that sampled (at collection time), no graph; for
 *     importance ratios when a batch is reused. Null means on-policy: the ratio is exactly 1 and
 *     its gradient that of logps (old = logps detached, as TRL's GRPO does when a batch is used
 *     once)
 * @param refLogps (B, T) the frozen reference's log-probs, no graph; null when the loss needs none
 *     (see {@link PolicyGradientLoss#needsReference()}); when given anyway, the {@code kl} metric
 *     is reported
 * @param mask (B, T) 1 on completion tokens, 0 on padding (and prompt cells, if any)
 * @param advantages (B, T) per-token advantages, no graph (see {@link Advantages}); a
 *     sequence-level advantage is repeated on each of its tokens
 * @param values (B, T) value-head predictions with graph; PPO only, else null
 * @param oldValues (B, T) value predictions at collection time, no graph; PPO only
 * @param returns (B, T) value targets (GAE advantages + old values), no graph; PPO only
 */
public record PolicyInputs(
    NDArray logps,
    NDArray oldLogps,
    NDArray refLogps,
    NDArray mask,
    NDArray advantages,
    NDArray values,
    NDArray oldValues,
    NDArray returns) {

  /** Inputs of a loss without a value head (REINFORCE, RLOO, GRPO). */
  public static PolicyInputs of(
      NDArray logps, NDArray oldLogps, NDArray refLogps, NDArray mask, NDArray advantages) {
    return new PolicyInputs(logps, oldLogps, refLogps, mask, advantages, null, null, null);
  }
}
