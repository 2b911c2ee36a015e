package ai.tilt.lab;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The numbers a claim is checked on, for one seed or for the mean over seeds: a run cell's final
 * value of a metric, its change over training, and the gradient steps it took to reach 90% of the
 * best final value of its setting. Values are NaN where the run is missing.
 */
public final class Evidence {
  private final LabResults results;
  private final int seed; // 0: the mean over every seed of seeds
  private final List<Integer> seeds;
  private final Set<String> touched = new LinkedHashSet<>(); // ids of the runs read

  Evidence(LabResults results, int seed, List<Integer> seeds) {
    this.results = results;
    this.seed = seed;
    this.seeds = seeds;
  }

  /** The curves this evidence looks at: one seed's, or every finished seed's. */
  private List<LabResults.Curve> curves(
      String exp, String group, String setting, String method, String key) {
    if (seed > 0) {
      touched.add(LabResults.id(exp, group, setting, method, seed));
      LabResults.Curve c = results.curve(exp, group, setting, method, seed, key, 1);
      return c == null ? List.of() : List.of(c);
    }
    return results.curves(exp, group, setting, method, seeds, key, 1);
  }

  /**
   * The last value of {@code key} (eval/reward by default: higher is better), averaged over the
   * seeds.
   */
  public double last(String exp, String group, String setting, String method, String key) {
    List<LabResults.Curve> cs = curves(exp, group, setting, method, key);
    return mean(cs.stream().mapToDouble(LabResults.Curve::last).toArray());
  }

  public double last(String exp, String group, String setting, String method) {
    return last(exp, group, setting, method, "eval/reward");
  }

  /** The step of the last evaluation, averaged over the seeds (NaN where the run is missing). */
  public double lastStep(String exp, String group, String setting, String method) {
    List<LabResults.Curve> cs = curves(exp, group, setting, method, "eval/reward");
    return mean(cs.stream().mapToDouble(c -> c.steps()[c.steps().length - 1]).toArray());
  }

  /** The last minus the first value of {@code key}. */
  public double change(String exp, String group, String setting, String method, String key) {
    List<LabResults.Curve> cs = curves(exp, group, setting, method, key);
    return mean(cs.stream().mapToDouble(c -> c.last() - c.first()).toArray());
  }

  /**
   * The change of {@code key} over training as the rise of its least-squares line from the first
   * logged step to the last: for a curve of per-batch values where each step's batch holds other
   * pairs (offline minibatches of a large set), whose first and last points differ mostly by which
   * pairs they hold.
   */
  public double fittedChange(String exp, String group, String setting, String method, String key) {
    List<LabResults.Curve> cs = curves(exp, group, setting, method, key);
    return mean(cs.stream().mapToDouble(Evidence::fittedChange).toArray());
  }

  static double fittedChange(LabResults.Curve c) {
    double[] x = c.steps();
    double[] y = c.values();
    int n = x.length;
    if (n < 2) {
      return 0;
    }
    double mx = 0;
    double my = 0;
    for (int i = 0; i < n; i++) {
      mx += x[i] / n;
      my += y[i] / n;
    }
    double sxy = 0;
    double sxx = 0;
    for (int i = 0; i < n; i++) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) * (x[i] - mx);
    }
    return sxx == 0 ? 0 : sxy / sxx * (x[n - 1] - x[0]);
  }

  /**
   * The first gradient step at which eval/reward covered 90% of the way from its start to the best
   * mean final eval/reward of any of {@code rivals} in the setting; NaN if it never did.
   */
  public double steps90(
      String exp, String group, String setting, String method, List<String> rivals) {
    double best = Double.NEGATIVE_INFINITY;
    for (String r : rivals) {
      List<LabResults.Curve> cs = results.curves(exp, group, setting, r, seeds, "eval/reward", 1);
      double m = mean(cs.stream().mapToDouble(LabResults.Curve::last).toArray());
      if (!Double.isNaN(m)) {
        best = Math.max(best, m);
      }
    }
    List<Double> steps = new ArrayList<>();
    for (LabResults.Curve c : curves(exp, group, setting, method, "eval/reward")) {
      steps.add(LabResults.stepsTo(c, best, 0.9));
    }
    // a seed that never got there counts as the run's length: "not within the budget"
    double[] v = new double[steps.size()];
    List<LabResults.Curve> cs = curves(exp, group, setting, method, "eval/reward");
    for (int i = 0; i < v.length; i++) {
      double[] s = cs.get(i).steps();
      v[i] = Double.isNaN(steps.get(i)) ? s[s.length - 1] + 1 : steps.get(i);
    }
    return mean(v);
  }

  /**
   * How fast a run got there, on its whole curve: the mean of eval/reward over the training, the
   * area under the curve (trapezoids between evaluations) over the steps it spans. Two runs that
   * end equal differ here by how early they rose.
   */
  public double area(String exp, String group, String setting, String method) {
    List<LabResults.Curve> cs = curves(exp, group, setting, method, "eval/reward");
    return mean(cs.stream().mapToDouble(Evidence::area).toArray());
  }

  static double area(LabResults.Curve c) {
    double[] x = c.steps();
    double[] y = c.values();
    if (x.length < 2) {
      return y[0];
    }
    double sum = 0;
    for (int i = 1; i < x.length; i++) {
      sum += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
    }
    return sum / (x[x.length - 1] - x[0]);
  }

  /** The runs this evidence has read so far (one seed's), by id. */
  Set<String> touched() {
    return touched;
  }

  static double mean(double[] v) {
    if (v.length == 0) {
      return Double.NaN;
    }
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return s / v.length;
  }
}
