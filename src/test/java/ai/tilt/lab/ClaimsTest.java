package ai.tilt.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report's arithmetic on runs written by hand: curves, steps to 90%, and a claim's verdict. */
class ClaimsTest {
  @TempDir Path tmp;

  /** A finished run whose eval/reward is {@code values} at steps 0, 10, 20, ... */
  LabJobs.Job run(String method, int seed, double... values) throws IOException {
    String id = "bandit/main/far/" + method + "/seed-" + seed;
    Path dir = tmp.resolve(id);
    Files.createDirectories(dir);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < values.length; i++) {
      sb.append("{\"step\":")
          .append(i * 10)
          .append(",\"eval/reward\":")
          .append(values[i])
          .append("}\n");
    }
    Files.writeString(dir.resolve("metrics.jsonl"), sb.toString());
    Files.writeString(dir.resolve(LabRunner.DONE), "{\"argv\":[],\"seconds\":1.0}");
    return new LabJobs.Job(
        id, "bandit", "main", "far", method, seed, dir, List.of(), List.of(), false, true);
  }

  @Test
  void curvesMeansAndStepsToNinetyPercent() throws IOException {
    List<LabJobs.Job> jobs =
        List.of(run("dpo", 1, 0.0, 0.5, 0.95, 1.0), run("dpo", 2, 0.0, 0.3, 0.6, 0.8));
    LabResults r = new LabResults(jobs);
    LabResults.Curve c = r.curve("bandit", "main", "far", "dpo", 2, "eval/reward", 1);
    assertEquals(0.8, c.last());
    LabResults.Curve m =
        LabResults.mean(r.curves("bandit", "main", "far", "dpo", List.of(1, 2), "eval/reward", 1));
    assertEquals((0.95 + 0.6) / 2, m.values()[2], 1e-12);
    // best final (mean) is 0.9: 90% of the way from 0 is 0.81: seed 1 at step 20, seed 2 never
    // (counts 31)
    Evidence mean = new Evidence(r, 0, List.of(1, 2));
    assertEquals(
        (20 + 31) / 2.0, mean.steps90("bandit", "main", "far", "dpo", List.of("dpo")), 1e-12);
    assertEquals(
        20,
        new Evidence(r, 1, List.of(1, 2)).steps90("bandit", "main", "far", "dpo", List.of("dpo")),
        1e-12);
    assertEquals(0.9, mean.last("bandit", "main", "far", "dpo"), 1e-12);
    assertEquals(
        0.9,
        mean.change("bandit", "main", "far", "dpo", "eval/reward"),
        1e-12); // (1.0 - 0 + 0.8 - 0) / 2
    assertEquals(
        Double.NaN, new Evidence(r, 3, List.of(1, 2)).last("bandit", "main", "far", "dpo"));
    double[] ms = LabResults.meanStd(new double[] {1, 3});
    assertEquals(2, ms[0]);
    assertEquals(Math.sqrt(2), ms[1], 1e-12);
  }

  /** A finished bandit run ending at {@code reward}, with a final KL to the reference. */
  void finished(String method, int seed, double reward, double kl) throws IOException {
    String id = "bandit/main/far/" + method + "/seed-" + seed;
    Path dir = tmp.resolve(id);
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve("metrics.jsonl"),
        "{\"step\":0,\"eval/reward\":0.04,\"eval/kl\":0.0}\n"
            + "{\"step\":10,\"eval/reward\":"
            + reward
            + ",\"eval/kl\":"
            + kl
            + "}\n");
    Files.writeString(dir.resolve(LabRunner.DONE), "{\"argv\":[],\"seconds\":1.0}");
    jobs.add(
        new LabJobs.Job(
            id, "bandit", "main", "far", method, seed, dir, List.of(), List.of(), false, true));
  }

  final List<LabJobs.Job> jobs = new ArrayList<>();

  @Test
  void aClaimIsJudgedOnMediansWithTiesAndDivergedRunsNamed() throws IOException {
    // three seeds of C4's bandit runs; the 9-token bandit and the AlpacaFarm miniature have no
    // data, 6 of 11 comparisons: inconclusive whatever the rest says
    Map<String, double[]> finals =
        Map.of(
            "offline-dpo", new double[] {0.5, 0.3, 0.45},
            "offline-ipo", new double[] {0.45, 0.35, 0.4},
            "offline-best-of-n", new double[] {0.2, 0.2, 0.2},
            "offline-rwr", new double[] {0.1, 0.6, 0.45},
            "offline-best-of-n-neg", new double[] {0.1, 0.15, 0.12});
    for (Map.Entry<String, double[]> e : finals.entrySet()) {
      for (int s = 1; s <= 3; s++) {
        boolean diverges = e.getKey().equals("offline-dpo") && s == 2;
        finished(e.getKey(), s, e.getValue()[s - 1], diverges ? 80 : 3);
      }
    }
    Claims.Claim c4 =
        Claims.all(null).stream().filter(c -> c.id().equals("C4")).findFirst().orElseThrow();
    Claims.Verdict v = Claims.judge(List.of(c4), new LabResults(jobs), List.of(1, 2, 3)).get(0);
    // DPO vs Best-of-N: differences 0.3, 0.1, 0.25: median 0.25 beyond 2 SE = 0.120: holds.
    // DPO vs RWR: 0.4, -0.3, 0.0: median 0: a tie. IPO vs Best-of-N holds (median 0.2);
    // IPO vs RWR: median -0.05 inside 2 SE = 0.353: a tie, not a failure.
    // Best-of-N-neg vs Best-of-N: -0.1, -0.05, -0.08: median -0.08 beyond 2 SE = 0.029: fails.
    assertEquals(
        "inconclusive (2 hold, 2 ties, 1 fails, 6 without data: most comparisons had no data)",
        v.status(),
        v.lines().toString());
    assertTrue(
        v.lines()
            .get(0)
            .startsWith(
                "holds | bandit, far: offline-dpo vs offline-best-of-n: 0.450 > 0.200 (medians of 3 seeds; difference the paper's way 0.250, tie within ±0.120)"),
        v.lines().get(0));
    assertTrue(
        v.lines().get(1).startsWith("tie | bandit, far: offline-dpo vs offline-rwr"),
        v.lines().get(1));
    assertTrue(
        v.lines().get(1).endsWith("diverged runs in it: bandit/main/far/offline-dpo/seed-2"),
        v.lines().get(1));
    assertTrue(v.lines().get(4).startsWith("fails | "), v.lines().get(4));
    assertTrue(v.lines().get(5).startsWith("no data | bandit-tokens"), v.lines().get(5));
    assertEquals(List.of("bandit/main/far/offline-dpo/seed-2"), v.diverged());
    // seed by seed, each comparison on that seed alone (beyond the 0.005 tolerance)
    assertEquals(0, v.seedsAgreeing());
    assertEquals(3, v.seedsWithData());
    assertTrue(v.seedLines().get(0).startsWith("seed 1: 4/5 hold; fail: "), v.seedLines().get(0));

    // a claim none of whose runs exist
    Claims.Claim c8 =
        Claims.all(null).stream().filter(c -> c.id().equals("C8")).findFirst().orElseThrow();
    assertEquals(
        "not run",
        Claims.judge(List.of(c8), new LabResults(jobs), List.of(1, 2, 3)).get(0).status());
  }

  @Test
  void aClaimMostlyWithoutDataIsInconclusiveEvenWhenWhatRanHolds() throws IOException {
    for (int s = 1; s <= 3; s++) {
      finished("offline-dpo", s, 0.5 + 0.01 * s, 3);
      finished("offline-best-of-n", s, 0.2, 3);
    }
    Claims.Claim c4 =
        Claims.all(null).stream().filter(c -> c.id().equals("C4")).findFirst().orElseThrow();
    Claims.Verdict v = Claims.judge(List.of(c4), new LabResults(jobs), List.of(1, 2, 3)).get(0);
    assertEquals(
        "inconclusive (1 hold, 10 without data: most comparisons had no data)", v.status());
    assertEquals(3, v.seedsAgreeing());
  }

  @Test
  void theToyDecidesC8FromToyJson() throws IOException {
    Path dir = tmp.resolve("toy");
    Files.createDirectories(dir);
    ToyReport.write(dir, List.of(1.0), 30);
    Claims.Claim c8 =
        Claims.all(dir.resolve("toy.json")).stream()
            .filter(c -> c.id().equals("C8"))
            .findFirst()
            .orElseThrow();
    Claims.Verdict v = Claims.judge(List.of(c8), new LabResults(List.of()), List.of(1)).get(0);
    // with softmax logits and lr 1, forward KL puts half the mass on q's mode at step 6, reverse at
    // step 7: one step the other way is beyond the half-step tolerance
    assertEquals("contradicted (0 hold, 1 fails)", v.status());
    assertTrue(v.lines().get(0).startsWith("fails | "), v.lines().get(0));
    assertTrue(v.lines().get(0).contains("7.000 < 6.000 (1 run"), v.lines().get(0));
    assertTrue(Files.size(dir.resolve("toy.png")) > 1000);
  }

  @Test
  void aFittedChangeIsTheLeastSquaresRise() {
    // a straight line rises by its endpoints' difference
    assertEquals(
        3,
        Evidence.fittedChange(
            new LabResults.Curve(new double[] {0, 10, 20, 30}, new double[] {0, 1, 2, 3})),
        1e-12);
    // batch-to-batch noise: endpoints differ by 2, the line (slope 2 / 5 per step) rises 1.2
    assertEquals(
        1.2,
        Evidence.fittedChange(
            new LabResults.Curve(new double[] {0, 1, 2, 3}, new double[] {0, 2, 0, 2})),
        1e-12);
  }

  @Test
  void numbersPrintWithThreeDecimalsAndNoNegativeZero() {
    assertEquals("0.000", Claims.num(-0.0002));
    assertEquals("-0.001", Claims.num(-0.0012));
    assertEquals("123", Claims.num(123.4));
    assertEquals("n/a", Claims.num(Double.NaN));
  }
}
