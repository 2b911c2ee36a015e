package ai.tilt.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.lab.Judging.Outcome;
import org.junit.jupiter.api.Test;

/** The lab's judging rules on made-up numbers, each worked out by hand in the comments. */
class JudgingTest {
  private static final double NAN = Double.NaN;

  @Test
  void aTieAtTheCeilingIsATieWhicheverWayItIsAsked() {
    double[] a = {0.999, 0.998, 1.000};
    double[] b = {1.000, 1.000, 1.000};
    // d = (-0.001, -0.002, 0): median -0.001; sd 0.001, SE 0.00058: band max(0.005, 0.0012)
    Judging.Result r = Judging.compare(a, b, ">", 0.005);
    assertEquals(Outcome.TIE, r.outcome());
    assertEquals(-0.001, r.advantage(), 1e-12);
    assertEquals(0.005, r.band(), 1e-12);
    assertEquals(0.999, r.lhs(), 1e-12);
    assertEquals(Outcome.TIE, Judging.compare(a, b, "<", 0.005).outcome());
    // and a step tie is judged as a reward tie: 70 vs 70 steps is no evidence either way
    assertEquals(
        Outcome.TIE,
        Judging.compare(new double[] {70, 70}, new double[] {70, 70}, "<", 5).outcome());
  }

  @Test
  void aClearDifferenceHoldsOrFailsBeyondTwoStandardErrors() {
    // d = (0.3, 0.35, 0.35): median 0.35; mean 1/3, sd 0.02887, SE 0.01667: band 0.0333
    Judging.Result r =
        Judging.compare(new double[] {0.5, 0.6, 0.55}, new double[] {0.2, 0.25, 0.2}, ">", 0.005);
    assertEquals(Outcome.HOLDS, r.outcome());
    assertEquals(0.35, r.advantage(), 1e-12);
    assertEquals(2 * 0.028867513459481 / Math.sqrt(3), r.band(), 1e-9);
    assertEquals(
        Outcome.FAILS,
        Judging.compare(new double[] {0.1, 0.1}, new double[] {0.5, 0.5}, ">", 0.005).outcome());
    // "<": the paper says lhs is smaller; here it is larger by 0.4
    assertEquals(
        Outcome.FAILS,
        Judging.compare(new double[] {0.5, 0.5}, new double[] {0.1, 0.1}, "<", 0.005).outcome());
  }

  @Test
  void seedsThatDisagreeMakeATieNotAWin() {
    // d = (0.3, -0.2, 0.05): median 0.05 > 0.005, but sd 0.25, SE 0.1443: band 0.2887
    Judging.Result r =
        Judging.compare(new double[] {0.4, 0.0, 0.15}, new double[] {0.1, 0.2, 0.1}, ">", 0.005);
    assertEquals(Outcome.TIE, r.outcome());
    assertEquals(0.05, r.advantage(), 1e-12);
    assertEquals(2 * 0.25 / Math.sqrt(3), r.band(), 1e-12);
  }

  @Test
  void missingSeedsAreLeftOutAndNoneIsNoData() {
    Judging.Result r =
        Judging.compare(new double[] {NAN, 0.5}, new double[] {0.1, 0.1}, ">", 0.005);
    assertEquals(1, r.seeds());
    assertEquals(Outcome.HOLDS, r.outcome());
    assertEquals(
        Outcome.NO_DATA,
        Judging.compare(new double[] {NAN, NAN}, new double[] {0.1, 0.1}, ">", 0.005).outcome());
    assertThrows(
        IllegalArgumentException.class,
        () -> Judging.compare(new double[] {1}, new double[] {0}, ">=", 0.005));
  }

  @Test
  void aClaimIsReproducedOnlyWhenEveryComparisonHolds() {
    assertEquals("reproduced", Judging.claim(4, 0, 0, 0));
    assertEquals("partly reproduced (3 hold, 1 tie)", Judging.claim(3, 1, 0, 0));
    assertEquals("partly reproduced (3 hold, 1 fails)", Judging.claim(3, 0, 1, 0));
    assertEquals("not reproduced (2 hold, 3 fail)", Judging.claim(2, 0, 3, 0));
    assertEquals("not reproduced (1 hold, 1 fails)", Judging.claim(1, 0, 1, 0));
    assertEquals("not reproduced (0 hold, 1 tie, 2 fail)", Judging.claim(0, 1, 2, 0));
    assertEquals("contradicted (0 hold, 3 fail)", Judging.claim(0, 0, 3, 0));
    assertEquals("inconclusive (0 hold, 2 ties)", Judging.claim(0, 2, 0, 0));
    // more hold than fail, but ties are most of it: not "partly"
    assertEquals(
        "inconclusive (2 hold, 8 ties: most comparisons undecided)", Judging.claim(2, 8, 0, 0));
    assertEquals("partly reproduced (2 hold, 2 ties)", Judging.claim(2, 2, 0, 0));
    // the quick lab's old "reproduced where run (1/5 comparisons had data)"
    assertEquals(
        "inconclusive (1 hold, 4 without data: most comparisons had no data)",
        Judging.claim(1, 0, 0, 4));
    assertEquals("partly reproduced (2 hold, 1 without data)", Judging.claim(2, 0, 0, 1));
    assertEquals("not run", Judging.claim(0, 0, 0, 3));
  }

  @Test
  void divergenceIsAKlBeyondFiftyNatsOrNone() {
    assertTrue(Judging.diverged(260));
    assertTrue(Judging.diverged(NAN));
    assertFalse(Judging.diverged(6.5));
  }

  @Test
  void mediansAndStandardErrors() {
    assertEquals(2.5, Judging.median(new double[] {4, 1, 3, 2}));
    assertEquals(3, Judging.median(new double[] {5, 1, 3}));
    assertEquals(0, Judging.standardError(new double[] {7}));
    assertEquals(0.5, Judging.standardError(new double[] {1, 2}), 1e-12); // sd 0.707 / sqrt 2
  }
}
