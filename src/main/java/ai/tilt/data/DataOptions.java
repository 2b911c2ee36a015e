package ai.tilt.data;

/**
 * How {@link SftDataset#load} and {@link PreferenceDataset#load} tokenise and truncate lines (each
 * class states its truncation rule; a completion and a response are the same thing here).
 *
 * @param maxLength most tokens in one example (prompt + completion); longer completions are cut at
 *     the end (see {@link SftDataset} for the truncation rule)
 * @param maxPromptLength most prompt tokens, BOS included, or null for no separate prompt limit;
 *     longer prompts keep their last tokens. Must be below {@code maxLength}, so a truncated prompt
 *     always leaves room for at least one completion token
 * @param skipInvalid skip (and count) bad lines instead of failing on the first one
 * @param appendEos append the tokenizer's EOS to text completions that do not already end with one,
 *     so the model learns to stop; chat formats leave end-of-turn tokens to the template
 */
public record DataOptions(
    int maxLength, Integer maxPromptLength, boolean skipInvalid, boolean appendEos) {

  /** Validates the limits; messages name the option at fault. */
  public DataOptions {
    if (maxLength < 2) {
      // One token has nothing before it to be predicted from, so it can never be a target.
      throw new IllegalArgumentException("data.max_length must be at least 2, got " + maxLength);
    }
    if (maxPromptLength != null) {
      if (maxPromptLength < 1) {
        throw new IllegalArgumentException(
            "data.max_prompt_length must be at least 1 (or unset), got " + maxPromptLength);
      }
      if (maxPromptLength >= maxLength) {
        throw new IllegalArgumentException(
            "data.max_prompt_length ("
                + maxPromptLength
                + ") must be less than data.max_length ("
                + maxLength
                + ") so that a completion token always fits");
      }
    }
  }

  /** Fail on bad lines, append EOS, no separate prompt limit. */
  public static DataOptions of(int maxLength) {
    return new DataOptions(maxLength, null, false, true);
  }
}
