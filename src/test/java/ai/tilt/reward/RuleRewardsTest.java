package ai.tilt.reward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.ByteLevelBpe;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rule rewards on small inputs, against values computed by hand. */
class RuleRewardsTest {
  static final double EPS = 1e-12;
  static final RewardContext NONE = RewardContext.empty();

  static RewardInput ids(long[] completion, boolean finished) {
    return new RewardInput(null, null, null, null, completion, finished);
  }

  static RewardInput text(String completion) {
    return RewardInput.ofText("a prompt that rewards must ignore", completion);
  }

  static RewardInput withRecord(String json, String completion) {
    try {
      return new RewardInput(new ObjectMapper().readTree(json), "q", null, completion, null, false);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static double one(RewardSpec spec, RewardInput in) {
    try (Reward r = spec.create(NONE)) {
      double[] out = r.score(List.of(in));
      assertEquals(1, out.length);
      return out[0];
    }
  }

  @Test
  void bumpAveragesTheGaussianOverCompletionTokens() {
    Bump bump = new Bump(null, null, null); // center 70, width 10
    // (exp(0) + exp(-1)) / 2
    assertEquals(0.6839397205857212, one(bump, ids(new long[] {70, 80}, false)), EPS);
    // a finished completion's stop token (any id: 2 here) is not an action and leaves the mean
    // alone
    assertEquals(0.6839397205857212, one(bump, ids(new long[] {70, 80, 2}, true)), EPS);
    // unfinished, the same id is a token: (1 + e^-1 + e^-46.24) / 3
    assertEquals(
        (1 + Math.exp(-1) + Math.exp(-46.24)) / 3,
        one(bump, ids(new long[] {70, 80, 2}, false)),
        EPS);
    assertEquals(0.4559598137238141, one(bump, ids(new long[] {70, 80, 2}, false)), 1e-12);
    // center 20, width 20: id 30 gives exp(-0.25)
    assertEquals(
        0.7788007830714049, one(new Bump(20.0, 20.0, false), ids(new long[] {30}, false)), EPS);
    // an immediate stop has no tokens: the bump's floor
    assertEquals(0.0, one(bump, ids(new long[] {2}, true)), 0.0);
  }

  @Test
  void bumpWithThePromptAsInTheTransformerBandit() {
    RewardInput in = new RewardInput(null, null, new long[] {75}, null, new long[] {70, 70}, false);
    // (exp(-0.25) + 1 + 1) / 3
    assertEquals(0.9262669276904683, one(new Bump(70.0, 10.0, true), in), EPS);
    assertEquals(1.0, one(new Bump(70.0, 10.0, false), in), EPS);
  }

  @Test
  void minLengthCountsTokensWithoutTheStopTokenAndTextInCodePointsOrWords() {
    MinLength tokens = new MinLength(null);
    assertEquals(-3, one(tokens, ids(new long[] {5, 6, 7, 2}, true)), 0.0);
    assertEquals(-4, one(tokens, ids(new long[] {5, 6, 7, 2}, false)), 0.0);
    // a custom stop id (99, not the tokenizer's EOS) is recognised because finished says so
    assertEquals(-2, one(tokens, ids(new long[] {5, 6, 99}, true)), 0.0);
    assertEquals(0, one(tokens, ids(new long[] {}, false)), 0.0);
    // "héllo 🙂": 7 code points (8 UTF-16 chars)
    assertEquals(-7, one(new MinLength(LengthUnit.CHARS), text("h\u00e9llo \uD83D\uDE42")), 0.0);
    assertEquals(-4, one(new MinLength(LengthUnit.WORDS), text("  the quick\n brown\tfox ")), 0.0);
    assertEquals(0, one(new MinLength(LengthUnit.WORDS), text(" \n ")), 0.0);
  }

  @Test
  void modeAndSkewLengthAreDistancesToTheTarget() {
    assertEquals(-7, one(new ModeLength(10.0, null), ids(new long[] {1, 2, 3, 0}, true)), 0.0);
    assertEquals(-2, one(new ModeLength(10.0, LengthUnit.CHARS), text("abcdefghijkl")), 0.0);
    SkewLength skew = new SkewLength(10.0, null, null, LengthUnit.CHARS); // below 1, above 4
    assertEquals(-3, one(skew, text("abcdefg")), 0.0); // 3 short
    assertEquals(-8, one(skew, text("abcdefghijkl")), 0.0); // 2 long, 4 each
    assertEquals(0, one(skew, text("abcdefghij")), 0.0);
    assertEquals(
        -3,
        one(new SkewLength(10.0, 0.5, 2.0, LengthUnit.WORDS), text("a b c d")),
        0.0); // 6 short * 0.5
  }

  @Test
  void regexAndContainsReadTheCompletionText() {
    RegexMatch find = new RegexMatch("\\d+", null, null, null);
    assertEquals(1.0, one(find, text("answer: 42")), 0.0);
    assertEquals(0.0, one(find, text("none")), 0.0);
    RegexMatch full = new RegexMatch("\\d+", 2.0, -1.0, true);
    assertEquals(2.0, one(full, text("42")), 0.0);
    assertEquals(-1.0, one(full, text("answer: 42")), 0.0);
    // the prompt is context only: a match in the prompt does not count
    assertEquals(0.0, one(find, RewardInput.ofText("what is 6 * 7?", "forty-two")), 0.0);
    assertEquals(
        1.0, one(new Contains("Paris", null, null, true), text("The capital is PARIS.")), 0.0);
    assertEquals(
        0.0, one(new Contains("Paris", null, null, false), text("The capital is PARIS.")), 0.0);
    assertEquals(5.0, one(new Contains("a.b", 5.0, null, false), text("xa.by")), 0.0);
    assertEquals(
        0.0,
        one(new Contains("a.b", 5.0, null, false), text("xaxby")),
        0.0); // literal, not a regex
  }

  @Test
  void exactMatchNormalisesAndReadsTheRecordField() {
    ExactMatch em = new ExactMatch(null, null, null, null);
    assertEquals(1.0, one(em, withRecord("{\"answer\": \"  New   York \"}", "new york")), 0.0);
    assertEquals(1.0, one(em, withRecord("{\"answer\": 42}", " 42\n")), 0.0);
    assertEquals(1.0, one(em, withRecord("{\"answer\": [\"4\", \"four\"]}", "Four")), 0.0);
    assertEquals(0.0, one(em, withRecord("{\"answer\": [\"4\", \"four\"]}", "five")), 0.0);
    ExactMatch strict = new ExactMatch("gold", 1.0, -1.0, false);
    assertEquals(-1.0, one(strict, withRecord("{\"gold\": \"New York\"}", "new york")), 0.0);
    assertEquals(1.0, one(strict, withRecord("{\"gold\": \"New York\"}", "New York")), 0.0);
  }

  @Test
  void exactMatchWithoutTheFieldNamesItAndTheItem() {
    ExactMatch em = new ExactMatch(null, null, null, null);
    try (Reward r = em.create(NONE)) {
      RewardException e =
          assertThrows(
              RewardException.class,
              () ->
                  r.score(
                      List.of(
                          withRecord("{\"answer\": \"x\"}", "x"),
                          withRecord("{\"question\": \"q\"}", "x"))));
      assertTrue(
          e.getMessage().contains("'answer'")
              && e.getMessage().contains("item 1")
              && e.getMessage().contains("exact_match"),
          e.getMessage());
      e =
          assertThrows(
              RewardException.class,
              () -> r.score(List.of(withRecord("{\"answer\": {\"a\": 1}}", "x"))));
      assertTrue(
          e.getMessage().contains("'answer'") && e.getMessage().contains("object"), e.getMessage());
    }
  }

  @Test
  void textRewardsDecodeIdsWithTheTokenizerWhenThereIsNoText(@TempDir Path tmp) {
    ByteLevelBpe.Spec spec = ByteLevelBpe.write(tmp);
    try (TextTokenizer tok = TextTokenizer.load(tmp)) {
      long[] c = tok.encode("hello world", false);
      long[] finished = java.util.Arrays.copyOf(c, c.length + 1);
      finished[c.length] = spec.eosId();
      RewardInput in = ids(finished, true);
      try (Reward r = new MinLength(LengthUnit.CHARS).create(RewardContext.of(tok))) {
        assertArrayEquals(new double[] {-11}, r.score(List.of(in)), 0.0);
      }
      try (Reward r = new MinLength(LengthUnit.WORDS).create(RewardContext.of(tok))) {
        assertArrayEquals(new double[] {-2}, r.score(List.of(in)), 0.0);
      }
    }
    // no text and no tokenizer: an error naming the item, not a silent 0
    try (Reward r = new MinLength(LengthUnit.CHARS).create(NONE)) {
      RewardException e =
          assertThrows(
              RewardException.class,
              () -> r.score(List.of(text("ok"), ids(new long[] {1}, false))));
      assertTrue(
          e.getMessage().contains("item 1") && e.getMessage().contains("tokenizer"),
          e.getMessage());
    }
    // a token reward with text only
    try (Reward r = new Bump(null, null, null).create(NONE)) {
      RewardException e = assertThrows(RewardException.class, () -> r.score(List.of(text("ok"))));
      assertTrue(
          e.getMessage().contains("item 0") && e.getMessage().contains("completion ids"),
          e.getMessage());
    }
  }

  @Test
  void batchesKeepOrderAndNonFiniteRewardsAreErrors() {
    try (Reward r = new MinLength(null).create(NONE)) {
      assertArrayEquals(
          new double[] {-1, -3, -2},
          r.score(
              List.of(
                  ids(new long[] {4}, false),
                  ids(new long[] {4, 4, 4}, false),
                  ids(new long[] {4, 4, 0}, true))),
          0.0);
      assertEquals(0, r.score(List.of()).length);
    }
    Reward nan = Rules.perItem("test", in -> in.completion().isEmpty() ? Double.NaN : 1.0);
    RewardException e =
        assertThrows(RewardException.class, () -> nan.score(List.of(text("a"), text(""))));
    assertTrue(e.getMessage().contains("item 1") && e.getMessage().contains("NaN"), e.getMessage());
  }

  @Test
  void inputsNormaliseNullsAndRejectAFinishedEmptyCompletion() {
    RewardInput in = ids(new long[] {1, 2}, true);
    JsonNode record = in.record();
    assertTrue(record.isObject() && record.isEmpty());
    assertEquals(0, in.promptIds().length);
    assertArrayEquals(new long[] {1}, in.contentIds());
    assertArrayEquals(new long[] {1, 2}, ids(new long[] {1, 2}, false).contentIds());
    assertThrows(IllegalArgumentException.class, () -> ids(new long[] {}, true));
  }
}
