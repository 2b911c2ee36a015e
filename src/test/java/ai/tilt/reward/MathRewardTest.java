package ai.tilt.reward;

import static ai.tilt.reward.RuleRewardsTest.one;
import static ai.tilt.reward.RuleRewardsTest.withRecord;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.reward.MathAnswers.Extract;
import ai.tilt.train.RecipeLoader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The math reward: answer extraction and equivalence on tricky cases (each noting the published
 * verifier that treats it the same way, or why Tilt differs), binding from recipes, and errors.
 */
class MathRewardTest {
  static final List<String> ALL = List.of("boxed", "hashes", "answer_is", "last_number");

  /** answer, reference, whether they are the same answer, and whose rule that is. */
  record Same(String answer, String reference, boolean same, String why) {}

  static final List<Same> EQUIVALENCE =
      List.of(
          new Same("1,234", "1234", true, "thousands commas: Math-Verify, verl gsm8k"),
          new Same("1 234", "1234", true, "thousands spaces: Math-Verify '1 000'"),
          new Same("1,234,567", "1234567", true, "several groups"),
          new Same("14{,}916", "14916", true, "LaTeX {,} separator: Math-Verify MATH case"),
          new Same("1234.0", "1234", true, "trailing zeros: Math-Verify '1000.0'"),
          new Same("0.50", "0.5", true, "same decimal value"),
          new Same(".5", "0.5", true, "leading point: hendrycks adds the 0, Math-Verify '.4'"),
          new Same("1/2", "0.5", true, "exact rationals (hendrycks only special-cases 0.5)"),
          new Same("6/8", "3/4", true, "by value, where hendrycks' string compare says no"),
          new Same("3/4", "\\frac{3}{4}", true, "hendrycks _fix_a_slash_b"),
          new Same("\\dfrac34", "3/4", true, "hendrycks dfrac and _fix_fracs"),
          new Same("\\tfrac{3}{4}", "0.75", true, "tfrac: hendrycks, Math-Verify"),
          new Same("-\\frac{1}{2}", "-0.5", true, "signed fraction: Math-Verify '-10/9'"),
          new Same("\\frac{-1}{2}", "-1/2", true, "sign inside the fraction"),
          new Same("0.333", "1/3", false, "no float tolerance (Qwen's grader has rel 1e-4)"),
          new Same("50%", "50", true, "percent dropped: hendrycks/verl; Math-Verify gold 28%"),
          new Same("50\\%", "50", true, "LaTeX percent: hendrycks strip_string"),
          new Same("50 percent", "50%", true, "percent word: Math-Verify"),
          new Same("50%", "0.5", false, "hendrycks; Math-Verify and Qwen would accept"),
          new Same("0.28", "28", false, "Math-Verify test_percent_notation"),
          new Same("+5", "5", true, "explicit plus"),
          new Same("\u22125", "-5", true, "Unicode minus"),
          new Same("-5", "5", false, "sign matters"),
          new Same("$5", "5", true, "currency: verl gsm8k strips $, Math-Verify"),
          new Same("\\$5.00", "5", true, "hendrycks removes \\$"),
          new Same("1,000.99\u20ac", "1000.99", true, "Math-Verify currency case"),
          new Same("5 dollars", "5", true, "unit word: verl's MathQA unit list"),
          new Same("5 cm", "5", true, "unit after a space"),
          new Same("5cm^2", "5", true, "glued common unit with a power"),
          new Same("5\\text{ cm}", "5", true, "hendrycks _remove_right_units"),
          new Same("\\frac{1}{3} \\text{meters}", "1/3", true, "Math-Verify unit after LaTeX"),
          new Same("90^\\circ", "90", true, "hendrycks removes ^\\circ"),
          new Same("90^{\\circ}", "90\u00b0", true, "both degree forms"),
          new Same("5x", "5", false, "a variable is not a unit"),
          new Same("5m", "5", false, "m glued to a number may be a variable"),
          new Same("5 \\pi", "5", false, "pi is not a unit"),
          new Same("42.", "42", true, "trailing period: verl rstrip('.')"),
          new Same("x = 5", "5", true, "hendrycks drops a short left side"),
          new Same("1e3", "1000", true, "scientific notation (Python float() in Qwen's grader)"),
          new Same("3 \\times 10^{5}", "300000", true, "Qwen math_answer_cleaning \\times10^"),
          new Same("2.5E-3", "1/400", true, "exact negative exponent"),
          new Same("10^{3}", "1e3", true, "a bare power of ten"),
          new Same("1e5000", "1", false, "huge exponents are text, never computed"),
          new Same("x+1", "x + 1", true, "hendrycks removes spaces"),
          new Same("\\text{(A)}", "A", true, "choice letter in \\text and parentheses"),
          new Same("(b)", "B", true, "choice letters ignore case (Qwen uppercases)"),
          new Same("\\text{Evelyn}", "Evelyn", true, "Math-Verify MATH text answer"),
          new Same("\\sqrt3", "\\sqrt{3}", true, "hendrycks _fix_sqrt"),
          new Same("x^{2}", "x^2", true, "one-character exponent braces"),
          new Same("\\left( 3, \\frac{1}{2} \\right)", "(3, 0.5)", true, "tuple item by item"),
          new Same("(1, 2)", "(2, 1)", false, "ordered tuple"),
          new Same("[0, 1)", "(0, 1)", false, "intervals: Math-Verify sets test"),
          new Same("\\{1,2\\}", "{1, 2}", true, "escaped set braces"),
          new Same("4 4/9", "40/9", true, "mixed number: Math-Verify"),
          new Same("11 7/6", "73/6", false, "improper 'mixed' number: Math-Verify refuses it"),
          new Same("2\\frac{1}{2}", "2.5", true, "MATH writes mixed numbers so"),
          new Same("1,5", "1.5", false, "no decimal comma (Math-Verify reads 1,22 as 1.22)"),
          new Same("AZYUK2A", "2", false, "a number never equals a non-number"),
          new Same("$\\boxed{7}$", "7", true, "a boxed reference"),
          new Same("72", "She sold 48/2 = 24 clips.\n#### 72", true, "GSM8K solution reference"));

