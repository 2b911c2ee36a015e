package ai.tilt.loss;

import static ai.tilt.loss.LossFixtures.arr;
import static ai.tilt.loss.LossFixtures.close;
import static ai.tilt.loss.LossFixtures.closeArray;
import static ai.tilt.loss.LossFixtures.fails;
import static ai.tilt.loss.LossFixtures.metric;
import static ai.tilt.loss.LossFixtures.vec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

/**
 * KTO on G = 3 single responses:
 *
 * <pre>
 *   policy (-5, -7, -3), reference (-6, -6, -5): r = pi - ref = (1, -1, 2)
 *   labels (1, 0, 1)
 *   KL batch: policy (-10, -12, -11), reference (-11, -11, -13): differences (1, -1, 2),
 *   mean 2/3, so z = max(0, 0.666667) = 0.666667
 * </pre>
 */
class KtoTest {
  static Responses batch(NDManager m, NDArray policy, NDArray klPolicy) {
    return new Responses(
        policy,
        arr(m, 3, 1, -6, -6, -5),
        null,
        arr(m, 3, 1, 1, 0, 1),
        klPolicy,
        vec(m, -11, -11, -13));
  }

  @Test
  void valuesMetricsAndGradients() {
    try (NDManager m = LossFixtures.manager()) {
      Kto kto = new Kto(null, null, null); // beta 0.1, weights 1, 1
      LossOutput out = kto.compute(batch(m, arr(m, 3, 1, -5, -7, -3), vec(m, -10, -12, -11)));
      // desirable:   1 - sigmoid(0.1 (1 - 0.666667)) = 1 - sigmoid(0.033333) = 0.491667
      // undesirable: 1 - sigmoid(0.1 (0.666667 - -1)) = 1 - sigmoid(0.166667) = 0.458430
      // desirable:   1 - sigmoid(0.1 (2 - 0.666667)) = 1 - sigmoid(0.133333) = 0.466716
      close(out.perGroup(), 0.491667, 0.458430, 0.466716);
      metric(out, "rewards/chosen_sum", 0.1, 0, 0.2); // label * beta r
      metric(out, "rewards/rejected_sum", 0, -0.1, 0);
      metric(out, "logps/chosen_sum", -5, 0, -3);
      metric(out, "logps/rejected_sum", 0, -7, 0);
      metric(out, "count/chosen", 1, 0, 1);
      metric(out, "count/rejected", 0, 1, 0);
      metric(out, "kl", 0.666667, 0.666667, 0.666667);
      // rewards/chosen over the batch = mean(chosen_sum) / mean(count) = (0.3 / 3) / (2 / 3) = 0.15

      // undesirable weight 2 doubles row 2 only: 2 * 0.458430 = 0.916859
      Kto weighted = new Kto(0.1, 1.0, 2.0);
      close(
          weighted.compute(batch(m, arr(m, 3, 1, -5, -7, -3), vec(m, -10, -12, -11))).perGroup(),
          0.491667,
          0.916859,
          0.466716);

      // gradients: with s = sigmoid(beta (r - z)), desirable rows get -w_D beta s (1 - s) (raising
      // them lowers the loss), undesirable rows +w_U beta s (1 - s):
      //   s = sigmoid(0.033333) = 0.508333: -0.1 * 0.508333 * 0.491667 = -0.0249931
      //   s = sigmoid(-0.166667) = 0.458430: 2 * 0.1 * 0.458430 * 0.541570 = 0.0496544
      //   s = sigmoid(0.133333) = 0.533284: -0.1 * 0.533284 * 0.466716 = -0.0248892
      // and none reaches the KL batch, which only sets the reference point
      NDArray policy = arr(m, 3, 1, -5, -7, -3);
      NDArray klPolicy = vec(m, -10, -12, -11);
      policy.setRequiresGradient(true);
      klPolicy.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        gc.backward(weighted.compute(batch(m, policy, klPolicy)).perGroup().sum());
      }
      closeArray(policy.getGradient().toFloatArray(), -0.0249931, 0.0496544, -0.0248892);
      closeArray(klPolicy.getGradient().toFloatArray(), 0, 0, 0);
    }
  }

  @Test
  void negativeKlEstimateIsClampedToZero() {
    try (NDManager m = LossFixtures.manager()) {
      // KL policy (-12, -12, -12): differences (-1, -1, 1), mean -1/3 -> z = 0
      // losses 1 - sigmoid(0.1), 1 - sigmoid(0.1), 1 - sigmoid(0.2) = 0.475021, 0.475021, 0.450166
      LossOutput out =
          new Kto(null, null, null)
              .compute(batch(m, arr(m, 3, 1, -5, -7, -3), vec(m, -12, -12, -12)));
      close(out.perGroup(), 0.475021, 0.475021, 0.450166);
      metric(out, "kl", 0, 0, 0);
    }
  }

  @Test
  void inputsAndParametersAreChecked() {
    try (NDManager m = LossFixtures.manager()) {
      Kto kto = new Kto(null, null, null);
      assertEquals(GroupLoss.Grouping.LABELLED, kto.grouping());
      assertTrue(kto.needsKlBatch());
      NDArray pi = arr(m, 3, 1, -5, -7, -3);
      NDArray ref = arr(m, 3, 1, -6, -6, -5);
      fails(
          () -> kto.compute(Responses.of(pi, ref, null, arr(m, 3, 1, 1, 0, 1))), "kto", "klPolicy");
      fails(
          () ->
              kto.compute(
                  new Responses(
                      pi, ref, null, arr(m, 3, 1, 1, 0.5, 1), vec(m, 0, 0, 0), vec(m, 0, 0, 0))),
          "kto",
          "label",
          "0.5");
      fails(
          () ->
              kto.compute(
                  new Responses(pi, ref, null, arr(m, 3, 1, 1, 0, 1), vec(m, 0, 0), vec(m, 0, 0))),
          "kto",
          "klPolicy",
          "(3)");
      NDArray two = arr(m, 1, 2, -1, -2);
      fails(
          () -> kto.compute(new Responses(two, two, null, two, vec(m, 0), vec(m, 0))),
          "kto",
          "N = 1");
      fails(() -> new Kto(0.1, -1.0, 1.0), "loss.desirable_weight must be >= 0");
      fails(() -> new Kto(0.1, 0.0, 0.0), "loss.desirable_weight", "loss.undesirable_weight");
    }
  }
}
