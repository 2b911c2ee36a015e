package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * DAPO's soft overlong punishment (Yu et al., 2025, "DAPO: An Open-Source LLM Reinforcement
 * Learning System at Scale", arXiv:2503.14476, section 3.4, eq. 13; TRL's {@code
 * get_soft_overlong_punishment}): a reward term that is 0 up to {@code max_length - buffer} tokens,
 * falls linearly to -1 over the last {@code buffer} tokens, and is -1 beyond {@code max_length}:
 *
 * <pre>
 *   R(y) = 0                                    |y| <= L - B
 *          (L - B - |y|) / B                    L - B < |y| <= L
 *          -1                                   |y| > L
 * </pre>
 *
 * with L = max_length and B = buffer. Meant as one term of a reward list ({@code online.reward:
 * [{type: math}, {type: overlong, max_length: 40, buffer: 8}]}), next to the task's own reward. |y|
 * counts the completion's tokens with its stop token, as TRL counts completion ids.
 *
 * @param maxLength L: the longest completion without the full penalty (usually {@code
 *     online.max_new_tokens})
 * @param buffer B: the tokens before L over which the penalty grows
 */
public record Overlong(
    @Doc("L: the penalty reaches -1 at this many completion tokens (e.g. online.max_new_tokens)")
        Integer maxLength,
    @Doc("B: the penalty grows linearly over the last B tokens before max_length") Integer buffer)
    implements RewardSpec {

  public Overlong {
    Rules.required("max_length", maxLength, "the completion length where the penalty is -1");
    Rules.required("buffer", buffer, "the tokens over which the penalty grows");
    Rules.require(maxLength >= 1, "reward.max_length must be >= 1, got " + maxLength);
    Rules.require(
        buffer >= 1 && buffer <= maxLength,
        "reward.buffer must be in [1, max_length = " + maxLength + "], got " + buffer);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "overlong";
  }

  /** The penalty of a completion of {@code length} tokens. */
  public double penalty(int length) {
    int expected = maxLength - buffer;
    if (length <= expected) {
      return 0;
    }
    if (length <= maxLength) {
      return (double) (expected - length) / buffer;
    }
    return -1;
  }

  @Override
  public Reward create(RewardContext ctx) {
    return Rules.perItem(
        type(),
        in -> {
          if (in.completionIds() == null) {
            throw new RewardException("no completion ids (overlong counts tokens)");
          }
          return penalty(in.completionIds().length);
        });
  }
}
