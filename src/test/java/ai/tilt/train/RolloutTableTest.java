package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.report.MetricsLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The closing table of an on-policy run, also when the process that ends it was a resume. */
class RolloutTableTest {
  @TempDir Path tmp;

  @Test
  void aResumedRunTakesTheReferenceColumnFromTheLoggedFirstEvaluation() throws Exception {
    Files.writeString(
        tmp.resolve(MetricsLog.METRICS_FILE),
        String.join(
            "\n",
            "{\"step\":0,\"eval/reward\":-9.5,\"eval/kl\":0.0,\"eval/mean_length\":10.5,\"eval/eos_rate\":0.99,"
                + "\"eval/win_rate\":0.5,\"eval/reference_reward\":-9.5}",
            "{\"step\":1,\"train/loss\":0.7}",
            "{\"step\":10,\"eval/reward\":-2.0,\"eval/kl\":5.0,\"eval/mean_length\":3.0,\"eval/eos_rate\":1.0,"
                + "\"eval/win_rate\":0.9,\"eval/reference_reward\":-9.5}",
            ""));
    Map<String, Double> first = Evaluator.loggedEval(tmp, 0);
    assertEquals(10.5, first.get("eval/mean_length"));
    assertNull(Evaluator.loggedEval(tmp, 5));
    assertNull(Evaluator.loggedEval(tmp.resolve("missing"), 0));
    Map<String, Double> last = Evaluator.loggedEval(tmp, 10);
    String table = Evaluator.table(first, last);
    assertTrue(table.contains("  completion length            10.500      3.000"), table);
    assertTrue(table.contains("  EOS rate                      0.990      1.000"), table);
    assertTrue(
        Evaluator.table(null, last).contains("  completion length               NaN      3.000"));
  }
}
