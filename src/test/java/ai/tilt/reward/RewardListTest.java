package ai.tilt.reward;

import static ai.tilt.reward.RewardBindingTest.bind;
import static ai.tilt.reward.RewardBindingTest.error;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.train.RecipeLoader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** DAPO's soft overlong punishment and reward lists (weighted sums, each part logged), by hand. */
class RewardListTest {
  private static RewardInput ids(int n, boolean finished) {
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = 5 + i;
    }
    return new RewardInput(null, "p", null, "x".repeat(n), ids, finished);
  }

  /** L = 10, B = 4: 0 up to 6 tokens, then (6 - |y|) / 4, then -1 past 10. */
  @Test
  void overlongByHand() {
    Overlong o = new Overlong(10, 4);
    double[] expected = {0, 0, -0.25, -0.5, -0.75, -1, -1, -1};
    int[] lengths = {1, 6, 7, 8, 9, 10, 11, 40};
    for (int i = 0; i < lengths.length; i++) {
      assertEquals(expected[i], o.penalty(lengths[i]), 1e-12, "length " + lengths[i]);
    }
    // the stop token counts, as in TRL's completion ids
    Reward r = o.create(new RewardContext(null, null, null));
    assertArrayEquals(
        new double[] {0, -0.25, -0.25},
        r.score(List.of(ids(6, false), ids(7, true), ids(7, false))));
    assertTrue(
        error("reward: {type: overlong, max_length: 4, buffer: 5}\n").contains("reward.buffer"));
    assertTrue(
        error("reward: {type: overlong, buffer: 5}\n").contains("reward.max_length is required"));
    assertEquals(
        new Overlong(40, 8),
        bind("reward: {type: overlong, max_length: 40, buffer: 8}\n").reward());
  }

  /**
   * min_length (chars) weighted 0.5 plus contains 'x' weighted 2 plus overlong (L 4, B 2): for
   * completions of 1, 3 and 5 x's the parts are (-1, 1, 0), (-3, 1, -0.5), (-5, 1, -1) and the
   * totals -0.5 + 2 + 0 = 1.5, -1.5 + 2 - 0.5 = 0, -2.5 + 2 - 1 = -1.5.
   */
  @Test
  void aListIsAWeightedSumWithItsPartsLogged() {
    String yaml =
        "online:\n  reward:\n    - {type: min_length, unit: chars, weight: 0.5}\n"
            + "    - {type: contains, text: x, weight: 2}\n"
            + "    - {type: overlong, max_length: 4, buffer: 2}\n";
    RewardSpec spec = bind(yaml).online().reward();
    RewardSum sum = (RewardSum) spec;
    assertEquals(List.of("min_length", "contains", "overlong"), sum.names());
    assertEquals(List.of(0.5, 2.0, 1.0), sum.terms().stream().map(RewardSum.Term::weight).toList());
    try (Reward r = spec.create(new RewardContext(null, null, null))) {
      Reward.Scores s = r.scoreParts(List.of(ids(1, false), ids(3, false), ids(5, false)));
      assertArrayEquals(new double[] {1.5, 0, -1.5}, s.total(), 1e-12);
      assertEquals(List.of("min_length", "contains", "overlong"), List.copyOf(s.parts().keySet()));
      assertArrayEquals(new double[] {-1, -3, -5}, s.parts().get("min_length"), 1e-12);
      assertArrayEquals(new double[] {1, 1, 1}, s.parts().get("contains"), 1e-12);
      assertArrayEquals(new double[] {0, -0.5, -1}, s.parts().get("overlong"), 1e-12);
      assertArrayEquals(s.total(), r.score(List.of(ids(1, false), ids(3, false), ids(5, false))));
    }
    // a single reward has no parts
    try (Reward one = new MinLength(null).create(new RewardContext(null, null, null))) {
      assertEquals(Map.of(), one.scoreParts(List.of(ids(2, false))).parts());
    }
  }

  @Test
  void namesShorthandsRoundTripAndErrors() throws Exception {
    RewardSum twice =
        (RewardSum)
            bind("reward: [min_length, {type: min_length, name: short}, min_length]\n").reward();
    assertEquals(List.of("min_length", "short", "min_length_2"), twice.names());
    RewardSum clash =
        (RewardSum)
            bind("reward: [{type: min_length, name: a}, {type: contains, text: x, name: a}]\n")
                .reward();
    String why =
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, clash::names)
            .getMessage();
    assertTrue(why.contains("give them names"), why);
    assertTrue(error("reward: [{type: nope}]\n").contains("unknown reward type 'nope'"));
    assertTrue(error("reward: [{type: min_length, wieght: 2}]\n").contains("wieght"));
    assertTrue(error("reward: []\n").contains("at least one reward"));
    // the resolved recipe writes the list as a sum, which binds back to the same record
    RewardBindingTest.Holder h =
        bind("reward: [{type: overlong, max_length: 8, buffer: 2, weight: 3}]\n");
    String yaml = RecipeLoader.toYaml(h);
    RewardBindingTest.Holder again =
        RecipeLoader.bind(
            (ObjectNode) new YAMLMapper().readTree(yaml),
            List.of(),
            "again",
            RewardBindingTest.Holder.class);
    assertEquals(h.reward(), again.reward());
  }
}
