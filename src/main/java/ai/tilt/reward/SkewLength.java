package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * An asymmetric distance to a target length: r = -(below_weight * max(0, target - len) +
 * above_weight * max(0, len - target)), so with the defaults running long costs four times as much
 * as running short.
 *
 * <p>Not the paper's reward: the paper's "Skew Length" (Tajwar et al., 2024, arXiv:2404.14367,
 * section 5.1 of shared/notes/paper.md) is the Min Length reward with preference data truncated
 * toward short lengths, so to reproduce that experiment use {@code min_length} and skew the data.
 * This record is Tilt's own variant for a length target with unequal costs.
 *
 * @param target the preferred length (required, >= 0)
 * @param belowWeight cost per unit of length under the target (default 1.0, >= 0)
 * @param aboveWeight cost per unit of length over the target (default 4.0, >= 0)
 * @param unit how length is counted: tokens (default; the stop token excluded), chars or words
 */
public record SkewLength(
    @Doc("the preferred length (required)") Double target,
    @Doc("cost per unit of length below the target (default 1.0)") Double belowWeight,
    @Doc("cost per unit of length above the target (default 4.0)") Double aboveWeight,
    @Doc("tokens (default; stop token excluded), chars or words") LengthUnit unit)
    implements RewardSpec {

  public SkewLength {
    Rules.required("target", target, "the preferred length");
    Rules.nonNegative("target", target);
    belowWeight = belowWeight == null ? 1.0 : belowWeight;
    aboveWeight = aboveWeight == null ? 4.0 : aboveWeight;
    Rules.nonNegative("below_weight", belowWeight);
    Rules.nonNegative("above_weight", aboveWeight);
    Rules.require(
        belowWeight + aboveWeight > 0,
        "reward.below_weight and reward.above_weight cannot both be 0");
    unit = unit == null ? LengthUnit.TOKENS : unit;
  }

  @Override
  @JsonIgnore
  public String type() {
    return "skew_length";
  }

  @Override
  public Reward create(RewardContext ctx) {
    return Rules.perItem(
        type(),
        in -> {
          double len = unit.length(in, ctx);
          return -(belowWeight * Math.max(0, target - len)
              + aboveWeight * Math.max(0, len - target));
        });
  }
}
