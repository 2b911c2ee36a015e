package ai.tilt.lab;

import java.util.ArrayList;
import java.util.List;

/**
 * The categorical toy of Tajwar et al. (2024), section 6: gradient descent on the forward KL KL(q
 * || p) (what maximum likelihood on samples of q minimises: mode-covering) against the reverse KL
 * KL(p || q) (what on-policy RL with a KL-regularised reward minimises, Lemma 6.1: mode-seeking),
 * from p0 = [0.3, 0.3, 0.1, 0.3] toward q = [0.2, 0.1, 0.6, 0.1].
 *
 * <p>p = softmax(theta), as an LLM's next-token distribution, and theta takes plain gradient steps.
 * The gradients with respect to the logits are exact:
 *
 * <ul>
 *   <li>forward: d KL(q || p) / d theta = p - q;
 *   <li>reverse: d KL(p || q) / d theta_j = p_j (log(p_j / q_j) - KL(p || q)).
 * </ul>
 *
 * <p>The paper does not state its parameterisation or step size, so the lab reports what this
 * parameterisation gives, whichever way it falls, and which step draws each panel of the paper's
 * figure ({@link #closestStep}): its reverse-KL panel is one forward-KL step at lr 2.39 within
 * 0.002, and no step of either divergence draws its forward-KL panel closer than 0.03.
 */
public final class KlToy {
  public static final double[] P0 = {0.3, 0.3, 0.1, 0.3};
  public static final double[] Q = {0.2, 0.1, 0.6, 0.1};

  /** The paper's figure after one step, as read off it (shared/notes/paper.md, section 7). */
  public static final double[] PAPER_FORWARD = {0.33, 0.225, 0.22, 0.225};

  public static final double[] PAPER_REVERSE = {0.25, 0.20, 0.35, 0.20};

  private KlToy() {}

  /** Which divergence the steps descend. */
  public enum Divergence {
    FORWARD,
    REVERSE
  }

  /** The softmax of logits. */
  public static double[] softmax(double[] theta) {
    double max = Double.NEGATIVE_INFINITY;
    for (double t : theta) {
      max = Math.max(max, t);
    }
    double[] p = new double[theta.length];
    double s = 0;
    for (int i = 0; i < p.length; i++) {
      p[i] = Math.exp(theta[i] - max);
      s += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= s;
    }
    return p;
  }

  /** KL(a || b) in nats. */
  public static double kl(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      if (a[i] > 0) {
        s += a[i] * Math.log(a[i] / b[i]);
      }
    }
    return s;
  }

  /** The gradient of the divergence with respect to the logits, at p = softmax(theta). */
  public static double[] gradient(Divergence d, double[] p, double[] q) {
    double[] g = new double[p.length];
    if (d == Divergence.FORWARD) {
      for (int i = 0; i < p.length; i++) {
        g[i] = p[i] - q[i];
      }
      return g;
    }
    double k = kl(p, q);
    for (int i = 0; i < p.length; i++) {
      g[i] = p[i] * (Math.log(p[i] / q[i]) - k);
    }
    return g;
  }

  /** The distributions p_0 .. p_steps of {@code steps} gradient steps of size {@code lr}. */
  public static List<double[]> descend(
      Divergence d, double[] p0, double[] q, double lr, int steps) {
    double[] theta = new double[p0.length];
    for (int i = 0; i < p0.length; i++) {
      theta[i] = Math.log(p0[i]);
    }
    List<double[]> out = new ArrayList<>();
    out.add(softmax(theta));
    for (int s = 0; s < steps; s++) {
      double[] g = gradient(d, out.get(out.size() - 1), q);
      for (int i = 0; i < theta.length; i++) {
        theta[i] -= lr * g[i];
      }
      out.add(softmax(theta));
    }
    return out;
  }

  /** The first step at which p puts at least {@code mass} on category {@code k}, or -1. */
  public static int stepsTo(List<double[]> trajectory, int k, double mass) {
    for (int s = 0; s < trajectory.size(); s++) {
      if (trajectory.get(s)[k] >= mass) {
        return s;
      }
    }
    return -1;
  }

  /**
   * The step size whose single step lands closest to a target, and how close (largest per-category
   * gap).
   */
  public record Fit(double lr, double maxDiff) {}

  /**
   * The single step of {@code d} from p0 that comes closest to {@code target}, over step sizes 0.01
   * to 5 in steps of 0.01: which divergence (and step size) could have drawn a panel of the paper's
   * figure, since the paper gives neither.
   */
  public static Fit closestStep(Divergence d, double[] target) {
    Fit best = new Fit(Double.NaN, Double.POSITIVE_INFINITY);
    for (int i = 1; i <= 500; i++) {
      double lr = i / 100.0;
      double[] p = descend(d, P0, Q, lr, 1).get(1);
      double diff = 0;
      for (int k = 0; k < p.length; k++) {
        diff = Math.max(diff, Math.abs(p[k] - target[k]));
      }
      if (diff < best.maxDiff()) {
        best = new Fit(lr, diff);
      }
    }
    return best;
  }

  /**
   * A joint fit of both panels of the paper's figure: {@code steps} gradient steps of size {@code
   * lr}, the same for both divergences, and the larger of the two panels' largest per-category
   * gaps.
   */
  public record JointFit(int steps, double lr, double maxDiff) {}

  /**
   * The number of steps (1 to 10) and the one step size (0.01 to 5, in 0.01) at which forward and
   * reverse KL together come closest to the paper's two panels: as labelled (forward KL drawing the
   * forward panel), or with the labels exchanged. A single step cannot draw both panels (the panels
   * need different step sizes), so this asks whether any one schedule draws the figure.
   */
  public static JointFit jointFit(boolean exchanged) {
    return jointFit(
        exchanged ? PAPER_REVERSE : PAPER_FORWARD, exchanged ? PAPER_FORWARD : PAPER_REVERSE);
  }

  /**
   * The joint fit of a forward-KL panel and a reverse-KL panel (see {@link #jointFit(boolean)}).
   */
  public static JointFit jointFit(double[] forwardPanel, double[] reversePanel) {
    JointFit best = new JointFit(0, Double.NaN, Double.POSITIVE_INFINITY);
    for (int i = 1; i <= 500; i++) {
      double lr = i / 100.0;
      List<double[]> f = descend(Divergence.FORWARD, P0, Q, lr, 10);
      List<double[]> r = descend(Divergence.REVERSE, P0, Q, lr, 10);
      for (int n = 1; n <= 10; n++) {
        double diff = Math.max(maxDiff(f.get(n), forwardPanel), maxDiff(r.get(n), reversePanel));
        if (diff < best.maxDiff()) {
          best = new JointFit(n, lr, diff);
        }
      }
    }
    return best;
  }

  private static double maxDiff(double[] a, double[] b) {
    double d = 0;
    for (int k = 0; k < a.length; k++) {
      d = Math.max(d, Math.abs(a[k] - b[k]));
    }
    return d;
  }

  /** The index of the largest entry: q's mode. */
  public static int argmax(double[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }
}
