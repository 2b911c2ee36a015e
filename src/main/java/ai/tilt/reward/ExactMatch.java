package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A verifiable rule: {@code match} when the completion equals the reference answer in the prompt's
 * record ({@code record[field]}), {@code miss} otherwise. The field may hold a string, a number or
 * a boolean (compared as its JSON text, e.g. {@code 42}), or a list of such answers, any of which
 * counts. A record without the field is an error naming it, not a miss: a silent 0 would train the
 * policy on a broken data file.
 *
 * @param field the record field holding the answer (default "answer")
 * @param match reward on a match (default 1.0)
 * @param miss reward otherwise (default 0.0)
 * @param normalize trim, collapse whitespace runs to one space and ignore case before comparing
 *     (default true); false compares the exact strings
 */
public record ExactMatch(
    @Doc("record field holding the reference answer, or a list of answers (default answer)")
        String field,
    @Doc("reward on a match (default 1.0)") Double match,
    @Doc("reward otherwise (default 0.0)") Double miss,
    @Doc("trim, collapse whitespace and ignore case before comparing (default true)")
        Boolean normalize)
    implements RewardSpec {

  private static final Pattern SPACES = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);

  public ExactMatch {
    field = field == null ? "answer" : field;
    Rules.require(!field.isEmpty(), "reward.field must not be empty");
    match = match == null ? 1.0 : match;
    miss = miss == null ? 0.0 : miss;
    normalize = normalize == null || normalize;
    Rules.finite("match", match);
    Rules.finite("miss", miss);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "exact_match";
  }

  @Override
  public Reward create(RewardContext ctx) {
    return Rules.perItem(
        type(),
        in -> {
          String got = norm(Rules.text(in, ctx));
          for (String a : Rules.answers(in, field, true)) {
            if (got.equals(norm(a))) {
              return match;
            }
          }
          return miss;
        });
  }

  private String norm(String s) {
    return normalize ? SPACES.matcher(s.strip()).replaceAll(" ").toLowerCase(Locale.ROOT) : s;
  }
}
