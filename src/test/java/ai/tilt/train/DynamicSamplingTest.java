package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.data.PromptSet;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Which groups dynamic sampling keeps, by hand: round 0's prompts 1, 2, 3 with rewards (1, 1), (0,
 * 1), (0, 0); round 1's prompts 4, 5, 6 with (1, 0), (2, 2), (3, 4). With B = 3 it keeps prompts 2,
 * 4 and 6 in that order; with round 0 alone it keeps 2, then fills with the dropped 1 and 3.
 */
class DynamicSamplingTest {
  private static Rollout round(int firstPrompt, double... rewards) {
    List<PromptSet.Prompt> prompts = new ArrayList<>();
    int groups = rewards.length / 2;
    for (int g = 0; g < groups; g++) {
      prompts.add(
          new PromptSet.Prompt(
              new long[] {firstPrompt + g},
              null,
              JsonNodeFactory.instance.objectNode(),
              List.of(),
              null,
              firstPrompt + g));
    }
    long[][] completions = new long[rewards.length][];
    float[][] logps = new float[rewards.length][];
    double[] part = new double[rewards.length];
    for (int r = 0; r < rewards.length; r++) {
      completions[r] = new long[] {100L * firstPrompt + r};
      logps[r] = new float[] {-r};
      part[r] = 10 * rewards[r];
    }
    Map<String, double[]> parts = new LinkedHashMap<>();
    parts.put("x", part);
    return new Rollout(
        0,
        prompts,
        2,
        completions,
        new boolean[rewards.length],
        null,
        logps,
        logps,
        rewards,
        parts,
        new String[rewards.length]);
  }

  private static long[] promptIds(Rollout r) {
    return r.prompts().stream().mapToLong(p -> p.ids()[0]).toArray();
  }

  @Test
  void keepsInformativeGroupsInOrderAndFillsWhenShort() {
    Rollout r0 = round(1, 1, 1, 0, 1, 0, 0);
    Rollout r1 = round(4, 1, 0, 2, 2, 3, 4);
    assertFalse(DynamicSampling.informative(r0, 0));
    assertTrue(DynamicSampling.informative(r0, 1));
    assertFalse(DynamicSampling.enough(List.of(r0), 3));
    assertTrue(DynamicSampling.enough(List.of(r0, r1), 3));

    DynamicSampling.Selected both = DynamicSampling.select(List.of(r0, r1), 3);
    assertArrayEquals(new long[] {2, 4, 6}, promptIds(both.rollout()));
    assertArrayEquals(new double[] {0, 1, 1, 0, 3, 4}, both.rollout().rewards());
    assertArrayEquals(new double[] {0, 10, 10, 0, 30, 40}, both.rollout().rewardParts().get("x"));
    assertEquals(400, both.rollout().completions()[2][0]); // round 1, prompt 4, its row 0
    assertEquals(405, both.rollout().completions()[5][0]); // round 1, prompt 6, its row 1
    assertEquals(0.5, both.metrics().get("sampling/dropped_groups_frac"));
    assertEquals(1.0, both.metrics().get("sampling/extra_rounds"));
    assertEquals(6.0, both.metrics().get("sampling/extra_samples"));
    assertEquals(0.0, both.metrics().get("sampling/uninformative_kept"));
    assertEquals(0.5, both.metrics().get("sampling/reward_before_filter")); // round 0: 3 / 6

    DynamicSampling.Selected alone = DynamicSampling.select(List.of(r0), 3);
    assertArrayEquals(new long[] {2, 1, 3}, promptIds(alone.rollout()));
    assertEquals(2.0, alone.metrics().get("sampling/uninformative_kept"));
    assertEquals(0.0, alone.metrics().get("sampling/extra_samples"));
    // more informative groups than B: the first B are kept
    DynamicSampling.Selected one = DynamicSampling.select(List.of(r0, r1), 1);
    assertArrayEquals(new long[] {2}, promptIds(one.rollout()));
  }
}
