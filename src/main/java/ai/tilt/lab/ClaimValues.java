package ai.tilt.lab;

import java.util.List;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * The quantities {@link Claims} compares, each read off an {@link Evidence} (one seed's runs):
 * final rewards and gold costs of a cell, on-policy minus offline gaps, what reuse costs,
 * likelihood margins, the best of several methods.
 */
final class ClaimValues {
  private ClaimValues() {}

  static ToDoubleFunction<Evidence> constant(double v) {
    return e -> v;
  }

  /** Final eval/reward of a bandit cell. */
  static ToDoubleFunction<Evidence> last(String exp, String group, String set, String m) {
    return e -> e.last(exp, group, set, m);
  }

  /** Gold cost (words) of a length-task cell: minus its final gold reward. */
  static ToDoubleFunction<Evidence> cost(String group, String setting, String method) {
    return e -> -e.last("length", group, setting, method);
  }

  static ToDoubleFunction<Evidence> cost(String setting, String method) {
    return cost("main", setting, method);
  }

  /** Median over the paper's losses of (on-policy minus offline) final reward in a bandit. */
  static double onMinusOff(Evidence e, String exp, String setting) {
    double[] d =
        Claims.PAPER_LOSSES.stream()
            .mapToDouble(
                l -> e.last(exp, "main", setting, l) - e.last(exp, "main", setting, "offline-" + l))
            .filter(x -> !Double.isNaN(x))
            .toArray();
    return d.length == 0 ? Double.NaN : Evidence.mean(d);
  }

  /**
   * How much a method loses going from its best of T = 1, 2, 4 to T = 8, in the group's metric
   * (higher better): negative when T = 8 is better still.
   */
  static double drop(Evidence e, String exp, String group, String method) {
    return bestSmallT(e, exp, group, method) - e.last(exp, group, "T8", method);
  }

  private static double bestSmallT(Evidence e, String exp, String group, String method) {
    double best = Double.NEGATIVE_INFINITY;
    for (String t : List.of("T1", "T2", "T4")) {
      best = Math.max(best, e.last(exp, group, t, method)); // NaN propagates
    }
    return best;
  }

  static double meanOver(
      Evidence e, String exp, String group, List<String> methods, String setting) {
    return Evidence.mean(
        methods.stream().mapToDouble(m -> e.last(exp, group, setting, m)).toArray());
  }

  static double meanBestSmallT(Evidence e, String exp, String group, List<String> methods) {
    return Evidence.mean(methods.stream().mapToDouble(m -> bestSmallT(e, exp, group, m)).toArray());
  }

  static double margin(Evidence e, String setting, String method) {
    return e.change("bandit", "prompts", setting, method, "logps/chosen")
        - e.change("bandit", "prompts", setting, method, "logps/rejected");
  }

  static double alpacaMargin(Evidence e, String method) {
    return e.fittedChange("alpaca", "offline", "default", method, "logps/chosen")
        - e.fittedChange("alpaca", "offline", "default", method, "logps/rejected");
  }

  static ToDoubleFunction<Evidence> chosen(String setting, String method) {
    return e -> e.change("bandit", "prompts", setting, method, "logps/chosen");
  }

  /** The best of {@code methods} by {@code value} (higher is better). */
  static ToDoubleFunction<Evidence> best(
      List<String> methods, Function<String, ToDoubleFunction<Evidence>> value) {
    return e ->
        methods.stream()
            .mapToDouble(m -> value.apply(m).applyAsDouble(e))
            .filter(x -> !Double.isNaN(x))
            .max()
            .orElse(Double.NaN);
  }

  /** The lowest gold cost of {@code methods} in a length setting. */
  static ToDoubleFunction<Evidence> lowestCost(List<String> methods, String setting) {
    return e ->
        methods.stream()
            .mapToDouble(m -> cost(setting, m).applyAsDouble(e))
            .filter(x -> !Double.isNaN(x))
            .min()
            .orElse(Double.NaN);
  }
}
