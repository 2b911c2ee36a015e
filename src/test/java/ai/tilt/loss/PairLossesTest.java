package ai.tilt.loss;

import static ai.tilt.loss.LossFixtures.allFinite;
import static ai.tilt.loss.LossFixtures.arr;
import static ai.tilt.loss.LossFixtures.close;
import static ai.tilt.loss.LossFixtures.closeArray;
import static ai.tilt.loss.LossFixtures.fails;
import static ai.tilt.loss.LossFixtures.gradient;
import static ai.tilt.loss.LossFixtures.metric;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

/**
 * DPO, IPO, hinge, SimPO and ORPO on one batch of G = 2 pairs, values worked by hand:
 *
 * <pre>
 *   policy    (-5, -9), (-7, -4)     ratios pi - ref: (1, -1), (-1, 2)
 *   reference (-6, -8), (-6, -6)     h = (1 - -1) = 2 and (-1 - 2) = -3
 *   lengths   ( 2,  3), ( 4,  2)     means pi / len: (-2.5, -3), (-1.75, -2)
 * </pre>
 *
 * softplus(x) = log(1 + e^x) throughout; -log sigmoid(z) = softplus(-z).
 */
class PairLossesTest {
  static final double[] PI = {-5, -9, -7, -4};
  static final double[] REF = {-6, -8, -6, -6};
  static final double[] LEN = {2, 3, 4, 2};

  static Responses pairs(NDManager m, NDArray policy) {
    return Responses.of(policy, arr(m, 2, 2, REF), arr(m, 2, 2, LEN), arr(m, 2, 2, 1, 0, 1, 0));
  }

  @Test
  void dpoValuesMetricsAndGradientSigns() {
    try (NDManager m = LossFixtures.manager()) {
      Dpo dpo = new Dpo(null, null); // beta 0.1
      LossOutput out = dpo.compute(pairs(m, arr(m, 2, 2, PI)));
      // beta h = 0.2: softplus(-0.2) = log(1 + e^-0.2) = 0.598139
      // beta h = -0.3: softplus(0.3) = log(1 + e^0.3) = 0.854355
      close(out.perGroup(), 0.598139, 0.854355);
      metric(out, "rewards/chosen", 0.1, -0.1); // 0.1 * 1, 0.1 * -1
      metric(out, "rewards/rejected", -0.1, 0.2); // 0.1 * -1, 0.1 * 2
      metric(out, "rewards/margins", 0.2, -0.3);
      metric(out, "rewards/accuracies", 1, 0);
      metric(out, "logps/chosen", -5, -7);
      metric(out, "logps/rejected", -9, -4);
      // d/d pi_c = -beta sigmoid(-beta h): -0.1 * sigmoid(-0.2) = -0.1 * 0.450166 = -0.0450166,
      // -0.1 * sigmoid(0.3) = -0.1 * 0.574443 = -0.0574443; d/d pi_r is the opposite
      float[] g = gradient(arr(m, 2, 2, PI), p -> dpo.compute(pairs(m, p)));
      closeArray(g, -0.0450166, 0.0450166, -0.0574443, 0.0574443);
    }
  }

  @Test
  void dpoAtInitialisationHasHalfTheLogisticSlope() {
    try (NDManager m = LossFixtures.manager()) {
      // policy == reference (the first step): h = 0, loss = log 2 = 0.693147, and the slope is
      // beta * sigmoid(0) = 0.05 exactly, not the 0 or 0.1 a kinked min/abs/relu form would give
      Dpo dpo = new Dpo(0.1, null);
      NDArray ref = arr(m, 1, 2, -3, -4);
      Responses r = Responses.of(arr(m, 1, 2, -3, -4), ref, null, null);
      close(dpo.compute(r).perGroup(), 0.693147);
      float[] g =
          gradient(arr(m, 1, 2, -3, -4), p -> dpo.compute(Responses.of(p, ref, null, null)));
      closeArray(g, -0.05, 0.05);
    }
  }

  @Test
  void dpoLabelSmoothing() {
    try (NDManager m = LossFixtures.manager()) {
      Dpo dpo = new Dpo(0.1, 0.1);
      LossOutput out = dpo.compute(pairs(m, arr(m, 2, 2, PI)));
      // 0.9 softplus(-0.2) + 0.1 softplus(0.2) = 0.9 * 0.598139 + 0.1 * 0.798139 = 0.618139
      // 0.9 softplus(0.3) + 0.1 softplus(-0.3) = 0.9 * 0.854355 + 0.1 * 0.554355 = 0.824355
      close(out.perGroup(), 0.618139, 0.824355);
      // d/d pi_c = 0.1 * (-0.9 sigmoid(-z) + 0.1 sigmoid(z)): z = 0.2: 0.1 * (-0.405149 + 0.054983)
      // = -0.0350166; z = -0.3: 0.1 * (-0.516998 + 0.042556) = -0.0474443
      float[] g = gradient(arr(m, 2, 2, PI), p -> dpo.compute(pairs(m, p)));
      closeArray(g, -0.0350166, 0.0350166, -0.0474443, 0.0474443);
    }
  }

