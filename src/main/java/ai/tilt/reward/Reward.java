package ai.tilt.reward;

import java.util.List;

/**
 * Scores sampled completions: the reward of on-policy training (the paper's Algorithm 1, step 3)
 * and of evaluation. Made from a recipe's {@link RewardSpec} by {@link RewardSpec#create}.
 *
 * <p>Contract: {@link #score} returns one finite reward per input, in input order. A reward that
 * cannot score a batch throws {@link RewardException} naming the item (its index in the batch) and
 * the reason; it never returns NaN, infinities or a partial result. Rewards look at the completion
 * only; the prompt is context (see {@link RewardInput}).
 *
 * <p>Rewards holding native memory or connections (a reward model) free them in {@link #close};
 * rule rewards hold nothing. Implementations are not required to be thread-safe.
 */
public interface Reward extends AutoCloseable {
  /**
   * The reward of each completion.
   *
   * @param batch the scored completions (may be empty)
   * @return {@code batch.size()} finite rewards, in order
   * @throws RewardException when an item cannot be scored (its index and the reason are named)
   */
  double[] score(List<RewardInput> batch);

  /** Frees what the reward holds; a no-op unless overridden. */
  @Override
  default void close() {}
}
