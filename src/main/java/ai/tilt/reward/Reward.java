package ai.tilt.reward;

import java.util.List;
import java.util.Map;

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

  /**
   * The rewards and, for a reward made of several ({@link RewardSum}), each part's own unweighted
   * scores by its logged name; a single reward has no parts.
   *
   * @param total {@code batch.size()} rewards, as {@link #score} gives
   * @param parts each part's scores, in order; empty for a single reward
   */
  record Scores(double[] total, Map<String, double[]> parts) {}

  /** {@link #score} with each part's own scores (see {@link Scores}). */
  default Scores scoreParts(List<RewardInput> batch) {
    return new Scores(score(batch), Map.of());
  }

  /** Frees what the reward holds; a no-op unless overridden. */
  @Override
  default void close() {}
}
