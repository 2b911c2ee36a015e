package ai.tilt.reward;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * How the length rewards count a completion. The paper does not say which unit its length tasks use
 * (shared/notes/paper.md section 5.1); its code's length utilities count tokens, characters or
 * words, and so does Tilt.
 */
public enum LengthUnit {
  /** Token ids of the completion, its stop token excluded ({@link RewardInput#contentIds()}). */
  @JsonProperty("tokens")
  TOKENS,
  /** Unicode code points of the completion text (an emoji counts once). */
  @JsonProperty("chars")
  CHARS,
  /** Whitespace-separated words of the completion text. */
  @JsonProperty("words")
  WORDS;

  /** The completion's length in this unit; text units decode ids when the input has no text. */
  double length(RewardInput in, RewardContext ctx) {
    switch (this) {
      case TOKENS:
        return Rules.contentIds(in).length;
      case CHARS:
        {
          String s = Rules.text(in, ctx);
          return s.codePointCount(0, s.length());
        }
      default:
        {
          String s = Rules.text(in, ctx).strip();
          return s.isEmpty() ? 0 : s.split("\\s+").length;
        }
    }
  }
}
