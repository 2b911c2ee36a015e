package ai.tilt.lab;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * The paper's figures read off as numbers (shared/notes/paper.md sections 4, 5.3 and 6), each
 * beside the lab's value of the same quantity, so a reader sees how far the miniature lands from
 * the paper without reading curves.
 *
 * <p>The scales differ: the paper's length tasks count Pythia tokens from about 200, the lab counts
 * words from about 6, so their rows compare the final length as a fraction of the start; the gold
 * reward models differ too, so the AlpacaFarm rows give each gain in its own model's units and are
 * read for their order and sign. The paper gives no bandit curves ("not retrievable"), only the
 * reference's expected reward, and the toy's numbers are in C8's fit.
 */
final class PaperNumbers {
  private PaperNumbers() {}

  /** How a row's lab value is written: a plain number or a percentage. */
  enum Unit {
    NUMBER,
    PERCENT
  }

  /**
   * One quantity the paper states.
   *
   * @param figure where the paper shows it
   * @param quantity what is measured, in the lab's terms
   * @param paper the paper's value, as read off its figure
   * @param lab the lab's value for one seed's evidence (NaN when the run is missing)
   */
  record Row(
      String figure,
      String quantity,
      String paper,
      ToDoubleFunction<Evidence> lab,
      Unit unit,
      String paperSteps,
      ToDoubleFunction<Evidence> labSteps) {}

  private static final List<String> BANDIT_METHODS =
      List.of(
          "dpo",
          "ipo",
          "best-of-n",
          "best-of-n-neg",
          "rwr",
          "reinforce",
          "ppo",
          "offline-dpo",
          "offline-ipo",
          "offline-best-of-n",
          "offline-best-of-n-neg",
          "offline-rwr");

  static List<Row> rows() {
    List<Row> rows = new ArrayList<>();
    for (String exp : List.of("bandit", "bandit-tokens")) {
      for (String[] peak : new String[][] {{"far", "70", "≈ 0.04"}, {"near", "20", "≈ 0.38"}}) {
        rows.add(
            new Row(
                "setup (notes §4)",
                exp
                    + ": the reference's true reward, peak "
                    + peak[0]
                    + " ("
                    + peak[1]
                    + "), the mean of every method's step-0 evaluation",
                peak[2] + " (E over π_data)",
                e -> reference(e, exp, peak[0]),
                Unit.NUMBER,
                "0",
                e -> 0));
      }
    }
    String fig = "\"complementarity\" (notes §5.3)";
    String[][] min = {
      {"dpo", "on-policy DPO", "≈ 0% (≈ 0 by step 70-100)"},
      {"offline-dpo", "offline DPO", "≈ 0% (≈ 0 by step 150)"},
      {"ppo", "PPO", "≈ 2-5% (5-10 tokens)"},
      {"rwr", "on-policy RWR", "≈ 32-37% (≈ 70 tokens)"}
    };
    lengthShares(rows, fig, "min", "Min Length", "(≈ 200 tokens)", min);
    String[][] skew = {
      {"dpo", "on-policy DPO", "≈ 0% (≈ 0 by step 80)"},
      {"offline-dpo", "offline DPO", "≈ 4-8% (plateau at 8-15 tokens)"},
      {"ppo", "PPO", "≈ 5-8% (10-15 tokens after step 350)"},
      {"rwr", "on-policy RWR", "≈ 11% (≈ 22 tokens)"}
    };
    lengthShares(
        rows,
        fig,
        "skew",
        "Skew Length",
        "(the paper's taken as Min's, ≈ 200 tokens: same reference)",
        skew);
    for (String[] m : min) {
      rows.add(
          new Row(
              fig,
              "Mode Length, "
                  + m[1]
                  + ": final distance to the mode (paper: tokens, lab: words; not comparable in"
                  + " scale, read for the spread across methods)",
              m[0].equals("ppo") ? "drifts up to ≈ 28 tokens" : "≈ 5-30 tokens, no clear winner",
              e -> -e.last("length", "main", "mode", m[0]),
              Unit.NUMBER,
              "600",
              e -> e.lastStep("length", "main", "mode", m[0])));
    }
    String[][] bs = {
      {"rwr", "RWR", "+0.60 / +0.56 / +0.45"}, {"reinforce", "REINFORCE", "+0.62 / +0.55 / +0.51"}
    };
    String[] b = {"B16", "B32", "B64"};
    String[] paperB = {"64", "128", "256"};
    for (String[] m : bs) {
      String[] gains = m[2].split(" / ");
      for (int i = 0; i < b.length; i++) {
        String setting = b[i];
        rows.add(
            new Row(
                "\"alpaca_bs\" (notes §6.1)",
                "AlpacaFarm "
                    + m[1]
                    + ": gold gain over the SFT policy, B = "
                    + setting.substring(1)
                    + " (paper: B = "
                    + paperB[i]
                    + ")",
                gains[i] + " (0.11 to " + paperGold(gains[i]) + ")",
                e -> e.change("alpaca", "batch", setting, m[0], "eval/reward"),
                Unit.NUMBER,
                "≈ 600",
                e -> e.lastStep("alpaca", "batch", setting, m[0])));
      }
    }
    rows.add(
        new Row(
            "\"neg_grad\" (notes §6.1)",
            "AlpacaFarm: offline DPO's gold gain over the SFT policy",
            "≈ +0.13",
            e -> e.change("alpaca", "offline", "default", "offline-dpo", "eval/reward"),
            Unit.NUMBER,
            "not stated",
            e -> e.lastStep("alpaca", "offline", "default", "offline-dpo")));
    rows.add(
        new Row(
            "\"neg_grad\" (notes §6.1)",
            "AlpacaFarm: Pref-FT's gold gain over the SFT policy",
            "≈ -0.01",
            e -> e.change("alpaca", "offline", "default", "offline-pref-ft", "eval/reward"),
            Unit.NUMBER,
            "not stated",
            e -> e.lastStep("alpaca", "offline", "default", "offline-pref-ft")));
    String[][] implicit = {
      {"offline-dpo", "DPO", "logps/chosen", "y_w", "falls, ≈ -0.05"},
      {"offline-dpo", "DPO", "logps/rejected", "y_l", "falls, ≈ -0.085"},
      {"offline-pref-ft", "Pref-FT", "logps/chosen", "y_w", "rises, to ≈ +0.010"},
      {"offline-pref-ft", "Pref-FT", "logps/rejected", "y_l", "rises, to ≈ +0.010"}
    };
    for (String[] m : implicit) {
      rows.add(
          new Row(
              "Fig. 17, \"neg_grad_rew\" (notes §6.1)",
              "AlpacaFarm, "
                  + m[1]
                  + ": change of "
                  + m[3]
                  + "'s implicit reward 0.1 · log π/π_ref (fitted line)",
              m[4],
              e -> 0.1 * e.fittedChange("alpaca", "offline", "default", m[0], m[2]),
              Unit.NUMBER,
              m[1].equals("DPO") ? "600" : "not stated",
              e -> e.lastStep("alpaca", "offline", "default", m[0])));
    }
    return rows;
  }

