package ai.tilt.reward;

/**
 * A reward could not score a batch: an item lacks what the reward reads (a record field, text,
 * token ids), a reward model or server failed, or a reward came out non-finite. The message names
 * the reward, the item and the reason.
 */
public class RewardException extends RuntimeException {
  public RewardException(String message) {
    super(message);
  }

  public RewardException(String message, Throwable cause) {
    super(message, cause);
  }
}
