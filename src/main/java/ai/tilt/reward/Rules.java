package ai.tilt.reward;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Shared pieces of the rule rewards: key validation, per-item scoring with item-naming errors,
 * text.
 */
final class Rules {
  private Rules() {}

  /**
   * The score of one item; throws {@link RewardException} with the reason only (the item is added).
   */
  @FunctionalInterface
  interface ItemScore {
    double score(RewardInput in);
  }

  /**
   * A reward scoring each item on its own; errors and non-finite values name the reward and the
   * item.
   */
  static Reward perItem(String type, ItemScore f) {
    return batch -> {
      double[] out = new double[batch.size()];
      for (int i = 0; i < out.length; i++) {
        RewardInput in = batch.get(i);
        if (in == null) {
          throw new RewardException("reward " + type + ": item " + i + " is null");
        }
        double r;
        try {
          r = f.score(in);
        } catch (RewardException e) {
          throw new RewardException("reward " + type + ": item " + i + ": " + e.getMessage(), e);
        }
        if (!Double.isFinite(r)) {
          throw new RewardException("reward " + type + ": item " + i + ": reward is " + r);
        }
        out[i] = r;
      }
      return out;
    };
  }

  /**
   * The completion text: the input's own, else its content ids decoded without special tokens by
   * the context's tokenizer.
   */
  static String text(RewardInput in, RewardContext ctx) {
    if (in.completion() != null) {
      return in.completion();
    }
    if (in.completionIds() != null && ctx.tokenizer() != null) {
      return ctx.tokenizer().decode(in.contentIds(), true);
    }
    throw new RewardException(
        "no completion text"
            + (in.completionIds() == null
                ? " and no completion ids"
                : ", and no tokenizer to decode the completion ids"));
  }

  /**
   * The reference answers in the record's {@code field}: its value, or each value of a list of
   * them. A record without the field is an error naming it, not a miss (a silent 0 would train the
   * policy on a broken data file), as is an answer that is not a string or number (or boolean, when
   * {@code booleans}).
   */
  static List<String> answers(RewardInput in, String field, boolean booleans) {
    JsonNode answer = in.record().get(field);
    if (answer == null || answer.isNull()) {
      throw new RewardException(
          "the record has no field '" + field + "' (reward.field) to compare with");
    }
    List<String> out = new ArrayList<>();
    for (JsonNode a : answer.isArray() ? answer : List.of(answer)) {
      if (!(a.isTextual() || a.isNumber() || (booleans && a.isBoolean()))) {
        throw new RewardException(
            "record field '"
                + field
                + "' holds "
                + a.getNodeType().name().toLowerCase(Locale.ROOT)
                + (booleans ? ", not a string, number or boolean" : ", not a string or number"));
      }
      // a JSON double reads as Double.toString (1.0E20), which MathAnswers reads exactly
      out.add(a.asText());
    }
    return out;
  }

  /** The completion's token ids without its stop token. */
  static long[] contentIds(RewardInput in) {
    if (in.completionIds() == null) {
      throw new RewardException(
          "no completion ids (a token-based reward needs them, not just text)");
    }
    return in.contentIds();
  }

  static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  static void finite(String key, double v) {
    require(Double.isFinite(v), "reward." + key + " must be a finite number, got " + v);
  }

  static void positive(String key, double v) {
    require(v > 0 && Double.isFinite(v), "reward." + key + " must be > 0, got " + v);
  }

  static void nonNegative(String key, double v) {
    require(v >= 0 && Double.isFinite(v), "reward." + key + " must be >= 0, got " + v);
  }

  static <T> T required(String key, T v, String what) {
    require(
        v != null && !(v instanceof String s && s.isBlank()),
        "reward." + key + " is required (" + what + ")");
    return v;
  }
}
