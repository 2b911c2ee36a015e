package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * The paper's Mode Length reward (Tajwar et al., 2024, arXiv:2404.14367, section 5.1 of
 * shared/notes/paper.md): completions closer to the mode of the data's length distribution are
 * better, r = -|len(completion) - target|. The paper does not print the mode, so {@code target} is
 * required: measure it on the reference policy's samples in the same unit.
 *
 * @param target the preferred length (required, >= 0)
 * @param unit how length is counted: tokens (default; the stop token excluded), chars or words
 */
public record ModeLength(
    @Doc("the preferred length, e.g. the mode of the reference policy's lengths (required)")
        Double target,
    @Doc("tokens (default; stop token excluded), chars or words") LengthUnit unit)
    implements RewardSpec {

  public ModeLength {
    Rules.required("target", target, "the preferred length");
    Rules.nonNegative("target", target);
    unit = unit == null ? LengthUnit.TOKENS : unit;
  }

  @Override
  @JsonIgnore
  public String type() {
    return "mode_length";
  }

  @Override
  public Reward create(RewardContext ctx) {
    return Rules.perItem(type(), in -> -Math.abs(unit.length(in, ctx) - target));
  }
}
