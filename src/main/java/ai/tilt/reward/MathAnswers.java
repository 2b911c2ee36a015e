package ai.tilt.reward;

import static java.math.BigDecimal.ONE;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

/**
 * Final answers of math completions, and whether two answers are the same (for {@link MathReward});
 * pure functions, JDK only.
 *
 * <p><b>Extraction</b> tries {@link Extract} steps in order; the first that finds something wins.
 * {@link #DEFAULT_ORDER} is boxed, hashes, answer_is, last_number: Qwen2.5-Math's evaluation order
 * (box, "the answer is", last number) with GSM8K's {@code ####} added, so a boxed answer counts
 * even when arithmetic follows it. {@code [boxed]} alone is verl's strict MATH scoring.
 *
 * <p><b>Equivalence</b> is by exact value when both sides are numbers, else by normalised text:
 *
 * <ul>
 *   <li>Numbers are exact rationals (pairs of BigDecimals), never floats: 0.5 = .5 = 1/2 = \frac12
 *       = 50/100, 1,234 = 1 234 = 1234.0; 0.333 is not 1/3 (no tolerance: a rounded decimal is
 *       another answer). Mixed numbers (4 4/9, 2\frac{1}{2}) are whole plus a proper fraction, as
 *       in Math-Verify. A decimal comma (1,5) is not a number.
 *   <li>Scientific notation is exact: 1e3, 2.5E-3, 1.0E20 (Jackson's text for a JSON double),
 *       3\times10^{5}, 10^3; an exponent over 1000 in size makes the answer text.
 *   <li>A percent sign is dropped: 50% = 50, and 50% is not 0.5, as hendrycks MATH and verl strip
 *       it (datasets give percentages in percent). Math-Verify also takes 0.5 for a gold 50% and
 *       Qwen's grader takes x, x/100 and 100x; both reward a wrong scale.
 *   <li>Units and currency after a number go: $5, \$5, 5 dollars, 5\text{ cm}, 5 cm^2, 30^\circ. A
 *       unit is a word after a space (not pi, sqrt, and, ...) or a common abbreviation against the
 *       number (5cm, 10kg); 5x and 5m stay expressions.
 *   <li>Wrappers go: $ $, \( \), \left \right, \! \, \; ~, \text{} \mathrm{}, \boxed{}, a trailing
 *       period, a leading "x =" (as in hendrycks), \{ \}; a Unicode minus is a minus.
 *   <li>Other answers compare as text without whitespace, \frac12 as \frac{1}{2}, outer braces and
 *       a choice's parentheses dropped ("\text{(A)}" = "A"), case ignored for letters-only answers.
 *       Tuples and intervals with the same brackets compare item by item, in order. A number never
 *       equals a non-number.
 * </ul>
 *
 * A reference holding a whole GSM8K solution counts by its last {@code #### N}, a MATH solution by
 * its last box.
 */
public final class MathAnswers {
  private MathAnswers() {}

  /**
   * Ways to find the final answer: the last {@code \boxed{...}} or {@code \fbox{...}} (nested
   * braces included); the rest of the line after the last {@code ####}; the rest of the sentence
   * after the last "answer is" or "answer:"; the last number or {@code \frac{a}{b}}.
   */
  public enum Extract {
    BOXED,
    HASHES,
    ANSWER_IS,
    LAST_NUMBER;

    /** The recipe name: boxed, hashes, answer_is, last_number. */
    public String key() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** The step with this recipe name, or null. */
    public static Extract of(String key) {
      return Arrays.stream(values()).filter(e -> e.key().equals(key)).findFirst().orElse(null);
    }
  }

  /** Boxed, hashes, answer_is, last_number: why in the class comment. */
  public static final List<Extract> DEFAULT_ORDER =
      List.of(Extract.BOXED, Extract.HASHES, Extract.ANSWER_IS, Extract.LAST_NUMBER);

