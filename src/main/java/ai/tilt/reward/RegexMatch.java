package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A verifiable rule: {@code match} when the completion text matches a Java regular expression,
 * {@code miss} otherwise. Inline flags work as in Java ({@code (?i)} ignores case, {@code (?s)}
 * lets {@code .} cross newlines). The pattern is checked when the recipe is read.
 *
 * @param pattern the regular expression (required)
 * @param match reward when it matches (default 1.0)
 * @param miss reward when it does not (default 0.0)
 * @param full true: the whole completion must match; false (default): a match anywhere counts
 */
public record RegexMatch(
    @Doc("Java regular expression over the completion text (required)") String pattern,
    @Doc("reward when it matches (default 1.0)") Double match,
    @Doc("reward when it does not (default 0.0)") Double miss,
    @Doc("true: the whole completion must match; false (default): a match anywhere") Boolean full)
    implements RewardSpec {

  public RegexMatch {
    Rules.required("pattern", pattern, "a regular expression");
    match = match == null ? 1.0 : match;
    miss = miss == null ? 0.0 : miss;
    full = full != null && full;
    Rules.finite("match", match);
    Rules.finite("miss", miss);
    compile(pattern);
  }

  private static Pattern compile(String pattern) {
    try {
      return Pattern.compile(pattern);
    } catch (PatternSyntaxException e) {
      throw new IllegalArgumentException(
          "reward.pattern is not a valid regular expression: " + e.getMessage());
    }
  }

  @Override
  @JsonIgnore
  public String type() {
    return "regex";
  }

  @Override
  public Reward create(RewardContext ctx) {
    Pattern p = compile(pattern);
    return Rules.perItem(
        type(),
        in -> {
          var m = p.matcher(Rules.text(in, ctx));
          return (full ? m.matches() : m.find()) ? match : miss;
        });
  }
}
