package ai.tilt.reward;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * A reward as written in a recipe: {@code reward: {type: bump, center: 70}}, or the bare name
 * {@code reward: min_length} for the defaults (RecipeLoader rewrites the shorthand at the keys
 * {@code reward}, {@code eval.gold_reward} and {@code online.reward}; elsewhere write the object
 * form). Bound once, when the recipe is read, to one of these records: omitted keys take the
 * record's defaults and bad values fail naming the key ({@code reward.width must be > 0}).
 *
 * <p>Rule rewards ({@link MinLength}, {@link ModeLength}, {@link SkewLength}, {@link Bump}, {@link
 * RegexMatch}, {@link Contains}, {@link ExactMatch}) are pure functions of one completion (and its
 * record); {@link ModelReward} runs a reward-model directory; {@link HttpReward} asks a server.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = MinLength.class, name = "min_length"),
  @JsonSubTypes.Type(value = ModeLength.class, name = "mode_length"),
  @JsonSubTypes.Type(value = SkewLength.class, name = "skew_length"),
  @JsonSubTypes.Type(value = Bump.class, name = "bump"),
  @JsonSubTypes.Type(value = RegexMatch.class, name = "regex"),
  @JsonSubTypes.Type(value = Contains.class, name = "contains"),
  @JsonSubTypes.Type(value = ExactMatch.class, name = "exact_match"),
  @JsonSubTypes.Type(value = MathReward.class, name = "math"),
  @JsonSubTypes.Type(value = ModelReward.class, name = "model"),
  @JsonSubTypes.Type(value = HttpReward.class, name = "http"),
  @JsonSubTypes.Type(value = Overlong.class, name = "overlong"),
  @JsonSubTypes.Type(value = RewardSum.class, name = "sum")
})
public sealed interface RewardSpec
    permits MinLength,
        ModeLength,
        SkewLength,
        Bump,
        RegexMatch,
        Contains,
        ExactMatch,
        MathReward,
        ModelReward,
        HttpReward,
        Overlong,
        RewardSum {
  /** The name used in recipes. */
  String type();

  /**
   * The reward this spec describes. Close it when done (a reward model holds native memory).
   *
   * @throws IllegalArgumentException when the spec cannot be realised in this context (a reward
   *     model path that does not exist or holds a causal LM, a header naming an unset environment
   *     variable), naming the key
   * @throws java.io.UncheckedIOException when a reward model's files cannot be read
   */
  Reward create(RewardContext ctx);

  /** Every recipe name, in declaration order (for error messages and help). */
  static List<String> names() {
    List<String> out = new ArrayList<>();
    for (JsonSubTypes.Type t : RewardSpec.class.getAnnotation(JsonSubTypes.class).value()) {
      out.add(t.name());
    }
    return out;
  }

  /** The record bound to a recipe name, or null when there is none. */
  static Class<? extends RewardSpec> classOf(String name) {
    for (JsonSubTypes.Type t : RewardSpec.class.getAnnotation(JsonSubTypes.class).value()) {
      if (t.name().equals(name)) {
        return t.value().asSubclass(RewardSpec.class);
      }
    }
    return null;
  }
}
