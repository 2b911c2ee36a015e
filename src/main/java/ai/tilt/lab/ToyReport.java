package ai.tilt.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
}
