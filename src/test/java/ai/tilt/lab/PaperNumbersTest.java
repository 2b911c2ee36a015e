package ai.tilt.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The paper-beside-lab table on runs written by hand: shares of the start, medians, ranges. */
class PaperNumbersTest {
  @TempDir Path tmp;

  /** A finished run whose metrics are {@code lines} (one JSON object each). */
  LabJobs.Job run(String exp, String group, String setting, String method, int seed, String lines)
      throws IOException {
    String id = exp + "/" + group + "/" + setting + "/" + method + "/seed-" + seed;
    Path dir = tmp.resolve(id);
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("metrics.jsonl"), lines);
    Files.writeString(dir.resolve(LabRunner.DONE), "{\"argv\":[],\"seconds\":1.0}");
    return new LabJobs.Job(
        id, exp, group, setting, method, seed, dir, List.of(), List.of(), false, true);
  }

  static String rewards(double... v) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < v.length; i++) {
      sb.append("{\"step\":").append(i * 10).append(",\"eval/reward\":").append(v[i]).append("}\n");
    }
    return sb.toString();
  }

  @Test
  void lengthsAreSharesOfTheStartAndGainsAreChanges() throws IOException {
    List<LabJobs.Job> jobs = new ArrayList<>();
    // Min Length, on-policy DPO: 6 -> 3 words (50%), 8 -> 2 (25%), 5 -> 4 (80%)
    jobs.add(run("length", "main", "min", "dpo", 1, rewards(-6, -4, -3)));
    jobs.add(run("length", "main", "min", "dpo", 2, rewards(-8, -2)));
    jobs.add(run("length", "main", "min", "dpo", 3, rewards(-5, -4)));
    // AlpacaFarm Pref-FT: gold 2.0 -> 2.5 on seed 1 only
    jobs.add(run("alpaca", "offline", "default", "offline-pref-ft", 1, rewards(2.0, 2.2, 2.5)));
    // the bandit's reference reward: the mean of every method's first evaluation
    jobs.add(run("bandit", "main", "far", "dpo", 1, rewards(0.04, 0.9)));
    jobs.add(run("bandit", "main", "far", "offline-rwr", 1, rewards(0.06, 0.2)));
    // Mode Length: eval/reward is minus the distance to the mode
    jobs.add(run("length", "main", "mode", "ppo", 1, rewards(-2, -0.75)));
    // AlpacaFarm's B = 32 (the paper's B = 128) for REINFORCE: gold 2.0 -> 1.5
    jobs.add(run("alpaca", "batch", "B32", "reinforce", 1, rewards(2.0, 1.8, 1.5)));
    String t = PaperNumbers.table(new LabResults(jobs), List.of(1, 2, 3));
    assertTrue(
        t.contains(
            "| Min Length, on-policy DPO: final length as a share of the start (≈ 200 tokens) |"
                + " ≈ 0% (≈ 0 by step 70-100) | 50% (25% to 80%) | 600 / 10 |"),
        t);
    assertTrue(
        t.contains(
            "| AlpacaFarm: Pref-FT's gold gain over the SFT policy | ≈ -0.01 | 0.500 |"
                + " not stated / 20 |"),
        t);
    assertTrue(
        t.contains(
            "| AlpacaFarm REINFORCE: gold gain over the SFT policy, B = 32 (paper: B = 128) |"
                + " +0.55 (0.11 to 0.66) | -0.500 | ≈ 600 / 20 |"),
        t);
    assertTrue(
        t.contains("read for the spread across methods) | drifts up to ≈ 28 tokens | 0.750 |"), t);
    assertTrue(
        t.contains(
            "| bandit: the reference's true reward, peak far (70), the mean of every method's"
                + " step-0 evaluation | ≈ 0.04 (E over π_data) | 0.050 | 0 / 0 |"),
        t);
    // a quantity no run measured says so instead of a number
    assertTrue(
        t.contains(
            "tokens: same reference) | ≈ 5-8% (10-15 tokens after step 350) | no data | 600 / - |"),
        t);
    assertEquals(PaperNumbers.rows().size() + 2, t.split("\n").length);
  }

  @Test
  void implicitRewardIsBetaTimesTheFittedChange() throws IOException {
    // logps/chosen falls by 1 nat per 10 steps, exactly on a line: fitted change -3 over 30 steps
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i <= 3; i++) {
      sb.append("{\"step\":").append(i * 10).append(",\"logps/chosen\":").append(-i).append("}\n");
    }
    List<LabJobs.Job> jobs =
        List.of(run("alpaca", "offline", "default", "offline-dpo", 1, sb.toString()));
    String t = PaperNumbers.table(new LabResults(jobs), List.of(1));
    assertTrue(
        t.contains(
            "| AlpacaFarm, DPO: change of y_w's implicit reward 0.1 · log π/π_ref (fitted line) |"
                + " falls, ≈ -0.05 | -0.300 | 600 / - |"),
        t);
  }

  @Test
  void cellsShowMedianAndRange() {
    assertEquals("no data", PaperNumbers.labCell(new double[0], PaperNumbers.Unit.NUMBER));
    assertEquals(
        "0.200 (0.100 to 0.900)",
        PaperNumbers.labCell(new double[] {0.9, 0.1, 0.2}, PaperNumbers.Unit.NUMBER));
    assertEquals(
        "15% (10% to 20%)",
        PaperNumbers.labCell(new double[] {0.1, 0.2}, PaperNumbers.Unit.PERCENT));
    // a signed zero (0.0 / -6) is written as zero
    assertEquals(
        "0% (0% to 17%)",
        PaperNumbers.labCell(new double[] {-0.0, -0.0, 0.17}, PaperNumbers.Unit.PERCENT));
  }
}
