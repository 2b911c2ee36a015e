package ai.tilt.train;

import java.util.ArrayList;
import java.util.List;

/** Follows a trainer's optimizer steps for tests: the loss of each, in order. */
final class StepLosses {
  private StepLosses() {}

  /** A list that fills with the loss of every step {@code t} makes from now on. */
  static List<Double> follow(Trainer t) {
    List<Double> losses = new ArrayList<>();
    t.onStep((step, result) -> losses.add(result.loss()));
    return losses;
  }
}
