package ai.tilt.lab;

import java.util.SplittableRandom;
import java.util.function.IntToDoubleFunction;

/**
 * The didactic bandits' data distribution pi_data (Tajwar et al., 2024, section 4; the released
 * code's {@code utils.py}): tanh of a Cauchy(-0.7, 0.4) sample, binned into 100 equal bins over
 * [-1, 1]. The code histograms 10,000 samples; this class uses the exact bin masses, the limit of
 * that histogram, so the reference distribution is the same on every machine and for every seed:
 * p(k) = F(atanh(e_{k+1})) - F(atanh(e_k)) with bin edges e_k = -1 + 2k/100 and the Cauchy CDF F(z)
 * = 1/2 + atan((z - loc) / scale) / pi. The heavy tails pile mass into the end bins (about 0.078 at
 * token 0 and 0.04 at token 99); the interior mode is near token 16, and token 70, the peak of the
 * "far" reward, has about 0.002.
 */
public final class PiData {
  public static final int ACTIONS = 100;
  public static final double LOC = -0.7;
  public static final double SCALE = 0.4;

  private static final double[] P = masses();
  private static final double[] CDF = cumulative(P);

  private PiData() {}

  /** The 100 bin masses; they sum to 1. */
  public static double[] probabilities() {
    return P.clone();
  }

  /** A draw from pi_data, by inversion of its cumulative masses. */
  public static int sample(SplittableRandom random) {
    double u = random.nextDouble();
    int lo = 0;
    int hi = ACTIONS - 1;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (CDF[mid] > u) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

  /** E over pi_data of a per-token reward. */
  public static double expected(IntToDoubleFunction reward) {
    double s = 0;
    for (int k = 0; k < ACTIONS; k++) {
      s += P[k] * reward.applyAsDouble(k);
    }
    return s;
  }

  /** The paper's bump reward exp(-((a - center) / width)^2). */
  public static double bump(int action, double center, double width) {
    double z = (action - center) / width;
    return Math.exp(-z * z);
  }

  private static double cauchyCdf(double z) {
    if (z == Double.NEGATIVE_INFINITY) {
      return 0;
    }
    if (z == Double.POSITIVE_INFINITY) {
      return 1;
    }
    return 0.5 + Math.atan((z - LOC) / SCALE) / Math.PI;
  }

  private static double atanh(double x) {
    if (x <= -1) {
      return Double.NEGATIVE_INFINITY;
    }
    if (x >= 1) {
      return Double.POSITIVE_INFINITY;
    }
    return 0.5 * Math.log((1 + x) / (1 - x));
  }

  private static double[] masses() {
    double[] p = new double[ACTIONS];
    for (int k = 0; k < ACTIONS; k++) {
      double lo = -1 + 2.0 * k / ACTIONS;
      double hi = -1 + 2.0 * (k + 1) / ACTIONS;
      p[k] = cauchyCdf(atanh(hi)) - cauchyCdf(atanh(lo));
    }
    return p;
  }

  private static double[] cumulative(double[] p) {
    double[] c = new double[p.length];
    double s = 0;
    for (int k = 0; k < p.length; k++) {
      s += p[k];
      c[k] = s;
    }
    c[p.length - 1] = 1.0; // rounding must not leave a gap above the last bin
    return c;
  }
}