  /** One row per method: a length task's final length as a share of its start. */
  private static void lengthShares(
      List<Row> rows, String fig, String setting, String task, String start, String[][] methods) {
    for (String[] m : methods) {
      rows.add(
          new Row(
              fig,
              task + ", " + m[1] + ": final length as a share of the start " + start,
              m[2],
              e -> costShare(e, setting, m[0]),
              Unit.PERCENT,
              "600",
              e -> e.lastStep("length", "main", setting, m[0])));
    }
  }

  /** The markdown table: each row's paper value beside the lab's median over seeds and range. */
  static String table(LabResults results, List<Integer> seeds) {
    StringBuilder md =
        new StringBuilder(
            "| paper's figure | quantity | paper | lab (median over seeds, range) | steps:"
                + " paper / lab |\n|---|---|---|---|---|\n");
    for (Row r : rows()) {
      double[] v = perSeed(results, seeds, r.lab());
      md.append("| ")
          .append(r.figure())
          .append(" | ")
          .append(r.quantity())
          .append(" | ")
          .append(r.paper())
          .append(" | ")
          .append(labCell(v, r.unit()))
          .append(" | ")
          .append(r.paperSteps())
          .append(" / ")
          .append(labSteps(results, seeds, r))
          .append(" |\n");
    }
    return md.toString();
  }

  /** "0.123 (0.100 to 0.150)", "3% (1% to 5%)", "no data". */
  static String labCell(double[] v, Unit unit) {
    if (v.length == 0) {
      return "no data";
    }
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (double x : v) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    String med = format(Judging.median(v), unit);
    return v.length == 1 ? med : med + " (" + format(lo, unit) + " to " + format(hi, unit) + ")";
  }

  /** A quantity on each seed's own runs, the seeds without them left out. */
  private static double[] perSeed(
      LabResults results, List<Integer> seeds, ToDoubleFunction<Evidence> quantity) {
    return seeds.stream()
        .mapToDouble(s -> quantity.applyAsDouble(new Evidence(results, s, seeds)))
        .filter(x -> !Double.isNaN(x))
        .toArray();
  }

  private static String labSteps(LabResults results, List<Integer> seeds, Row r) {
    double[] v = perSeed(results, seeds, r.labSteps());
    return v.length == 0 ? "-" : String.format(Locale.ROOT, "%.0f", Judging.median(v));
  }

  private static String format(double x, Unit unit) {
    x = Math.abs(x) < 5e-4 ? 0 : x; // no "-0%" or "-0.000" from a signed zero or a hair below
    return unit == Unit.PERCENT
        ? String.format(Locale.ROOT, "%.0f%%", 100 * x)
        : String.format(Locale.ROOT, "%.3f", x);
  }

  /** The run's first eval/reward: the reference's (step 0 evaluates before any update). */
  static double first(Evidence e, String exp, String group, String setting, String method) {
    return e.last(exp, group, setting, method)
        - e.change(exp, group, setting, method, "eval/reward");
  }

  /** The mean of every method's first evaluation in a bandit setting: the reference's reward. */
  static double reference(Evidence e, String exp, String setting) {
    double[] v =
        BANDIT_METHODS.stream()
            .mapToDouble(m -> first(e, exp, "main", setting, m))
            .filter(x -> !Double.isNaN(x))
            .toArray();
    return v.length == 0 ? Double.NaN : Evidence.mean(v);
  }

  /** A length run's final gold cost over its starting one (eval/reward is minus the cost). */
  static double costShare(Evidence e, String setting, String method) {
    double start = first(e, "length", "main", setting, method);
    return start == 0 ? Double.NaN : e.last("length", "main", setting, method) / start;
  }

  private static String paperGold(String gain) {
    return String.format(Locale.ROOT, "%.2f", 0.11 + Double.parseDouble(gain));
  }
}
