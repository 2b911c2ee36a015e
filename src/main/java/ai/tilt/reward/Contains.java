package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.regex.Pattern;

/**
 * A verifiable rule: {@code match} when the completion text contains a literal string, {@code miss}
 * otherwise.
 *
 * @param text the literal to look for (required, not empty)
 * @param match reward when found (default 1.0)
 * @param miss reward when not (default 0.0)
 * @param ignoreCase compare without case, Unicode-aware (default false)
 */
public record Contains(
    @Doc("literal text to look for in the completion (required)") String text,
    @Doc("reward when found (default 1.0)") Double match,
    @Doc("reward when not found (default 0.0)") Double miss,
    @Doc("compare without case (default false)") Boolean ignoreCase)
    implements RewardSpec {

  public Contains {
    Rules.required("text", text, "the literal to look for");
    match = match == null ? 1.0 : match;
    miss = miss == null ? 0.0 : miss;
    ignoreCase = ignoreCase != null && ignoreCase;
    Rules.finite("match", match);
    Rules.finite("miss", miss);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "contains";
  }

  @Override
  public Reward create(RewardContext ctx) {
    // a quoted pattern gives Unicode case folding without lower-casing (which can change lengths)
    Pattern p =
        Pattern.compile(
            Pattern.quote(text), ignoreCase ? Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE : 0);
    return Rules.perItem(type(), in -> p.matcher(Rules.text(in, ctx)).find() ? match : miss);
  }
}