  @Test
  void hugeMarginsGiveFiniteLossesAndGradients() {
    try (NDManager m = LossFixtures.manager()) {
      // beta h = +2000 (solved: loss 0, no gradient) and -2000 (loss 2000, slope -1 / +1),
      // and +-1e30 where a naive log(1 + exp(x)) overflows to inf
      Dpo dpo = new Dpo(1.0, null);
      NDArray ref = arr(m, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0);
      double[] pi = {0, -2000, -2000, 0, 0, -1e30, -1e30, 0};
      LossOutput out = dpo.compute(Responses.of(arr(m, 4, 2, pi), ref, null, null));
      close(out.perGroup(), 0, 2000, 0, 1e30);
      float[] g = gradient(arr(m, 4, 2, pi), p -> dpo.compute(Responses.of(p, ref, null, null)));
      allFinite(g);
      closeArray(g, 0, 0, -1, 1, 0, 0, -1, 1);
      // the same through SimPO's smoothed logistic loss (both tails are evaluated)
      Simpo simpo = new Simpo(2.0, 0.5, 0.1);
      NDArray len = arr(m, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1);
      allFinite(gradient(arr(m, 4, 2, pi), p -> simpo.compute(Responses.of(p, null, len, null))));
    }
  }

  @Test
  void ipoRegressesOntoOneOverTwoTau() {
    try (NDManager m = LossFixtures.manager()) {
      Ipo ipo = new Ipo(null, null); // tau = beta = 0.1: target 1 / (2 * 0.1) = 5
      LossOutput out = ipo.compute(pairs(m, arr(m, 2, 2, PI)));
      close(out.perGroup(), 9, 64); // (2 - 5)^2, (-3 - 5)^2
      metric(out, "rewards/margins", 0.2, -0.3);
      // d/d pi_c = 2 (h - 5) = -6, -16; d/d pi_r = +6, +16
      closeArray(gradient(arr(m, 2, 2, PI), p -> ipo.compute(pairs(m, p))), -6, 6, -16, 16);
      // length-normalised (TRL): ratios (-5/2 - -6/2, -9/3 - -8/3) = (0.5, -0.333333),
      // (-7/4 - -6/4, -4/2 - -6/2) = (-0.25, 1); h = 0.833333, -1.25;
      // (0.833333 - 5)^2 = 17.361111, (-1.25 - 5)^2 = 39.0625
      LossOutput norm = new Ipo(0.1, true).compute(pairs(m, arr(m, 2, 2, PI)));
      close(norm.perGroup(), 17.361111, 39.0625);
      metric(norm, "rewards/chosen", 0.05, -0.025);
      metric(norm, "logps/chosen", -2.5, -1.75);
    }
  }

  @Test
  void hingeStopsAtTheMargin() {
    try (NDManager m = LossFixtures.manager()) {
      // beta 0.1: max(0, 1 - 0.2) = 0.8, max(0, 1 + 0.3) = 1.3
      close(new Hinge(null).compute(pairs(m, arr(m, 2, 2, PI))).perGroup(), 0.8, 1.3);
      // beta 1: max(0, 1 - 2) = 0 (margin met: no gradient), max(0, 1 + 3) = 4 (slope -1 / +1)
      Hinge hinge = new Hinge(1.0);
      LossOutput out = hinge.compute(pairs(m, arr(m, 2, 2, PI)));
      close(out.perGroup(), 0, 4);
      metric(out, "rewards/accuracies", 1, 0);
      closeArray(gradient(arr(m, 2, 2, PI), p -> hinge.compute(pairs(m, p))), 0, 0, -1, 1);
    }
  }

  @Test
  void simpoIsReferenceFreeAndLengthNormalised() {
    try (NDManager m = LossFixtures.manager()) {
      Simpo simpo = new Simpo(null, null, null); // beta 2, gamma 0.5
      assertFalse(simpo.needsReference());
      Responses noRef = Responses.of(arr(m, 2, 2, PI), null, arr(m, 2, 2, LEN), null);
      LossOutput out = simpo.compute(noRef);
      // z = 2 (-2.5 - -3) - 0.5 = 0.5: softplus(-0.5) = 0.474077
      // z = 2 (-1.75 - -2) - 0.5 = 0: softplus(0) = log 2 = 0.693147
      close(out.perGroup(), 0.474077, 0.693147);
      metric(out, "rewards/chosen", -5, -3.5); // TRL: beta * mean log-prob
      metric(out, "rewards/rejected", -6, -4);
      metric(out, "rewards/margins", 1, 0.5);
      metric(out, "rewards/accuracies", 1, 1);
      metric(out, "logps/chosen", -2.5, -1.75);
      // d/d pi_c = -(beta / len_c) sigmoid(-z): -(2/2) * sigmoid(-0.5) = -0.377541,
      // -(2/4) * sigmoid(0) = -0.25; d/d pi_r = +(beta / len_r) sigmoid(-z): (2/3) * 0.377541
      // = 0.251694, (2/2) * 0.5 = 0.5
      NDArray len = arr(m, 2, 2, LEN);
      float[] g = gradient(arr(m, 2, 2, PI), p -> simpo.compute(Responses.of(p, null, len, null)));
      closeArray(g, -0.377541, 0.251694, -0.25, 0.5);
      // label smoothing 0.1: 0.9 * 0.474077 + 0.1 * softplus(0.5) = 0.426669 + 0.097408 = 0.524077
      close(new Simpo(2.0, 0.5, 0.1).compute(noRef).perGroup(), 0.524077, 0.693147);
    }
  }

