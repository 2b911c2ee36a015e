package ai.tilt.data;

/**
 * How {@link PreferenceDataset#load} turns lines into {@link ResponseGroup}s.
 *
 * @param maxLength most tokens in prompt + one response; see {@link PreferenceDataset} for the
 *     truncation rule
 * @param maxPromptLength most prompt tokens (BOS included) once a group is too long, or null to
 *     cut only the responses. Must be below {@code maxLength}, so a cut prompt always leaves room
 *     for a response token
 * @param skipInvalid skip (and count) bad lines instead of failing on the first one
 * @param appendEos append the tokenizer's EOS to text responses that do not already end with one;
 *     chat responses end with the template's end-of-turn tokens and get nothing extra
 */
public record PreferenceOptions(
    int maxLength, Integer maxPromptLength, boolean skipInvalid, boolean appendEos) {

  /** Validates the limits; messages name the option at fault. */
  public PreferenceOptions {
    if (maxLength < 2) {
      // A prompt token and a response token are the least a scored sequence needs.
      throw new IllegalArgumentException("maxLength must be at least 2, got " + maxLength);
    }
    if (maxPromptLength != null) {
      if (maxPromptLength < 1) {
        throw new IllegalArgumentException(
            "maxPromptLength must be at least 1 (or unset), got " + maxPromptLength);
      }
      if (maxPromptLength >= maxLength) {
        throw new IllegalArgumentException("maxPromptLength (" + maxPromptLength
            + ") must be less than maxLength (" + maxLength
            + ") so that a response token always fits");
      }
    }
  }

  /** Fail on bad lines, append EOS, no separate prompt limit. */
  public static PreferenceOptions of(int maxLength) {
    return new PreferenceOptions(maxLength, null, false, true);
  }
}
