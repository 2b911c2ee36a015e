package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PreferenceMetricsTest {
  @Test
  void windowMeansAndKtoTotals() {
    try (NDManager m = NDManager.newBaseManager()) {
      MetricSums sums = new MetricSums();
      Map<String, ai.djl.ndarray.NDArray> micro = new LinkedHashMap<>();
      // 4 groups in two micro-batches; margins 1, 2 | 0, 0: mean 0.75
      micro.put("rewards/margins", m.create(new float[] {1, 2}));
      // KTO: desirable rows' rewards summed over groups that have them: 2 of 4 groups, total 1.5
      micro.put("rewards/chosen_sum", m.create(new float[] {1.0f, 0}));
      micro.put("count/chosen", m.create(new float[] {1, 0}));
      micro.put("rewards/rejected_sum", m.create(new float[] {0, 0}));
      micro.put("count/rejected", m.create(new float[] {0, 0}));
      micro.put("logps/chosen", m.create(new float[] {Float.NaN, -3})); // NaN cells are skipped
      sums.add(micro);
      micro.put("rewards/margins", m.create(new float[] {0, 0}));
      micro.put("rewards/chosen_sum", m.create(new float[] {0.5f, 0}));
      micro.put("count/chosen", m.create(new float[] {1, 0}));
      micro.put("logps/chosen", m.create(new float[] {-5, Float.NaN}));
      sums.add(micro);
      Map<String, Double> means = sums.means("eval/");
      assertEquals(0.75, means.get("eval/rewards/margins"));
      assertEquals(0.75, means.get("eval/rewards/chosen")); // 1.5 / 2, not 1.5 / 4
      assertTrue(means.get("eval/rewards/rejected").isNaN()); // no undesirable rows
      assertEquals(0.5, means.get("eval/count/chosen"));
      assertEquals(-4.0, means.get("eval/logps/chosen")); // (-3 - 5) / 2
    }
  }
}