  @Test
  void equivalenceTable() {
    List<String> failures = new ArrayList<>();
    for (Same c : EQUIVALENCE) {
      if (MathAnswers.equivalent(c.answer(), c.reference()) != c.same()) {
        failures.add(c.toString());
      }
      if (MathAnswers.equivalent(c.reference(), c.answer()) != c.same()) {
        failures.add("reversed: " + c);
      }
    }
    assertTrue(failures.isEmpty(), String.join("\n", failures));
    assertTrue(EQUIVALENCE.size() >= 40);
  }

  /** a completion, the extractors tried, the answer found (null: none), and whose rule. */
  record Found(String completion, List<String> extract, String answer, String why) {}

  static final List<Found> EXTRACTION =
      List.of(
          new Found(
              "so \\boxed{1} and then \\boxed{\\frac{3}{4}}.", ALL, "\\frac{3}{4}", "last box"),
          new Found("\\boxed{\\{1, \\{2\\}\\}}", ALL, "\\{1, \\{2\\}\\}", "escaped braces"),
          new Found("\\fbox{12} done", ALL, "12", "\\fbox (verl's remove_boxed drops it)"),
          new Found("so $\\boxed 5$ it is", ALL, "5", "hendrycks brace-less box"),
          new Found("cut off \\boxed{12", ALL, "12", "a truncated box: the last number"),
          new Found("cut off \\boxed{12", List.of("boxed"), null, "verl: no answer"),
          new Found("48/2 = 24\n24 + 48 = 72\n#### 72", ALL, "72", "GSM8K hashes"),
          new Found("#### $1,234\n", ALL, "$1,234", "hashes keep the rest of the line"),
          new Found("The answer is 42. Check: 42 * 2 = 84", ALL, "42", "answer_is before last"),
          new Found(
              "Final Answer: The final answer is $\\frac{14}{3}$. I hope it is correct.",
              ALL, "$\\frac{14}{3}$", "Minerva format (Math-Verify priority 0)"),
          new Found("**Answer:** 17", ALL, "17", "markdown answer: Math-Verify 'answer:'"),
          new Found("The total is 1,234 apples.", ALL, "1,234", "last number with commas"),
          new Found("between 3-5 apples", ALL, "5", "a range's dash is no minus"),
          new Found("so x = -7.", ALL, "-7", "negative last number, period dropped"),
          new Found("It costs 3.5.", ALL, "3.5", "decimal before a full stop"),
          new Found("the probability is \\frac{3}{8}", ALL, "\\frac{3}{8}", "a fraction is one"),
          new Found("so it is \\frac12 of it", ALL, "\\frac12", "a brace-less fraction"),
          new Found("1,2,3", ALL, "3", "a list, not thousands"),
          new Found("x2 and v1.2", ALL, null, "digits glued to names are not numbers"),
          new Found("no numbers here", ALL, null, "nothing to find"),
          new Found("\\boxed{4}", List.of("hashes", "last_number"), "4", "order as given"),
          new Found("\\boxed{4}", List.of("hashes"), null, "only the steps given"));

  @Test
  void extractionTable() {
    for (Found c : EXTRACTION) {
      List<Extract> order = c.extract().stream().map(Extract::of).toList();
      assertEquals(c.answer(), MathAnswers.extract(c.completion(), order), c.toString());
    }
    assertEquals(
        ALL, MathAnswers.DEFAULT_ORDER.stream().map(Extract::key).toList(), "default order");
  }

