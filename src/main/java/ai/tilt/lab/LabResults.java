package ai.tilt.lab;

import ai.tilt.report.MetricsLog;
import ai.tilt.report.Plots;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The lab's runs as numbers: for a cell (experiment, group, setting, method) and a seed, the curve
 * of a metric against gradient steps, read from the run's metrics.jsonl. Only runs that finished
 * (their {@code .lab-done.json} exists) count; the others are reported missing.
 */
public final class LabResults {
  private final Map<String, LabJobs.Job> runs = new HashMap<>(); // id -> job
  private final Map<String, List<Plots.Row>> cache = new HashMap<>();

  /** A metric against gradient steps. */
  public record Curve(double[] steps, double[] values) {
    public double first() {
      return values[0];
    }

    public double last() {
      return values[values.length - 1];
    }
  }

  public LabResults(List<LabJobs.Job> jobs) {
    for (LabJobs.Job j : jobs) {
      if (!j.step()) {
        runs.put(j.id(), j);
      }
    }
  }

  static String id(String exp, String group, String setting, String method, int seed) {
    return String.join("/", exp, group, setting, method, "seed-" + seed);
  }

  /** Whether the run finished. */
  public boolean finished(String exp, String group, String setting, String method, int seed) {
    LabJobs.Job j = runs.get(id(exp, group, setting, method, seed));
    return j != null && Files.exists(j.dir().resolve(LabRunner.DONE));
  }

  /** The run's values of {@code key} (times {@code sign}) at the steps that logged it, or null. */
  public Curve curve(
      String exp, String group, String setting, String method, int seed, String key, double sign) {
    if (!finished(exp, group, setting, method, seed)) {
      return null;
    }
    List<Plots.Row> rows = rows(runs.get(id(exp, group, setting, method, seed)));
    TreeMap<Long, Double> byStep = new TreeMap<>();
    for (Plots.Row r : rows) {
      Double v = r.values().get(key);
      if (v != null && Double.isFinite(v)) {
        byStep.put(r.step(), sign * v); // a resumed run may repeat a step: the later line wins
      }
    }
    if (byStep.isEmpty()) {
      return null;
    }
    double[] s = new double[byStep.size()];
    double[] v = new double[byStep.size()];
    int i = 0;
    for (Map.Entry<Long, Double> e : byStep.entrySet()) {
      s[i] = e.getKey();
      v[i++] = e.getValue();
    }
    return new Curve(s, v);
  }

  /** Whether the finished run {@code id} diverged ({@link Judging#diverged} on its final KL). */
  public boolean diverged(String id) {
    String[] p = id.split("/");
    Curve kl = curve(p[0], p[1], p[2], p[3], Integer.parseInt(p[4].substring(5)), "eval/kl", 1);
    return kl != null && Judging.diverged(kl.last());
  }

  /** The curves of every finished seed of {@code seeds} (missing seeds left out). */
  public List<Curve> curves(
      String exp,
      String group,
      String setting,
      String method,
      List<Integer> seeds,
      String key,
      double sign) {
    List<Curve> out = new ArrayList<>();
    for (int s : seeds) {
      Curve c = curve(exp, group, setting, method, s, key, sign);
      if (c != null) {
        out.add(c);
      }
    }
    return out;
  }

  /** The mean curve over seeds, at the steps every seed logged (the first seed's steps). */
  public static Curve mean(List<Curve> curves) {
    if (curves.isEmpty()) {
      return null;
    }
    Curve base = curves.get(0);
    List<Double> steps = new ArrayList<>();
    List<Double> values = new ArrayList<>();
    for (int i = 0; i < base.steps().length; i++) {
      double sum = 0;
      int n = 0;
      for (Curve c : curves) {
        int at = Arrays.binarySearch(c.steps(), base.steps()[i]);
        if (at >= 0) {
          sum += c.values()[at];
          n++;
        }
      }
      if (n == curves.size()) {
        steps.add(base.steps()[i]);
        values.add(sum / n);
      }
    }
    return new Curve(
        steps.stream().mapToDouble(Double::doubleValue).toArray(),
        values.stream().mapToDouble(Double::doubleValue).toArray());
  }

  /**
   * The first step at which the curve covers {@code fraction} of the way from its first value to
   * {@code target}, or NaN if it never does (or the target is no better than the start).
   */
  public static double stepsTo(Curve c, double target, double fraction) {
    double start = c.first();
    if (!(target > start)) {
      return Double.NaN;
    }
    double goal = start + fraction * (target - start);
    for (int i = 0; i < c.values().length; i++) {
      if (c.values()[i] >= goal) {
        return c.steps()[i];
      }
    }
    return Double.NaN;
  }

  /** Mean and sample standard deviation. */
  public static double[] meanStd(double[] v) {
    if (v.length == 0) {
      return new double[] {Double.NaN, Double.NaN};
    }
    double m = 0;
    for (double x : v) {
      m += x;
    }
    m /= v.length;
    double ss = 0;
    for (double x : v) {
      ss += (x - m) * (x - m);
    }
    return new double[] {m, v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0};
  }

  private List<Plots.Row> rows(LabJobs.Job j) {
    return cache.computeIfAbsent(
        j.id(),
        k -> {
          try {
            return Plots.read(j.dir().resolve(MetricsLog.METRICS_FILE)).rows();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
  }
}
