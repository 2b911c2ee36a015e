package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PreferenceMetricsTest {
  @Test
  void windowMeansAndKtoTotals() {
    Map<String, double[]> sums = new LinkedHashMap<>();
    sums.put("rewards/margins", new double[] {3.0, 4}); // mean over 4 groups: 0.75
    // KTO: desirable rows' rewards summed over groups that have them: 2 of 4 groups, total 1.5
    sums.put("rewards/chosen_sum", new double[] {1.5, 4});
    sums.put("count/chosen", new double[] {2, 4});
    sums.put("rewards/rejected_sum", new double[] {0, 4});
    sums.put("count/rejected", new double[] {0, 4});
    Map<String, Double> m = PreferenceObjective.means(sums, "eval/");
    assertEquals(0.75, m.get("eval/rewards/margins"));
    assertEquals(0.75, m.get("eval/rewards/chosen")); // 1.5 / 2, not 1.5 / 4
    assertTrue(m.get("eval/rewards/rejected").isNaN()); // no undesirable rows in the window
    assertEquals(0.5, m.get("eval/count/chosen"));
  }
}