  @Test
  void rewardReadsTheRecordAndScoresCorrectWrongAndUnparsed() {
    MathReward math = new MathReward(null, null, 1.0, -1.0, -2.0);
    assertEquals(1.0, one(math, withRecord("{\"answer\": \"\\\\frac{3}{4}\"}", "\\boxed{0.75}")));
    assertEquals(-1.0, one(math, withRecord("{\"answer\": \"3/4\"}", "\\boxed{0.7}")));
    assertEquals(-2.0, one(math, withRecord("{\"answer\": \"3/4\"}", "I do not know.")));
    // JSON numbers, including a double Jackson writes as 1.0E20
    assertEquals(1.0, one(math, withRecord("{\"answer\": 42}", "#### 42")));
    assertEquals(1.0, one(math, withRecord("{\"answer\": 0.5}", "The answer is 1/2.")));
    assertEquals(1.0, one(math, withRecord("{\"answer\": 1e20}", "\\boxed{1 \\times 10^{20}}")));
    // any of a list counts
    assertEquals(1.0, one(math, withRecord("{\"answer\": [\"5\", \"(A)\"]}", "answer: A")));
    assertEquals(-1.0, one(math, withRecord("{\"answer\": [\"5\", \"(A)\"]}", "answer: B")));
    // unparsed defaults to wrong; the field is configurable
    MathReward gold = new MathReward("gold", List.of("boxed"), null, null, null);
    assertEquals(0.0, gold.unparsed());
    assertEquals(0.0, one(gold, withRecord("{\"gold\": 7}", "it is 7")));
    assertEquals(1.0, one(gold, withRecord("{\"gold\": 7}", "it is \\boxed{7}")));
  }

  @Test
  void aRecordWithoutTheFieldOrWithAnObjectIsAnErrorNamingIt() {
    try (Reward r = new MathReward(null, null, null, null, null).create(RuleRewardsTest.NONE)) {
      RewardException e =
          assertThrows(
              RewardException.class,
              () ->
                  r.score(
                      List.of(
                          withRecord("{\"answer\": 1}", "\\boxed{1}"),
                          withRecord("{\"question\": \"q\"}", "\\boxed{1}"))));
      assertTrue(
          e.getMessage().contains("'answer'")
              && e.getMessage().contains("item 1")
              && e.getMessage().contains("math"),
          e.getMessage());
      e =
          assertThrows(
              RewardException.class,
              () -> r.score(List.of(withRecord("{\"answer\": {\"a\": 1}}", "\\boxed{1}"))));
      assertTrue(e.getMessage().contains("object"), e.getMessage());
    }
  }

  @Test
  void bindsFromYamlAndJsonWithDefaultsAndOverrides() {
    assertEquals(
        new MathReward("answer", ALL, 1.0, 0.0, 0.0),
        RewardBindingTest.bind("reward: math\n").reward());
    assertEquals(
        new MathReward("gold", List.of("boxed"), 2.0, -1.0, -1.0),
        RewardBindingTest.bind(
                "reward: {type: math, field: gold, extract: [boxed], correct: 2, wrong: -1}\n")
            .reward());
    assertEquals(
        new MathReward(null, List.of("hashes"), null, null, -0.5),
        RewardBindingTest.bind(
                "{\"reward\": {\"type\": \"math\", \"extract\": \"hashes\", \"unparsed\": -0.5}}")
            .reward());
    assertEquals(
        List.of("answer_is", "last_number"),
        ((MathReward)
                RewardBindingTest.bind("reward: math\n", "reward.extract=[answer_is, last_number]")
                    .reward())
            .extract());
    assertEquals(
        new MathReward(null, null, null, null, null),
        RewardBindingTest.bind("online: {gold_reward: math}\n").online().goldReward());
    RewardBindingTest.Holder h = RewardBindingTest.bind("reward: {type: math, wrong: -1}\n");
    String yaml = RecipeLoader.toYaml(h);
    assertTrue(yaml.contains("type: math") && yaml.contains("unparsed: -1.0"), yaml);
    RewardBindingTest.Holder again =
        RecipeLoader.bind(
            (ObjectNode) RewardBindingTest.readTree(yaml),
            List.of(),
            "round trip",
            RewardBindingTest.Holder.class);
    assertEquals(h.reward(), again.reward());
  }

  @Test
  void badKeysAndValuesNameTheKey() {
    String msg = RewardBindingTest.error("reward: {type: math, extract: [boxed, foo]}\n");
    assertTrue(
        msg.contains(
            "reward.extract: unknown extractor 'foo' (expected one of boxed, hashes, answer_is,"
                + " last_number)"),
        msg);
    msg = RewardBindingTest.error("reward: {type: math, extracts: [boxed]}\n");
    assertTrue(msg.contains("'reward.extracts'") && msg.contains("extract"), msg);
    assertTrue(
        RewardBindingTest.error("reward: {type: math, extract: []}\n")
            .contains("reward.extract must name at least one extractor"));
    assertTrue(
        RewardBindingTest.error("reward: {type: math, extract: [boxed, boxed]}\n")
            .contains("'boxed' twice"));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> new MathReward(null, null, null, null, Double.NaN))
            .getMessage()
            .contains("reward.unparsed must be a finite number"));
    assertTrue(
        RewardBindingTest.error("reward: {type: math, wrong: x}\n").contains("'reward.wrong'"));
    assertTrue(
        RewardBindingTest.error("reward: {type: math, field: ''}\n")
            .contains("reward.field must not be empty"));
    assertNull(Extract.of("BOXED"), "names are the lower-case recipe names");
  }
}
