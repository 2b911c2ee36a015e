package ai.tilt.loss;

import static ai.tilt.loss.LossFixtures.arr;
import static ai.tilt.loss.LossFixtures.close;
import static ai.tilt.loss.LossFixtures.closeArray;
import static ai.tilt.loss.LossFixtures.fails;
import static ai.tilt.loss.LossFixtures.gradient;
import static ai.tilt.loss.LossFixtures.metric;
import static ai.tilt.loss.LossFixtures.vec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/** Bradley-Terry on scores (1.5, 0.5) and (-1, 2): differences 1 and -3, margins 0.5 and 1. */
class RewardModelLossTest {
  static final double[] SCORES = {1.5, 0.5, -1, 2};

  @Test
  void logisticLossOnScoreDifferences() {
    try (NDManager m = LossFixtures.manager()) {
      RewardModelLoss rm = new RewardModelLoss(null, null);
      LossOutput out = rm.compute(arr(m, 2, 2, SCORES), null);
      assertEquals(new Shape(2), out.perGroup().getShape()); // one loss per pair
      // softplus(-1) = log(1 + e^-1) = 0.313262; softplus(3) = 3.048587
      close(out.perGroup(), 0.313262, 3.048587);
      metric(out, "rewards/chosen", 1.5, -1);
      metric(out, "rewards/rejected", 0.5, 2);
      metric(out, "rewards/margins", 1, -3);
      metric(out, "rewards/accuracies", 1, 0);
      // d/d s_c = -sigmoid(-(s_c - s_r)) = -0.268941, -0.952574; d/d s_r the opposite
      closeArray(
          gradient(arr(m, 2, 2, SCORES), s -> rm.compute(s, null)),
          -0.268941,
          0.268941,
          -0.952574,
          0.952574);
    }
  }

  @Test
  void marginAndCentring() {
    try (NDManager m = LossFixtures.manager()) {
      NDArray margins = vec(m, 0.5, 1);
      // margin: softplus(-(1 - 0.5)) = 0.474077, softplus(-(-3 - 1)) = softplus(4) = 4.018150
      close(
          new RewardModelLoss(true, null).compute(arr(m, 2, 2, SCORES), margins).perGroup(),
          0.474077,
          4.018150);
      // without the flag the margins are ignored
      close(
          new RewardModelLoss(false, null).compute(arr(m, 2, 2, SCORES), margins).perGroup(),
          0.313262,
          3.048587);
      // centring 0.01: + 0.01 (1.5 + 0.5)^2 = 0.04 and + 0.01 (-1 + 2)^2 = 0.01
      RewardModelLoss centred = new RewardModelLoss(null, 0.01);
      close(centred.compute(arr(m, 2, 2, SCORES), null).perGroup(), 0.353262, 3.058587);
      // its gradient adds 2 * 0.01 * (s_c + s_r) = 0.04, 0.02 to both scores:
      // -0.268941 + 0.04 = -0.228941, 0.268941 + 0.04 = 0.308941, -0.952574 + 0.02, 0.952574 + 0.02
      closeArray(
          gradient(arr(m, 2, 2, SCORES), s -> centred.compute(s, null)),
          -0.228941,
          0.308941,
          -0.932574,
          0.972574);
      // huge differences stay finite
      NDArray huge =
          new RewardModelLoss(null, null).compute(arr(m, 1, 2, -500, 500), null).perGroup();
      assertTrue(Float.isFinite(huge.getFloat(0)), "softplus(1000) overflowed");
      close(huge, 1000);
    }
  }

  @Test
  void inputsAndParametersAreChecked() {
    try (NDManager m = LossFixtures.manager()) {
      fails(
          () -> new RewardModelLoss(null, null).compute(arr(m, 1, 3, 1, 2, 3), null),
          "reward_model",
          "(G, 2)");
      fails(
          () -> new RewardModelLoss(true, null).compute(arr(m, 2, 2, SCORES), null),
          "reward_model",
          "margin");
      fails(
          () -> new RewardModelLoss(true, null).compute(arr(m, 2, 2, SCORES), vec(m, 1, 2, 3)),
          "margins",
          "(2)");
      fails(() -> new RewardModelLoss(null, -0.1), "loss.center_rewards_coefficient must be >= 0");
    }
  }
}
