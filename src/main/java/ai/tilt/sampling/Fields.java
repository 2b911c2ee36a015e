package ai.tilt.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Typed reads of a request body's fields, each refusal an {@link ApiError} naming the field in
 * OpenAI's words ("Invalid type for 'max_tokens': expected an integer, but got a string instead.").
 * A field that is absent or {@code null} takes its default, as in OpenAI's API. A field the route
 * does not know is refused as OpenAI refuses it ("Unrecognized request argument supplied"), so a
 * misspelt {@code max_token} is never silently ignored.
 */
final class Fields {
  private final JsonNode body;

  /** Refuses the body when it names a field outside {@code known}. */
  Fields(JsonNode body, Set<String> known) {
    this.body = body;
    for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      if (!known.contains(name)) {
        throw ApiError.invalid(
            name, "unknown_parameter", "Unrecognized request argument supplied: " + name);
      }
    }
  }

  /** The raw value, or null when absent or JSON null. */
  JsonNode get(String name) {
    JsonNode v = body.get(name);
    return v == null || v.isNull() ? null : v;
  }

  boolean has(String name) {
    return get(name) != null;
  }

  static String kind(JsonNode v) {
    if (v.isTextual()) {
      return "a string";
    }
    if (v.isBoolean()) {
      return "a boolean";
    }
    if (v.isIntegralNumber()) {
      return "an integer";
    }
    if (v.isNumber()) {
      return "a decimal";
    }
    if (v.isArray()) {
      return "an array";
    }
    return v.isObject() ? "an object" : "null";
  }

  static ApiError wrongType(String name, String expected, JsonNode got) {
    return ApiError.invalid(
        name,
        "invalid_type",
        "Invalid type for '"
            + name
            + "': expected "
            + expected
            + ", but got "
            + kind(got)
            + " instead.");
  }

  /** An integer in [min, max]; a decimal with no fraction (16.0) counts as one. */
  Integer integer(String name, Integer otherwise, long min, long max) {
    JsonNode v = get(name);
    if (v == null) {
      return otherwise;
    }
    return (int) integerValue(name, v, min, max);
  }

  static long integerValue(String name, JsonNode v, long min, long max) {
    if (!v.isNumber() || (!v.isIntegralNumber() && v.asDouble() != Math.rint(v.asDouble()))) {
      throw wrongType(name, "an integer", v);
    }
    if (!v.canConvertToLong()) {
      throw ApiError.invalid(name, "integer_above_max_value", "Invalid '" + name + "': too large.");
    }
    long x = v.asLong();
    if (x < min) {
      throw ApiError.invalid(
          name,
          "integer_below_min_value",
          "Invalid '"
              + name
              + "': integer below minimum value. Expected a value >= "
              + min
              + ", but got "
              + x
              + " instead.");
    }
    if (x > max) {
      throw ApiError.invalid(
          name,
          "integer_above_max_value",
          "Invalid '"
              + name
              + "': integer above maximum value. Expected a value <= "
              + max
              + ", but got "
              + x
              + " instead.");
    }
    return x;
  }

  /** A long of any value (a seed). */
  Long longValue(String name) {
    JsonNode v = get(name);
    return v == null ? null : integerValue(name, v, Long.MIN_VALUE, Long.MAX_VALUE);
  }

  /**
   * A number in [min, max], or in (min, max] with {@code aboveMin}.
   *
   * @param max {@code Double.POSITIVE_INFINITY} for no upper bound
   */
  double number(String name, double otherwise, double min, boolean aboveMin, double max) {
    JsonNode v = get(name);
    if (v == null) {
      return otherwise;
    }
    if (!v.isNumber()) {
      throw wrongType(name, "a decimal", v);
    }
    double x = v.asDouble();
    if (aboveMin ? !(x > min) : !(x >= min)) {
      throw ApiError.invalid(
          name,
          "decimal_below_min_value",
          "Invalid '"
              + name
              + "': decimal below minimum value. Expected a value "
              + (aboveMin ? "> " : ">= ")
              + plain(min)
              + ", but got "
              + v
              + " instead.");
    }
    if (x > max) {
      throw ApiError.invalid(
          name,
          "decimal_above_max_value",
          "Invalid '"
              + name
              + "': decimal above maximum value. Expected a value <= "
              + plain(max)
              + ", but got "
              + v
              + " instead.");
    }
    return x;
  }

  /** 0 rather than 0.0: the bound as a person writes it. */
  private static String plain(double x) {
    return x == Math.rint(x) ? Long.toString((long) x) : Double.toString(x);
  }

  boolean bool(String name, boolean otherwise) {
    JsonNode v = get(name);
    if (v == null) {
      return otherwise;
    }
    if (!v.isBoolean()) {
      throw wrongType(name, "a boolean", v);
    }
    return v.asBoolean();
  }

  String string(String name, String otherwise) {
    JsonNode v = get(name);
    if (v == null) {
      return otherwise;
    }
    if (!v.isTextual()) {
      throw wrongType(name, "a string", v);
    }
    return v.asText();
  }

  /** OpenAI's {@code stop}: a string or up to 4 non-empty strings. */
  List<String> stop(String name) {
    JsonNode v = get(name);
    List<String> out = new ArrayList<>();
    if (v == null) {
      return out;
    }
    if (v.isTextual()) {
      out.add(v.asText());
    } else if (v.isArray()) {
      if (v.size() > 4) {
        throw ApiError.invalid(
            name,
            "array_above_max_length",
            "Invalid '" + name + "': expected at most 4 strings, but got " + v.size() + ".");
      }
      for (int i = 0; i < v.size(); i++) {
        if (!v.get(i).isTextual()) {
          throw wrongType(name + "[" + i + "]", "a string", v.get(i));
        }
        out.add(v.get(i).asText());
      }
    } else {
      throw wrongType(name, "a string or an array of strings", v);
    }
    for (String s : out) {
      if (s.isEmpty()) {
        throw ApiError.invalid(name, "Invalid '" + name + "': a stop string must not be empty.");
      }
    }
    return out;
  }

  /** A list of token ids in [0, vocab). */
  long[] ids(String name, int vocab) {
    JsonNode v = get(name);
    if (v == null) {
      return new long[0];
    }
    if (!v.isArray()) {
      throw wrongType(name, "an array of token ids", v);
    }
    return idList(name, v, vocab);
  }

  static long[] idList(String name, JsonNode list, int vocab) {
    long[] ids = new long[list.size()];
    for (int i = 0; i < ids.length; i++) {
      String at = name + "[" + i + "]";
      JsonNode t = list.get(i);
      if (!t.isIntegralNumber()) {
        throw wrongType(at, "a token id (an integer)", t);
      }
      ids[i] = t.asLong();
      if (ids[i] < 0 || ids[i] >= vocab) {
        throw ApiError.invalid(
            at,
            "Invalid '"
                + at
                + "': token id "
                + ids[i]
                + " is outside the vocabulary [0, "
                + vocab
                + ").");
      }
    }
    return ids;
  }

  /**
   * Refuses a field OpenAI or vLLM define that tilt serve does not implement, unless it holds the
   * value that means "off" ({@code neutral}, compared as JSON), so clients that always send the
   * default (e.g. {@code presence_penalty: 0}) still work.
   */
  void onlyNeutral(String name, JsonNode neutral, String why) {
    JsonNode v = get(name);
    if (v != null
        && !v.equals(neutral)
        && !(v.isNumber() && neutral.isNumber() && v.asDouble() == neutral.asDouble())) {
      throw ApiError.unsupported(
          name, "Unsupported value for '" + name + "': tilt serve " + why + ".");
    }
  }
}
