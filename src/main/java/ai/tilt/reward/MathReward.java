package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.ArrayList;
import java.util.List;

/**
 * A verifiable math reward: {@code correct} when the completion's final answer equals the reference
 * answer in the prompt's record ({@code record[field]}) by value, {@code wrong} when it does not,
 * {@code unparsed} when no answer can be found. How answers are found and compared (boxed answers,
 * GSM8K's {@code ####}, fractions, percent, units, LaTeX) is in {@link MathAnswers}.
 *
 * <p>The field may hold a string or a number, or a list of such answers, any of which counts. A
 * record without the field is an error naming it, not a wrong answer: a silent 0 would train the
 * policy on a broken data file.
 *
 * @param field the record field holding the reference answer (default "answer")
 * @param extract where to look for the answer, in order (default boxed, hashes, answer_is,
 *     last_number); the first that finds one wins
 * @param correct reward for a correct answer (default 1.0)
 * @param wrong reward for a wrong answer (default 0.0)
 * @param unparsed reward when no step finds an answer (default: {@code wrong})
 */
public record MathReward(
    @Doc("record field holding the reference answer, or a list of answers (default answer)")
        String field,
    @Doc(
            "where to find the final answer, tried in order: boxed, hashes (#### N), answer_is,"
                + " last_number (default all four, in that order)")
        @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
        List<String> extract,
    @Doc("reward for a correct answer (default 1.0)") Double correct,
    @Doc("reward for a wrong answer (default 0.0)") Double wrong,
    @Doc("reward when no answer can be found (default: the wrong reward)") Double unparsed)
    implements RewardSpec {

  public MathReward {
    field = field == null ? "answer" : field;
    Rules.require(!field.isEmpty(), "reward.field must not be empty");
    extract = names(extract);
    correct = correct == null ? 1.0 : correct;
    wrong = wrong == null ? 0.0 : wrong;
    unparsed = unparsed == null ? wrong : unparsed;
    Rules.finite("correct", correct);
    Rules.finite("wrong", wrong);
    Rules.finite("unparsed", unparsed);
  }

  private static List<String> names(List<String> given) {
    if (given == null) {
      return MathAnswers.DEFAULT_ORDER.stream().map(MathAnswers.Extract::key).toList();
    }
    Rules.require(!given.isEmpty(), "reward.extract must name at least one extractor");
    List<String> out = new ArrayList<>();
    for (String name : given) {
      Rules.require(
          name != null && MathAnswers.Extract.of(name) != null,
          "reward.extract: unknown extractor '" + name + "' (expected one of " + known() + ")");
      Rules.require(!out.contains(name), "reward.extract names '" + name + "' twice");
      out.add(name);
    }
    return List.copyOf(out);
  }

  private static String known() {
    List<String> keys = new ArrayList<>();
    for (MathAnswers.Extract e : MathAnswers.Extract.values()) {
      keys.add(e.key());
    }
    return String.join(", ", keys);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "math";
  }

  @Override
  public Reward create(RewardContext ctx) {
    List<MathAnswers.Extract> order = extract.stream().map(MathAnswers.Extract::of).toList();
    return Rules.perItem(
        type(),
        in -> {
          List<String> references = Rules.answers(in, field, false);
          String answer = MathAnswers.extract(Rules.text(in, ctx), order);
          if (answer == null) {
            return unparsed;
          }
          for (String r : references) {
            if (MathAnswers.equivalent(answer, r)) {
              return correct;
            }
          }
          return wrong;
        });
  }
}
