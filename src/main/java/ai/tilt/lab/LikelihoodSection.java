package ai.tilt.lab;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The lab report's likelihood section (Fig. 16/17's quantities): per method and setting the change
 * over training of log pi(y_w), log pi(y_l) and their margin, mean and std over seeds, and a figure
 * of the curves.
 */
final class LikelihoodSection {
  private LikelihoodSection() {}

  static void write(
      StringBuilder md,
      LabResults results,
      List<Integer> seeds,
      String exp,
      String name,
      List<String> settings,
      List<String> methods,
      Path figures,
      boolean fitted)
      throws IOException {
    md.append(
        "Change over training of the sequence log-likelihoods of the chosen (y_w) and rejected (y_l) responses"
            + " of the training pairs, and of their margin; mean ± std over seeds; then the final reward."
            + (fitted
                ? " Each step's batch holds other pairs, so a change is the rise of the least-squares"
                    + " line through the per-step values."
                : "")
            + "\n\n"
            + "| method | setting | Δ log π(y_w) | Δ log π(y_l) | Δ margin | final reward |\n|---|---|---|---|---|---|\n");
    List<String> images = new ArrayList<>();
    for (String s : settings) {
      Map<String, double[][]> series = new LinkedHashMap<>();
      for (String m : methods) {
        List<LabResults.Curve> w = results.curves(exp, name, s, m, seeds, "logps/chosen", 1);
        List<LabResults.Curve> l = results.curves(exp, name, s, m, seeds, "logps/rejected", 1);
        List<LabResults.Curve> r = results.curves(exp, name, s, m, seeds, "eval/reward", 1);
        if (w.isEmpty() || l.isEmpty()) {
          md.append("| ").append(m).append(" | ").append(s).append(" | missing | | | |\n");
          continue;
        }
        ToDoubleFunction<LabResults.Curve> change =
            fitted ? Evidence::fittedChange : c -> c.last() - c.first();
        double[] dw = w.stream().mapToDouble(change).toArray();
        double[] dl = l.stream().mapToDouble(change).toArray();
        double[] dm = new double[Math.min(dw.length, dl.length)];
        for (int i = 0; i < dm.length; i++) {
          dm[i] = dw[i] - dl[i];
        }
        md.append("| ")
            .append(m)
            .append(" | ")
            .append(s)
            .append(" | ")
            .append(pm(dw))
            .append(" | ")
            .append(pm(dl))
            .append(" | ")
            .append(pm(dm))
            .append(" | ")
            .append(pm(r.stream().mapToDouble(LabResults.Curve::last).toArray()))
            .append(" |\n");
        LabResults.Curve mw = LabResults.mean(w);
        LabResults.Curve ml = LabResults.mean(l);
        series.put(m + " (chosen)", new double[][] {mw.steps(), mw.values()});
        series.put(m + " (rejected)", new double[][] {ml.steps(), ml.values()});
      }
      if (!series.isEmpty()) {
        String file = exp + "-" + name + "-" + s + ".png";
        LabFigures.lines(
            exp + " " + name + ": " + s + ", log-likelihoods (dashed: rejected)",
            "gradient step",
            "log pi(y) (mean over pairs and seeds)",
            series,
            figures.resolve(file));
        images.add("![" + s + "](figures/" + file + ")");
      }
    }
    md.append("\n").append(String.join("\n", images)).append("\n\n");
  }

  private static String pm(double[] v) {
    double[] ms = LabResults.meanStd(v);
    return Claims.num(ms[0]) + " ± " + Claims.num(ms[1]);
  }
}
