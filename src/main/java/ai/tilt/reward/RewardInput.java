package ai.tilt.reward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.Arrays;

/**
 * One sampled completion to score, with its prompt as context.
 *
 * <p>Rewards score the completion only: lengths, bumps, regexes and answer matches read the
 * completion, never the prompt (the one exception is {@code bump} with {@code include_prompt},
 * which reproduces the paper's transformer bandit). A reward model and an HTTP reward receive the
 * prompt too, because judging a response needs its question, but they still score the response.
 *
 * <p>EOS rule (shared/notes/anchors.md section 3, "EOS handling"): {@code completionIds} holds the
 * stop token that ended generation when {@code finished} is true, whichever id it was (the
 * tokenizer's EOS or a custom stop id from generation_config.json); rule rewards drop that one
 * trailing id ({@link #contentIds()}) and never compare ids against a fixed EOS, so custom stop
 * tokens are recognised by construction. Unfinished completions (cut at max_new_tokens) have no
 * stop token; rewards do not penalise them (a missing-EOS penalty belongs to the trainer, which
 * knows {@code finished}).
 *
 * @param record the prompt's JSONL record, for fields such as an {@code answer}; an empty object
 *     when there is none (null is read as empty)
 * @param prompt the prompt text, or null when only ids are known
 * @param promptIds the prompt's token ids (null is read as empty)
 * @param completion the decoded completion without special tokens, or null when only ids are known
 *     (text rewards then decode {@link #contentIds()} with the context's tokenizer)
 * @param completionIds the sampled token ids, the stop token included when {@code finished}; null
 *     when only text is known (token-based rewards then fail naming the item)
 * @param finished whether generation ended with a stop token (the last id of completionIds)
 */
public record RewardInput(
    JsonNode record,
    String prompt,
    long[] promptIds,
    String completion,
    long[] completionIds,
    boolean finished) {

  public RewardInput {
    record = record == null ? JsonNodeFactory.instance.objectNode() : record;
    promptIds = promptIds == null ? new long[0] : promptIds;
    if (finished && completionIds != null && completionIds.length == 0) {
      throw new IllegalArgumentException(
          "a finished completion ends with its stop token, but completionIds is empty");
    }
  }

  /** A text-only input (no ids, no record): for rewards that read the completion text. */
  public static RewardInput ofText(String prompt, String completion) {
    return new RewardInput(null, prompt, null, completion, null, false);
  }

  /**
   * The completion's tokens without its stop token: {@code completionIds} less its last id when
   * {@code finished}; null when there are no ids.
   */
  public long[] contentIds() {
    if (completionIds == null) {
      return null;
    }
    return finished ? Arrays.copyOf(completionIds, completionIds.length - 1) : completionIds;
  }

  @Override
  public String toString() {
    return "RewardInput[prompt="
        + prompt
        + ", promptIds="
        + Arrays.toString(promptIds)
        + ", completion="
        + completion
        + ", completionIds="
        + Arrays.toString(completionIds)
        + ", finished="
        + finished
        + ", record="
        + record
        + "]";
  }
}
