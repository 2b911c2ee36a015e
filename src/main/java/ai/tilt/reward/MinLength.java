package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * The paper's Min Length reward (Tajwar et al., 2024, arXiv:2404.14367, section 5.1 of
 * shared/notes/paper.md): shorter completions are better, r = -len(completion). It is also what the
 * paper's Skew Length experiment optimises (there the preference data, not the reward, changes).
 *
 * @param unit how length is counted: tokens (default; the stop token excluded), chars or words
 */
public record MinLength(
    @Doc("tokens (default; stop token excluded), chars or words") LengthUnit unit)
    implements RewardSpec {

  public MinLength {
    unit = unit == null ? LengthUnit.TOKENS : unit;
  }

  @Override
  @JsonIgnore
  public String type() {
    return "min_length";
  }

  @Override
  public Reward create(RewardContext ctx) {
    return Rules.perItem(type(), in -> -unit.length(in, ctx));
  }
}