  @Test
  void orpoAddsTheOddsRatioToTheChosenNll() {
    try (NDManager m = LossFixtures.manager()) {
      Orpo orpo = new Orpo(null); // lambda = beta = 0.1
      Responses r = Responses.of(arr(m, 2, 2, PI), null, arr(m, 2, 2, LEN), null);
      LossOutput out = orpo.compute(r);
      // log odds(a) = a - log(1 - e^a):
      //   a = -2.5: -2.5 - log(1 - 0.082085) = -2.5 + 0.085650 = -2.414350
      //   a = -3: -3 - log(1 - 0.049787) = -3 + 0.051069 = -2.948931
      //   a = -1.75: -1.75 - log(1 - 0.173774) = -1.75 + 0.190887 = -1.559113
      //   a = -2: -2 - log(1 - 0.135335) = -2 + 0.145413 = -1.854587
      // differences 0.534581, 0.295473; log sigmoid: -0.461161, -0.556284
      // loss = -a_c - 0.1 log sigmoid: 2.5 + 0.046116 = 2.546116, 1.75 + 0.055628 = 1.805628
      close(out.perGroup(), 2.546116, 1.805628);
      metric(out, "nll_loss", 2.5, 1.75);
      metric(out, "log_odds_chosen", 0.534581, 0.295473);
      metric(out, "log_odds_ratio", -0.461161, -0.556284);
      metric(out, "rewards/chosen", -0.25, -0.175); // beta * mean log-prob (TRL)
      metric(out, "rewards/accuracies", 1, 1);
      // d log odds / da = 1 / (1 - e^a); d/d pi_c = (-1 - 0.1 sigmoid(-d) / (1 - e^a_c)) / len_c:
      // (-1 - 0.1 * 0.369449 / 0.917915) / 2 = -0.520124; group 2: -0.262910;
      // d/d pi_r = 0.1 sigmoid(-d) / (1 - e^a_r) / len_r = 0.012960, 0.024672
      NDArray len = arr(m, 2, 2, LEN);
      float[] g = gradient(arr(m, 2, 2, PI), p -> orpo.compute(Responses.of(p, null, len, null)));
      closeArray(g, -0.520124, 0.012960, -0.262910, 0.024672);
      // a response the model is certain of (a = 0) is guarded: finite loss and gradient
      NDArray one = arr(m, 1, 2, 1, 1);
      LossOutput sure = orpo.compute(Responses.of(arr(m, 1, 2, 0, -3), null, one, null));
      assertTrue(Float.isFinite(sure.perGroup().getFloat(0)));
      allFinite(gradient(arr(m, 1, 2, 0, -3), p -> orpo.compute(Responses.of(p, null, one, null))));
    }
  }

  @Test
  void shapesAndInputsAreChecked() {
    try (NDManager m = LossFixtures.manager()) {
      NDArray three = arr(m, 1, 3, -1, -2, -3);
      fails(
          () -> new Dpo(null, null).compute(Responses.of(three, three, null, null)),
          "dpo",
          "N = 2",
          "(1, 3)");
      fails(
          () -> new Dpo(null, null).compute(Responses.of(arr(m, 2, 2, PI), null, null, null)),
          "dpo",
          "reference");
      fails(
          () ->
              new Ipo(null, null)
                  .compute(Responses.of(arr(m, 2, 2, PI), arr(m, 1, 2, 0, 0), null, null)),
          "ipo",
          "reference",
          "(2, 2)",
          "(1, 2)");
      fails(
          () ->
              new Ipo(0.1, true)
                  .compute(Responses.of(arr(m, 2, 2, PI), arr(m, 2, 2, REF), null, null)),
          "ipo",
          "lengths");
      NDArray zeroLength = arr(m, 1, 2, 0, 3);
      fails(
          () ->
              new Simpo(null, null, null)
                  .compute(Responses.of(arr(m, 1, 2, -1, -2), null, zeroLength, null)),
          "simpo",
          "length",
          ">= 1");
      fails(
          () ->
              new Hinge(null)
                  .compute(Responses.of(m.create(new float[] {-1, -2}), null, null, null)),
          "hinge",
          "(G, N)");
      fails(() -> new Dpo(0.0, null), "loss.beta must be > 0");
      fails(() -> new Dpo(0.1, 0.7), "loss.label_smoothing", "[0, 0.5]");
      fails(() -> new Simpo(2.0, -1.0, null), "loss.gamma must be >= 0");
      fails(() -> new Orpo(-0.1), "loss.beta");
      assertEquals(GroupLoss.Grouping.PAIRS, new Orpo(null).grouping());
      assertFalse(new Orpo(null).needsKlBatch());
    }
  }
}
