package ai.tilt.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The KL toy's step output ({@code tilt lab toy}): for each step size, forward and reverse KL
 * trajectories from {@link KlToy#P0} toward {@link KlToy#Q}, the first step at which q's mode holds
 * half the mass, the distribution after one step, and the categories one step raised although q
 * wants them lower than p0 (the paper's "forward KL can even raise mass on categories that should
 * shrink"). Writes {@code toy.json} for the report and {@code toy.png}, and reads {@code toy.json}
 * back as claim C8's comparisons ({@link #comparisons}).
 */
public final class ToyReport {
  /** Mass on q's mode that counts as "moved onto the mode". */
  public static final double HALF = 0.5;

  private ToyReport() {}

  public static void write(Path dir, List<Double> lrs, int steps) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = json.createObjectNode();
    root.set("p0", json.valueToTree(KlToy.P0));
    root.set("q", json.valueToTree(KlToy.Q));
    int mode = KlToy.argmax(KlToy.Q);
    root.put("mode", mode);
    root.put("threshold", HALF);
    root.put("parameterisation", "softmax logits, plain gradient descent");
    ArrayNode runs = root.putArray("runs");
    XYChart chart =
        new XYChartBuilder()
            .width(800)
            .height(500)
            .title("KL toy: mass on q's mode")
            .xAxisTitle("gradient step")
            .yAxisTitle("p(mode)")
            .build();
    for (double lr : lrs) {
      ObjectNode run = runs.addObject();
      run.put("lr", lr);
      for (KlToy.Divergence d : KlToy.Divergence.values()) {
        List<double[]> t = KlToy.descend(d, KlToy.P0, KlToy.Q, lr, steps);
        ObjectNode o = run.putObject(d.name().toLowerCase());
        o.put("steps_to_half", KlToy.stepsTo(t, mode, HALF));
        o.set("after_one_step", json.valueToTree(t.get(1)));
        ArrayNode raised = o.putArray("raised_against_q");
        for (int k = 0; k < KlToy.P0.length; k++) {
          if (KlToy.Q[k] < KlToy.P0[k] && t.get(1)[k] > KlToy.P0[k]) {
            raised.add(k);
          }
        }
        double[] x = new double[t.size()];
        double[] y = new double[t.size()];
        ArrayNode traj = o.putArray("p_mode");
        for (int s = 0; s < t.size(); s++) {
          x[s] = s;
          y[s] = t.get(s)[mode];
          traj.add(y[s]);
        }
        chart
            .addSeries(d.name().toLowerCase() + " KL, lr " + lr, x, y)
            .setMarker(SeriesMarkers.NONE);
      }
    }
    ObjectNode panels = root.putObject("paper_panels");
    for (String panel : List.of("forward", "reverse")) {
      double[] target = panel.equals("forward") ? KlToy.PAPER_FORWARD : KlToy.PAPER_REVERSE;
      ObjectNode o = panels.putObject(panel);
      o.set("figure", json.valueToTree(target));
      for (KlToy.Divergence d : KlToy.Divergence.values()) {
        KlToy.Fit fit = KlToy.closestStep(d, target);
        ObjectNode f = o.putObject("closest_" + d.name().toLowerCase());
        f.put("lr", fit.lr());
        f.put("max_diff", fit.maxDiff());
      }
    }
    ObjectNode joint = root.putObject("joint_fit");
    for (boolean exchanged : new boolean[] {false, true}) {
      KlToy.JointFit fit = KlToy.jointFit(exchanged);
      ObjectNode f = joint.putObject(exchanged ? "labels_exchanged" : "as_labelled");
      f.put("steps", fit.steps());
      f.put("lr", fit.lr());
      f.put("max_diff", fit.maxDiff());
    }
    json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("toy.json").toFile(), root);
    LabFigures.save(chart, dir.resolve("toy.png"));
  }

  /**
   * C8's comparisons, read from the toy step's toy.json: no randomness, so judged once (a
   * difference of one gradient step counts).
   */
  static List<Claims.Comparison> comparisons(Path toyJson) {
    String p = "§6: reverse KL moves mass onto q's dominant category faster than forward KL";
    List<Claims.Comparison> out = new ArrayList<>();
    JsonNode root = null;
    try {
      root =
          toyJson != null && Files.exists(toyJson)
              ? new ObjectMapper().readTree(toyJson.toFile())
              : null;
    } catch (IOException e) {
      root = null;
    }
    if (root == null) {
      out.add(
          new Claims.Comparison(
              "the toy's steps to half the mass on q's mode (toy.json missing)",
              p,
              e -> Double.NaN,
              "<",
              e -> Double.NaN,
              0.5,
              true));
      return out;
    }
    for (JsonNode run : root.get("runs")) {
      double rev = steps(run.get("reverse"));
      double fwd = steps(run.get("forward"));
      out.add(
          new Claims.Comparison(
              "lr "
                  + run.get("lr").asDouble()
                  + ": reverse vs forward KL, gradient steps until p(mode) >= 0.5",
              p,
              e -> rev,
              "<",
              e -> fwd,
              0.5,
              true));
    }
    return out;
  }

  private static double steps(JsonNode n) {
    int s = n.get("steps_to_half").asInt();
    return s < 0 ? Double.NaN : s;
  }

  /**
   * The toy's section of the lab report, from the toy.json and toy.png of its step in {@code dir}.
   */
  static void markdown(StringBuilder md, Path dir, Path figures) throws IOException {
    Path json = dir.resolve("toy.json");
    if (!Files.exists(json)) {
      md.append("The toy did not run (no ").append(json).append(").\n\n");
      return;
    }
    JsonNode root = new ObjectMapper().readTree(json.toFile());
    md.append("Parameterisation: ")
        .append(root.get("parameterisation").asText())
        .append(". q's mode is category ")
        .append(root.get("mode").asInt())
        .append(
            ".\n\n| lr | divergence | steps to p(mode) ≥ 0.5 | p after one step |"
                + " raised against q |\n|---|---|---|---|---|\n");
    for (JsonNode run : root.get("runs")) {
      for (String d : List.of("forward", "reverse")) {
        JsonNode o = run.get(d);
        md.append("| ")
            .append(run.get("lr").asDouble())
            .append(" | ")
            .append(d)
            .append(" KL | ")
            .append(o.get("steps_to_half").asInt())
            .append(" | ")
            .append(vector(o.get("after_one_step")))
            .append(" | ")
            .append(o.get("raised_against_q"))
            .append(" |\n");
      }
    }
    Files.copy(
        dir.resolve("toy.png"), figures.resolve("toy.png"), StandardCopyOption.REPLACE_EXISTING);
    md.append(
        "\nThe paper's figure: forward KL gives about [0.33, 0.225, 0.22, 0.225] after one step (category 0"
            + " rises), reverse KL about [0.25, 0.20, 0.35, 0.20].\n\n");
    JsonNode panels = root.get("paper_panels");
    if (panels != null) {
      md.append(
          "Which single softmax-logit step comes closest to each panel of the paper's figure (step sizes 0.01-5):\n\n"
              + "| paper's panel | closest forward-KL step | closest reverse-KL step |\n|---|---|---|\n");
      for (String panel : List.of("forward", "reverse")) {
        JsonNode o = panels.get(panel);
        md.append("| ").append(panel).append(" KL ").append(vector(o.get("figure")));
        for (String d : List.of("closest_forward", "closest_reverse")) {
          md.append(" | lr ")
              .append(o.get(d).get("lr").asDouble())
              .append(", largest gap ")
              .append(String.format(Locale.ROOT, "%.3f", o.get(d).get("max_diff").asDouble()));
        }
        md.append(" |\n");
      }
      md.append(
          "\nA gap under 0.01 means that step draws the panel to the figure's precision.\n\n");
    }
    JsonNode joint = root.get("joint_fit");
    if (joint != null) {
      md.append(
          "Both panels at once: the number of steps (1-10) and the one step size (0.01-5) at which"
              + " forward and reverse KL together come closest to the figure, as labelled and with"
              + " the labels exchanged (largest gap over both panels):\n\n"
              + "| labels | steps | lr | largest gap |\n|---|---|---|---|\n");
      for (String k : List.of("as_labelled", "labels_exchanged")) {
        JsonNode f = joint.get(k);
        md.append("| ")
            .append(k.replace('_', ' '))
            .append(" | ")
            .append(f.get("steps").asInt())
            .append(" | ")
            .append(f.get("lr").asDouble())
            .append(" | ")
            .append(String.format(Locale.ROOT, "%.3f", f.get("max_diff").asDouble()))
            .append(" |\n");
      }
      md.append(
          "\nIf the exchanged labels fit and the printed ones do not, the figure's panels are most"
              + " likely swapped: C8's direction here is then the paper's own toy, read correctly.\n\n");
    }
    md.append("![toy](figures/toy.png)\n\n");
  }

  private static String vector(JsonNode a) {
    List<String> v = new ArrayList<>();
    for (JsonNode x : a) {
      v.add(String.format(Locale.ROOT, "%.3f", x.asDouble()));
    }
    return "[" + String.join(", ", v) + "]";
  }
}
