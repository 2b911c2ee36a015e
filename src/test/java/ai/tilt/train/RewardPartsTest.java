package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.djl.ndarray.NDArray;
import ai.tilt.data.PromptSet;
import ai.tilt.dist.Group;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A reward list's parts travel with the rollout: gathered from the workers of a data-parallel run
 * in step with the rewards, and logged as rewards/NAME/mean and /std.
 */
class RewardPartsTest {
  /** Two workers whose parts are both this worker's (enough to see the parts decode in step). */
  private static final class Twin implements Group {
    @Override
    public int rank() {
      return 0;
    }

    @Override
    public int size() {
      return 2;
    }

    @Override
    public List<byte[]> allGather(byte[] mine) {
      return List.of(mine, mine);
    }

    @Override
    public double allReduceGradients(Collection<NDArray> parameters) {
      throw new UnsupportedOperationException();
    }

    @Override
    public double[] sum(double... values) {
      throw new UnsupportedOperationException();
    }

    @Override
    public double[] max(double... values) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void broadcast(List<NDArray> arrays, int root) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void allGather(NDArray out, NDArray in) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void reduceScatter(NDArray out, NDArray in) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void flatten(List<NDArray> params, NDArray flatParams, NDArray flatGrads) {
      throw new UnsupportedOperationException();
    }

    @Override
    public int unflattened(List<NDArray> params, NDArray flatParams, NDArray flatGrads) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void barrier() {}

    @Override
    public void close() {}
  }

  private static PromptSet.Prompt prompt(long id) {
    return new PromptSet.Prompt(
        new long[] {id}, null, JsonNodeFactory.instance.objectNode(), List.of(), null, 1);
  }

  @Test
  void partsAreGatheredWithTheRewardsAndLogged() {
    Map<String, double[]> parts = new LinkedHashMap<>();
    parts.put("math", new double[] {1, 0});
    parts.put("overlong", new double[] {0, -0.5});
    Rollout mine =
        new Rollout(
            0,
            List.of(prompt(1)),
            2,
            new long[][] {{7}, {8, 9}},
            new boolean[] {true, false},
            null,
            new float[][] {{-1}, {-1, -1}},
            new float[][] {{-1}, {-1, -1}},
            new double[] {1, -0.5},
            parts,
            new String[] {"a", "bc"});
    Rollout all = RolloutShards.gather(new Twin(), mine, List.of(prompt(1), prompt(2)));
    assertArrayEquals(new double[] {1, -0.5, 1, -0.5}, all.rewards());
    assertEquals(List.of("math", "overlong"), List.copyOf(all.rewardParts().keySet()));
    assertArrayEquals(new double[] {1, 0, 1, 0}, all.rewardParts().get("math"));
    assertArrayEquals(new double[] {0, -0.5, 0, -0.5}, all.rewardParts().get("overlong"));
    Map<String, Double> m = RolloutStats.of(all);
    assertEquals(0.5, m.get("rewards/math/mean"), 1e-12);
    assertEquals(0.5, m.get("rewards/math/std"), 1e-12);
    assertEquals(-0.25, m.get("rewards/overlong/mean"), 1e-12);
    assertEquals(0.25, m.get("objective/reward"), 1e-12);
    Rollout single =
        new Rollout(
            0,
            List.of(prompt(1)),
            2,
            mine.completions(),
            mine.finished(),
            null,
            mine.oldLogps(),
            mine.refLogps(),
            mine.rewards(),
            Map.of(),
            mine.texts());
    assertFalse(RolloutStats.of(single).keySet().stream().anyMatch(k -> k.startsWith("rewards/")));
  }
}