  /** The answer found by the first step of {@code order} that finds one, or null. */
  public static String extract(String text, List<Extract> order) {
    return order.stream()
        .map(e -> extract(text, e))
        .filter(Objects::nonNull)
        .findFirst()
        .orElse(null);
  }

  /** The answer found by one step, stripped, or null when it finds nothing (or only blanks). */
  public static String extract(String text, Extract how) {
    String a =
        switch (how) {
          case BOXED -> lastBoxed(text);
          case HASHES -> lastHashes(text);
          case ANSWER_IS -> answerIs(text);
          case LAST_NUMBER -> lastNumber(text);
        };
    return a == null || a.isBlank() ? null : a.strip();
  }

  /** Whether an extracted answer and a reference answer are the same (rules in the class doc). */
  public static boolean equivalent(String answer, String reference) {
    return answer != null && reference != null && same(clean(answer), clean(reference));
  }

  private static String lastBoxed(String s) {
    int at = Math.max(s.lastIndexOf("\\boxed"), s.lastIndexOf("\\fbox"));
    if (at < 0) {
      return null;
    }
    int start = at + (s.startsWith("\\boxed", at) ? 6 : 5);
    int i = start;
    while (i < s.length() && s.charAt(i) == ' ') {
      i++;
    }
    if (i < s.length() && s.charAt(i) == '{') {
      return group(s, i); // null when cut off: a truncated box is no answer
    }
    if (i == start) {
      return null; // \boxedx is another command
    }
    String rest = line(s, i); // "\boxed 5$", the brace-less form hendrycks MATH accepts
    return rest.indexOf('$') < 0 ? rest : rest.substring(0, rest.indexOf('$'));
  }

  private static String lastHashes(String s) {
    int at = s.lastIndexOf("####");
    return at < 0 ? null : line(s, at + 4);
  }

  private static String line(String s, int from) {
    int nl = s.indexOf('\n', from);
    return s.substring(from, nl < 0 ? s.length() : nl);
  }

  private static final Pattern ANSWER_IS = Pattern.compile("(?i)\\banswer\\s*(?:is\\b|:)[\\s:*]*");
  // a period ends the sentence only before a space or the end: 3.5 keeps its point
  private static final Pattern SENTENCE_END = Pattern.compile("\\.(?:\\s|$)");

  private static String answerIs(String s) {
    MatchResult m = lastMatch(ANSWER_IS, s);
    if (m == null) {
      return null;
    }
    String rest = line(s, m.end());
    Matcher end = SENTENCE_END.matcher(rest);
    rest = end.find() ? rest.substring(0, end.start()) : rest;
    return rest.replaceAll("^[\\s*]+|[\\s*]+$", ""); // markdown bold: **42**
  }

  // The sign counts only where it cannot be a binary minus (not after "3" in "3-5"); digits
  // glued to a letter or a point (x2, v1.2) are not numbers of their own.
  private static final Pattern NUMBER_IN_TEXT =
      Pattern.compile(
          "(?:(?<![\\w)\\]}])[-+\u2212])?(?:\\\\[dtc]?frac(?:\\{[^{}]*\\}|\\d){2}"
              + "|(?<![\\w.])(?:(?:\\d{1,3}(?:,\\d{3})+(?!\\d)|\\d+)(?:\\.\\d+)?|\\.\\d+)"
              + "(?:/\\d+)?)");

  private static String lastNumber(String s) {
    MatchResult m = lastMatch(NUMBER_IN_TEXT, s);
    return m == null ? null : m.group();
  }

  private static MatchResult lastMatch(Pattern p, String s) {
    MatchResult last = null;
    for (Matcher m = p.matcher(s); m.find(); ) {
      last = m.toMatchResult();
    }
    return last;
  }

