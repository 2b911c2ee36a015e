package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.tilt.loss.LossOutput;
import ai.tilt.runtime.NoGrad;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Sums of a loss's per-group (or per-sequence) metrics over a window, and their means. A metric
 * {@code a/b_sum} that comes with a {@code count/b} (KTO's desirable and undesirable rows, which
 * only some groups have) becomes {@code a/b} = its total over the total count, as TRL computes it,
 * instead of a mean over all groups. Totals ({@link #total}) are reported as sums. Workers of a
 * data-parallel step merge their sums, so the means are those of the whole step.
 */
final class MetricSums {
  private final Map<String, double[]> sums = new LinkedHashMap<>(); // name -> {sum, count}
  private final Map<String, Double> totals = new LinkedHashMap<>(); // reported as sums

  /** A quantity reported as its total over the window (target tokens, pairs), not as a mean. */
  void total(String name, double value) {
    totals.merge(name, value, Double::sum);
  }

  /** Adds another worker's sums, counts and totals to these. */
  void merge(MetricSums other) {
    other.sums.forEach(
        (k, v) -> {
          double[] s = sums.computeIfAbsent(k, x -> new double[2]);
          s[0] += v[0];
          s[1] += v[1];
        });
    other.totals.forEach(this::total);
  }

  /** These sums as bytes, for gathering across workers. */
  byte[] encode() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt(sums.size());
      for (Map.Entry<String, double[]> e : sums.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeDouble(e.getValue()[0]);
        out.writeDouble(e.getValue()[1]);
      }
      out.writeInt(totals.size());
      for (Map.Entry<String, Double> e : totals.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeDouble(e.getValue());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a byte array does not fail
    }
    return bytes.toByteArray();
  }

  /** The sums {@link #encode} wrote. */
  static MetricSums decode(byte[] encoded) {
    MetricSums m = new MetricSums();
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(encoded))) {
      for (int i = in.readInt(); i > 0; i--) {
        m.sums.put(in.readUTF(), new double[] {in.readDouble(), in.readDouble()});
      }
      for (int i = in.readInt(); i > 0; i--) {
        m.totals.put(in.readUTF(), in.readDouble());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("metric sums of another worker are malformed", e);
    }
    return m;
  }

  /** Adds every non-NaN value of each (G) metric array. */
  void add(Map<String, NDArray> metrics) {
    for (Map.Entry<String, NDArray> e : metrics.entrySet()) {
      double[] s = sums.computeIfAbsent(e.getKey(), k -> new double[2]);
      for (float v : e.getValue().toFloatArray()) {
        if (!Float.isNaN(v)) {
          s[0] += v;
          s[1]++;
        }
      }
    }
  }

  /** The means, each name prefixed with {@code prefix}. */
  Map<String, Double> means(String prefix) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (Map.Entry<String, double[]> e : sums.entrySet()) {
      String key = e.getKey();
      double[] s = e.getValue();
      if (key.endsWith("_sum")) {
        String base = key.substring(0, key.length() - 4); // rewards/chosen
        double[] count = sums.get("count/" + base.substring(base.indexOf('/') + 1));
        if (count != null) {
          out.put(prefix + base, count[0] == 0 ? Double.NaN : s[0] / count[0]);
          continue;
        }
      }
      out.put(prefix + key, s[1] == 0 ? Double.NaN : s[0] / s[1]);
    }
    totals.forEach((k, v) -> out.put(prefix + k, v));
    return out;
  }

  /**
   * Loss and metric means over {@code n} held-out groups, {@code microBatch} at a time, without a
   * graph, each micro-batch in its own sub-manager.
   */
  static Map<String, Double> heldOut(
      NDManager parent,
      int n,
      int microBatch,
      BiFunction<NDManager, List<Integer>, LossOutput> compute) {
    MetricSums sums = new MetricSums();
    double lossSum = 0;
    try (NoGrad off = NoGrad.enter()) {
      for (int start = 0; start < n; start += microBatch) {
        List<Integer> idx = new ArrayList<>();
        for (int g = start; g < Math.min(n, start + microBatch); g++) {
          idx.add(g);
        }
        try (NDManager m = parent.newSubManager()) {
          LossOutput out = compute.apply(m, idx);
          lossSum += out.perGroup().sum().getFloat();
          sums.add(out.metrics());
        }
      }
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("eval/loss", lossSum / n);
    m.putAll(sums.means("eval/"));
    return m;
  }
}
