package ai.tilt.lab;

import java.util.Arrays;

/**
 * How the lab decides, in one place, so that a verdict can come out against the paper as easily as
 * for it:
 *
 * <ul>
 *   <li>A comparison is judged on the <b>median over seeds</b> of its per-seed difference, in the
 *       direction the paper claims. Within the <b>tie band</b>, max(the comparison's stated
 *       tolerance, 2 standard errors of that difference over seeds), it is a tie; a tie is
 *       inconclusive whatever the operator (a reward tie at the ceiling and a step tie are judged
 *       alike). Beyond the band it holds, or fails (the numbers say the opposite).
 *   <li>A claim is <b>reproduced</b> when every comparison holds; <b>inconclusive</b> when most of
 *       its comparisons have no data, or none is decided, or more hold than fail but fewer than
 *       half are decided (ties and missing data are most of it); <b>partly</b> when more hold than
 *       fail and at least half are decided; <b>contradicted</b> when every comparison with data
 *       fails; <b>not reproduced</b> otherwise. A claim run only in part is never "reproduced".
 *   <li>A run is <b>diverged</b> when its final KL to the reference exceeds {@link #DIVERGED_KL}
 *       nats (no run that learns its task here goes past 30): it stays in the medians, which it
 *       cannot drag far, and is counted and named next to each comparison it enters.
 * </ul>
 */
public final class Judging {
  /** Final eval/kl (nats) above which a run counts as diverged. */
  public static final double DIVERGED_KL = 50;

  private Judging() {}

  /** A comparison's result. */
  public enum Outcome {
    HOLDS,
    TIE,
    FAILS,
    NO_DATA
  }

  /**
   * What decided a comparison: medians of each side, of the per-seed difference (positive: the
   * claimed direction), the tie band, and how many seeds had both sides.
   */
  public record Result(
      Outcome outcome, double lhs, double rhs, double advantage, double band, int seeds) {}

  /**
   * Judges lhs {@code op} rhs seed by seed ({@code lhs[i]}, {@code rhs[i]} of seed i; NaN where a
   * side is missing).
   *
   * @param op ">" (the paper says lhs is larger) or "<"
   * @param tolerance the smallest difference that counts, in the comparison's units
   */
  public static Result compare(double[] lhs, double[] rhs, String op, double tolerance) {
    double sign =
        switch (op) {
          case ">" -> 1;
          case "<" -> -1;
          default ->
              throw new IllegalArgumentException(
                  "a comparison is > or <, not " + op + " (a tie is judged by the band)");
        };
    int k = 0;
    double[] a = new double[lhs.length];
    double[] b = new double[lhs.length];
    double[] d = new double[lhs.length];
    for (int i = 0; i < lhs.length; i++) {
      if (Double.isFinite(lhs[i]) && Double.isFinite(rhs[i])) {
        a[k] = lhs[i];
        b[k] = rhs[i];
        d[k] = sign * (lhs[i] - rhs[i]);
        k++;
      }
    }
    if (k == 0) {
      return new Result(Outcome.NO_DATA, Double.NaN, Double.NaN, Double.NaN, tolerance, 0);
    }
    a = Arrays.copyOf(a, k);
    b = Arrays.copyOf(b, k);
    d = Arrays.copyOf(d, k);
    double adv = median(d);
    double band = Math.max(tolerance, 2 * standardError(d));
    Outcome o = adv > band ? Outcome.HOLDS : adv < -band ? Outcome.FAILS : Outcome.TIE;
    return new Result(o, median(a), median(b), adv, band, k);
  }

  /** The verdict on a claim from its comparisons' outcomes. */
  public static String claim(int holds, int ties, int fails, int noData) {
    int n = holds + ties + fails + noData;
    if (noData == n) {
      return "not run";
    }
    if (holds == n) {
      return "reproduced";
    }
    String counts = counts(holds, ties, fails, noData);
    if (2 * noData > n) {
      return "inconclusive (" + counts + ": most comparisons had no data)";
    }
    if (holds == 0 && fails == 0) {
      return "inconclusive (" + counts + ")";
    }
    if (holds == 0 && ties == 0) {
      return "contradicted (" + counts + ")";
    }
    if (holds <= fails) {
      return "not reproduced (" + counts + ")";
    }
    // more hold than fail: "partly" only when most comparisons were decided at all
    return 2 * (holds + fails) >= n
        ? "partly reproduced (" + counts + ")"
        : "inconclusive (" + counts + ": most comparisons undecided)";
  }

  static String counts(int holds, int ties, int fails, int noData) {
    StringBuilder s = new StringBuilder().append(holds).append(" hold");
    if (ties > 0) {
      s.append(", ").append(ties).append(ties == 1 ? " tie" : " ties");
    }
    if (fails > 0) {
      s.append(", ").append(fails).append(" fail").append(fails == 1 ? "s" : "");
    }
    if (noData > 0) {
      s.append(", ").append(noData).append(" without data");
    }
    return s.toString();
  }

  /** Whether a run with this final KL to the reference counts as diverged. */
  public static boolean diverged(double finalKl) {
    return !Double.isFinite(finalKl) || finalKl > DIVERGED_KL;
  }

  /** The median (the mean of the middle two for an even count); NaN for none. */
  public static double median(double[] v) {
    if (v.length == 0) {
      return Double.NaN;
    }
    double[] s = v.clone();
    Arrays.sort(s);
    int m = s.length / 2;
    return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  /** The standard error of the mean, sample sd / sqrt(n); 0 for fewer than two values. */
  public static double standardError(double[] v) {
    return v.length < 2 ? 0 : LabResults.meanStd(v)[1] / Math.sqrt(v.length);
  }
}