  /** The text inside the brace at {@code open} and its match; escaped braces do not count. */
  private static String group(String s, int open) {
    int depth = 0;
    for (int i = open; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\') {
        i++;
      } else if (c == '{') {
        depth++;
      } else if (c == '}' && --depth == 0) {
        return s.substring(open + 1, i);
      }
    }
    return null;
  }

  private static final Pattern TEXT_COMMAND =
      Pattern.compile(
          "\\\\(?:text|textbf|textit|textrm|texttt|textnormal|mathrm|mathbf|mathit|mbox"
              + "|operatorname|boldsymbol)\\s*(?=\\{)");
  // \left \right \! \displaystyle, degrees, dollars and other currency, \( \) \[ \]
  private static final Pattern DROPPED =
      Pattern.compile(
          "\\\\(?:left|right|displaystyle)(?![A-Za-z])|\\\\!|\\^\\s*\\{?\\s*\\\\circ\\s*\\}?|\u00b0"
              + "|\\\\?[$\u20ac\u00a3\u00a5\u20b9]|\\\\[()\\[\\]]");
  private static final Pattern SPACING =
      Pattern.compile("\\\\(?:qquad|quad|[,;: ])|~|[\u00a0\u2007\u2009\u202f]");
  private static final Pattern UNICODE_MINUS = Pattern.compile("[\u2212\u2013\ufe63\uff0d]");
  private static final Pattern ASSIGNED =
      Pattern.compile("^\\\\?[A-Za-z]+(?:_\\{?\\w+\\}?)?\\s*=([^=]+)$");
  // \frac12, \frac1{2}, \frac{1}2 and \sqrt3 get their braces, as in hendrycks' _fix_fracs
  private static final Pattern FIRST_ARG = Pattern.compile("\\\\(frac|sqrt)\\s*(\\w)");
  private static final Pattern SECOND_ARG =
      Pattern.compile("(\\\\frac\\{(?:[^{}]|\\{[^{}]*\\})*\\})\\s*(\\w)");
  private static final Pattern PERCENT =
      Pattern.compile("(?i)(?:\\s*%|\\s+(?:percent|percentage|pct))$");

  /** The answer with its wrappers, spacing commands, degrees, currency and percent removed. */
  private static String clean(String s) {
    String t = s.strip();
    t = Objects.requireNonNullElse(lastHashes(t), t);
    t = Objects.requireNonNullElse(lastBoxed(t), t);
    t = unwrapText(t);
    t = UNICODE_MINUS.matcher(t).replaceAll("-");
    t = DROPPED.matcher(t).replaceAll("").replace("{,}", ",");
    t = SPACING.matcher(t).replaceAll(" ");
    t = t.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac");
    t = t.replace("\\%", "%").replace("\\{", "{").replace("\\}", "}");
    t = t.replace("\\neq", "\\ne").replace("\\leq", "\\le").replace("\\geq", "\\ge");
    t = FIRST_ARG.matcher(t).replaceAll("\\\\$1{$2}");
    t = SECOND_ARG.matcher(t).replaceAll("$1{$2}");
    t = t.strip().replaceAll("[\\s.]+$", ""); // a trailing full stop
    Matcher m = ASSIGNED.matcher(t);
    t = m.matches() ? m.group(1).strip() : t;
    return PERCENT.matcher(t).replaceAll("").strip();
  }

  private static String unwrapText(String t) {
    for (Matcher m = TEXT_COMMAND.matcher(t); m.find(); m = TEXT_COMMAND.matcher(t)) {
      String inner = group(t, m.end());
      if (inner == null) {
        return t;
      }
      t = t.substring(0, m.start()) + inner + t.substring(m.end() + inner.length() + 2);
    }
    return t;
  }

  private static boolean same(String a, String b) {
    BigDecimal[] x = value(a);
    BigDecimal[] y = value(b);
    if (x != null || y != null) { // a/b = c/d as a*d = c*b: BigDecimal products are exact
      return x != null && y != null && x[0].multiply(y[1]).compareTo(y[0].multiply(x[1])) == 0;
    }
    if (key(a).equals(key(b))) {
      return true;
    }
    List<String> pa = items(a);
    List<String> pb = items(b);
    boolean tuples = pa != null && pb != null && pa.size() > 1 && pa.size() == pb.size();
    return tuples
        && a.charAt(0) == b.charAt(0)
        && a.charAt(a.length() - 1) == b.charAt(b.length() - 1)
        && IntStream.range(0, pa.size()).allMatch(i -> same(clean(pa.get(i)), clean(pb.get(i))));
  }

  private static final Pattern CHOICE = Pattern.compile("^\\(([A-Za-z])\\)$");
  private static final Pattern ONE_CHAR_SCRIPT = Pattern.compile("([_^])\\{([^{}])\\}");

  /** The text form of a non-number: no whitespace, no outer braces, x^{2} as x^2. */
  private static String key(String c) {
    String k = c.replaceAll("\\s+", "");
    while (k.length() >= 2 && k.charAt(0) == '{' && k.equals("{" + group(k, 0) + "}")) {
      k = k.substring(1, k.length() - 1);
    }
    k = ONE_CHAR_SCRIPT.matcher(k).replaceAll("$1$2");
    Matcher choice = CHOICE.matcher(k);
    k = choice.matches() ? choice.group(1) : k;
    return k.chars().allMatch(Character::isLetter) ? k.toLowerCase(Locale.ROOT) : k;
  }

  /**
   * The comma-separated items inside brackets that wrap all of {@code c} ("(1, 2)", "[0, 1)",
   * "(5)"), or null when it is not so wrapped ("(1)(2)").
   */
  private static List<String> items(String c) {
    if (c.length() < 2 || "([{".indexOf(c.charAt(0)) < 0) {
      return null;
    }
    List<String> out = new ArrayList<>();
    int depth = 0;
    int from = 1;
    for (int i = 0; i < c.length(); i++) {
      char ch = c.charAt(i);
      if ("([{".indexOf(ch) >= 0) {
        depth++;
      } else if (")]}".indexOf(ch) >= 0 && --depth == 0) {
        out.add(c.substring(from, i));
        return i == c.length() - 1 ? out : null;
      } else if (ch == ',' && depth == 1) {
        out.add(c.substring(from, i));
        from = i + 1;
      }
    }
    return null;
  }

  private static final String DEC =
      "(?:(?:\\d{1,3}(?:,\\d{3})+|\\d{1,3}(?: \\d{3})+|\\d+)(?:\\.\\d*)?|\\.\\d+)";
  private static final Pattern SIGNED = Pattern.compile("([+-]?)\\s*(.+)");
  private static final Pattern FRAC = Pattern.compile("\\\\frac\\{([^{}]*)\\}\\{([^{}]*)\\}");
  private static final Pattern MIXED =
      Pattern.compile("(\\d+)(?:\\s*\\\\frac\\{(\\d+)\\}\\{(\\d+)\\}|\\s+(\\d+)/(\\d+))");
  private static final Pattern SLASH = Pattern.compile("(" + DEC + ")\\s*/\\s*(" + DEC + ")");
  private static final Pattern SCI =
      Pattern.compile(
          "("
              + DEC
              + ")(?:[eE]([+-]?\\d+)|\\s*(?:\\\\times|\\\\cdot|\u00d7|\\*)\\s*10\\s*\\^\\s*"
              + "(?:\\{\\s*([+-]?\\d+)\\s*\\}|(\\d)))?");
  private static final Pattern UNIT_TAIL =
      Pattern.compile(
          "(.*?[\\d}])(\\s*)([A-Za-z]+(?:\\^\\{?[23]\\}?|[\u00b2\u00b3])?"
              + "(?:(?:\\s+|\\s*/\\s*)[A-Za-z]+(?:\\^\\{?[23]\\}?|[\u00b2\u00b3])?)*\\.?)");
  // unit words that read as math (5 pi is not 5) and the one-letter units allowed after a space
  private static final Set<String> NOT_UNITS =
      Set.of(
          "pi", "sqrt", "ln", "log", "exp", "sin", "cos", "tan", "cot", "csc", "and", "or", "to",
          "times", "over", "plus", "minus", "mod", "infty", "inf");
  private static final Set<String> ONE_LETTER_UNITS = Set.of("m", "g", "s", "h", "l", "k");
  // written against the number (5cm); 5m or 5g stay expressions, as m and g are often variables
  private static final Set<String> GLUED_UNITS =
      Set.of(
          "cm", "mm", "km", "kg", "mg", "ml", "ft", "mph", "kmh", "lb", "lbs", "oz", "hrs", "hr",
          "min", "mins", "sec", "secs");
  private static final int MAX_EXPONENT = 1000;

  /** The value as {numerator, denominator != 0}, or null when it is not a number. */
  private static BigDecimal[] value(String c) {
    BigDecimal[] v = number(c);
    Matcher m = UNIT_TAIL.matcher(c);
    if (v == null && m.matches() && isUnit(m.group(2), m.group(3))) {
      v = number(m.group(1));
    }
    List<String> inner = v == null ? items(c) : null;
    boolean wrapped = inner != null && inner.size() == 1 && c.charAt(0) != '[';
    return wrapped ? value(inner.get(0).strip()) : v; // (5) and {5} are 5
  }

  private static boolean isUnit(String gap, String tail) {
    String[] words = tail.toLowerCase(Locale.ROOT).split("[^a-z]+");
    String first = words[0];
    if (Arrays.stream(words).anyMatch(NOT_UNITS::contains)) {
      return false;
    }
    return gap.isEmpty()
        ? GLUED_UNITS.contains(first)
        : first.length() > 1 || ONE_LETTER_UNITS.contains(first);
  }

  private static BigDecimal[] number(String s) {
    Matcher sign = SIGNED.matcher(s.strip());
    if (!sign.matches()) {
      return null;
    }
    // 10^{5} is 1\times10^{5}
    String body = sign.group(2).startsWith("10^") ? "1\\times" + sign.group(2) : sign.group(2);
    BigDecimal[] v = null;
    Matcher m;
    if ((m = FRAC.matcher(body)).matches() || (m = SLASH.matcher(body)).matches()) {
      v = divide(number(m.group(1)), number(m.group(2)));
    } else if ((m = MIXED.matcher(body)).matches()) {
      BigDecimal whole = new BigDecimal(m.group(1));
      BigDecimal num = new BigDecimal(m.group(2) != null ? m.group(2) : m.group(4));
      BigDecimal den = new BigDecimal(m.group(3) != null ? m.group(3) : m.group(5));
      // 11 7/6 is not a mixed number (Math-Verify refuses it too)
      v = num.compareTo(den) < 0 ? ratio(whole.multiply(den).add(num), den) : null;
    } else if ((m = SCI.matcher(body)).matches()) {
      String exp = m.group(2) != null ? m.group(2) : m.group(3) != null ? m.group(3) : m.group(4);
      int e = exp == null ? 0 : exp.length() > 6 ? Integer.MAX_VALUE : Integer.parseInt(exp);
      v = Math.abs(e) > MAX_EXPONENT ? null : ratio(decimal(m.group(1)).scaleByPowerOfTen(e), ONE);
    }
    return v == null || !sign.group(1).equals("-") ? v : new BigDecimal[] {v[0].negate(), v[1]};
  }

  private static BigDecimal decimal(String dec) {
    return new BigDecimal(dec.replace(",", "").replace(" ", ""));
  }

  private static BigDecimal[] divide(BigDecimal[] a, BigDecimal[] b) {
    return a == null || b == null ? null : ratio(a[0].multiply(b[1]), a[1].multiply(b[0]));
  }

  private static BigDecimal[] ratio(BigDecimal num, BigDecimal den) {
    return num == null || den == null || den.signum() == 0 ? null : new BigDecimal[] {num, den};
  }
}
