package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.tilt.data.PromptSet;
import ai.tilt.loss.BestOfN;
import ai.tilt.loss.Dpo;
import ai.tilt.loss.Kto;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PairBuilderTest {
  /** Two prompts x 4 samples with rewards [1, 3, 3, 0] and [2, 2, 2, 2]. */
  static Rollout rollout() {
    PromptSet.Prompt a =
        new PromptSet.Prompt(
            new long[] {1}, null, JsonNodeFactory.instance.objectNode(), List.of(), null, 1);
    PromptSet.Prompt b =
        new PromptSet.Prompt(
            new long[] {2}, null, JsonNodeFactory.instance.objectNode(), List.of(), null, 2);
    long[][] comp = new long[8][];
    float[][] lp = new float[8][];
    float[][] ref = new float[8][];
    for (int i = 0; i < 8; i++) {
      comp[i] = new long[] {10 + i, 20 + i};
      lp[i] = new float[] {-1, -2};
      ref[i] = new float[] {-0.5f, -0.25f * i}; // reference sums: -0.5 - 0.25 i
    }
    return new Rollout(
        0,
        List.of(a, b),
        4,
        comp,
        new boolean[8],
        null,
        lp,
        ref,
        new double[] {1, 3, 3, 0, 2, 2, 2, 2},
        java.util.Map.of(),
        new String[8]);
  }

  static Online cfg(String pairs, double threshold) {
    ObjectNode tree = new ObjectMapper().createObjectNode();
    tree.put("prompts_per_iteration", 2).put("samples_per_prompt", 4);
    tree.put("pairs", pairs.toLowerCase()).put("pair_threshold", threshold);
    return RecipeLoader.bind(tree, List.of(), "test", Online.class);
  }

  @Test
  void bestVersusWorstSkipsPromptsWithoutAGap() {
    PairBuilder.Built b =
        PairBuilder.build(rollout(), new Dpo(null, null), cfg("BEST_VS_WORST", 0), new Streams(0));
    assertEquals(1, b.groups().size()); // prompt 2: all rewards equal, no pair
    assertArrayEquals(
        new long[] {11, 21}, b.groups().get(0).responses().get(0)); // best: first of the tied 3s
    assertArrayEquals(new long[] {13, 23}, b.groups().get(0).responses().get(1)); // worst: reward 0
    assertArrayEquals(new float[] {-0.75f, -1.25f}, b.referenceSums()[0], 1e-6f);
    assertEquals(List.of(List.of(0), List.of()), b.groupsOfPrompt());
  }

  @Test
  void allPairsRespectTheThreshold() {
    // gaps of prompt 1: (1,3)=2 (1,3)=2 (1,0)=1 (3,3)=0 (3,0)=3 (3,0)=3; threshold 1.5 keeps 4
    PairBuilder.Built b =
        PairBuilder.build(rollout(), new Dpo(null, null), cfg("ALL", 1.5), new Streams(0));
    assertEquals(4, b.groups().size());
    for (var g : b.groups()) {
      assertEquals(true, g.rewards()[0] > g.rewards()[1]);
    }
  }

  @Test
  void randomPairsAreDistinctAndOrdered() {
    Rollout r = rollout();
    for (long seed = 0; seed < 20; seed++) {
      List<int[]> p = PairBuilder.pairs(r, 0, 4, cfg("RANDOM", 0), new SplittableRandom(seed));
      for (int[] pair : p) {
        assertEquals(true, pair[0] != pair[1] && r.rewards()[pair[0]] > r.rewards()[pair[1]]);
      }
    }
  }

  @Test
  void ktoLabelsAgainstThePromptMeanAndListsKeepAllSamples() {
    PairBuilder.Built k =
        PairBuilder.build(
            rollout(), new Kto(null, null, null), cfg("BEST_VS_WORST", 0), new Streams(0));
    assertEquals(8, k.groups().size());
    double[] labels = k.groups().stream().mapToDouble(g -> g.rewards()[0]).toArray();
    // prompt 1 mean 1.75: 3 and 3 are desirable; prompt 2: nothing beats the mean
    assertArrayEquals(new double[] {0, 1, 1, 0, 0, 0, 0, 0}, labels);
    PairBuilder.Built l =
        PairBuilder.build(rollout(), new BestOfN(null), cfg("BEST_VS_WORST", 0), new Streams(0));
    assertEquals(2, l.groups().size());
    assertEquals(4, l.groups().get(1).size());
  }
}
