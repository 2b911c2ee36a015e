package ai.tilt.data;

import java.util.Arrays;
import java.util.List;

/**
 * One prompt with the responses a preference loss compares, as {@link PreferenceDataset} makes them
 * and the trainer hands them to a loss (one row of {@code ai.tilt.loss.Responses}).
 *
 * <p>The prompt is tokenised once and shared: response {@code i} is scored as the continuation
 * {@code prompt + responses[i]} ({@link #sequence}), so chosen and rejected can never disagree on
 * the prompt's tokens (no re-tokenisation across the boundary, no BOS in front of a response).
 * Every token of a response is scored; a response ends with EOS (text) or the template's
 * end-of-turn tokens (chat) unless it was truncated.
 *
 * <p>What the columns mean, by data kind:
 *
 * <ul>
 *   <li>pairs: responses {@code [chosen, rejected]}, rewards {@code [score_chosen,
 *       score_rejected]}, or {@code [1, 0]} when the line has no scores;
 *   <li>unpaired (KTO): one response, reward = its label (1 desirable, 0 undesirable);
 *   <li>scored lists: the N responses of the line, in its order, with their rewards.
 * </ul>
 *
 * @param prompt the prompt's ids {@code [P]}, P >= 1 (something must predict a response's first
 *     token)
 * @param responses each response's ids {@code [T_i]}, T_i >= 1; at least one response
 * @param rewards one finite reward per response
 * @param line the 1-based line of the JSONL file the group came from
 * @param truncated whether the prompt or any response was cut to fit the length limits
 */
public record ResponseGroup(
    long[] prompt, List<long[]> responses, double[] rewards, int line, boolean truncated) {

  /** Checks the invariants above; the responses list is copied and made unmodifiable. */
  public ResponseGroup {
    if (prompt.length < 1) {
      throw new IllegalArgumentException("the prompt must have at least one token");
    }
    if (responses.isEmpty()) {
      throw new IllegalArgumentException("a group needs at least one response");
    }
    if (rewards.length != responses.size()) {
      throw new IllegalArgumentException(
          rewards.length + " rewards for " + responses.size() + " responses");
    }
    responses = List.copyOf(responses);
    for (int i = 0; i < responses.size(); i++) {
      if (responses.get(i).length < 1) {
        throw new IllegalArgumentException("response " + i + " is empty");
      }
      if (!Double.isFinite(rewards[i])) {
        throw new IllegalArgumentException("reward " + i + " is not finite: " + rewards[i]);
      }
    }
  }

  /** Number of responses, N. */
  public int size() {
    return responses.size();
  }

  /** Number of prompt tokens, P. */
  public int promptLength() {
    return prompt.length;
  }

  /** Response {@code i} after the prompt: {@code [P + T_i]} ids, the prompt's first. */
  public long[] sequence(int i) {
    long[] r = responses.get(i);
    long[] out = Arrays.copyOf(prompt, prompt.length + r.length);
    System.arraycopy(r, 0, out, prompt.length, r.length);
    return out;
  }
}
