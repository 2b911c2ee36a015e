package ai.tilt.loss;

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
 * Pref-FT, RWR, Best-of-N and Best-of-N with a negative gradient on G = 2 groups of N = 3:
 *
 * <pre>
 *   policy  (-2, -4, -6), (-1, -3, -5)
 *   rewards ( 1,  0, -1), ( 5,  0,  2)   (RWR)
 *           ( 1,  3,  3), ( 0,  0,  0)   (Best-of-N: ties)
 * </pre>
 */
class ListLossesTest {
  static final double[] PI = {-2, -4, -6, -1, -3, -5};
  static final double[] RWR_REWARDS = {1, 0, -1, 5, 0, 2};
  static final double[] TIED = {1, 3, 3, 0, 0, 0};

  @Test
  void prefFtTrainsOnlyTheChosenColumn() {
    try (NDManager m = LossFixtures.manager()) {
      PrefFt ft = new PrefFt(null);
      NDArray pairs = arr(m, 2, 2, -5, -9, -7, -4);
      LossOutput out = ft.compute(Responses.of(pairs, null, null, null));
      close(out.perGroup(), 5, 7); // -pi_c
      metric(out, "logps/chosen", -5, -7);
      metric(out, "logps/rejected", -9, -4); // monitored, not trained
      closeArray(
          gradient(
              arr(m, 2, 2, -5, -9, -7, -4), p -> ft.compute(Responses.of(p, null, null, null))),
          -1,
          0,
          -1,
          0);
      // token mean: -(-5 / 2) = 2.5, -(-7 / 4) = 1.75
      NDArray len = arr(m, 2, 2, 2, 3, 4, 2);
      close(new PrefFt(true).compute(Responses.of(pairs, null, len, null)).perGroup(), 2.5, 1.75);
      // N = 1 works too (column 0), without logps/rejected
      LossOutput single = ft.compute(Responses.of(arr(m, 2, 1, -5, -7), null, null, null));
      close(single.perGroup(), 5, 7);
      assertFalse(single.metrics().containsKey("logps/rejected"));
    }
  }

  @Test
  void rwrWeightsByClampedExponentiatedReward() {
    try (NDManager m = LossFixtures.manager()) {
      Rwr rwr = new Rwr(null, null, null); // tau 1, max weight 20
      NDArray rewards = arr(m, 2, 3, RWR_REWARDS);
      LossOutput out = rwr.compute(Responses.of(arr(m, 2, 3, PI), null, null, rewards));
      // w = (e, 1, 1/e) = (2.718282, 1, 0.367879); (min(e^5 = 148.4, 20) = 20, 1, e^2 = 7.389056)
      // loss = mean(w * -pi): (2.718282 * 2 + 4 + 0.367879 * 6) / 3 = 11.643840 / 3 = 3.881280
      //                        (20 * 1 + 1 * 3 + 7.389056 * 5) / 3 = 59.945280 / 3 = 19.981760
      close(out.perGroup(), 3.881280, 19.981760);
      metric(
          out,
          "weights/mean",
          1.362054,
          9.463019); // (2.718282 + 1 + 0.367879) / 3, (20 + 1 + 7.389056) / 3
      metric(out, "weights/max", 2.718282, 20);
      metric(out, "rewards/mean", 0, 2.333333);
      metric(out, "rewards/max", 1, 5);
      metric(out, "logps/mean", -4, -3);
      metric(out, "logps/best", -2, -1);
      // d/d pi_i = -w_i / N; every weight is positive, so no response is pushed down
      float[] g =
          gradient(arr(m, 2, 3, PI), p -> rwr.compute(Responses.of(p, null, null, rewards)));
      closeArray(g, -0.906094, -0.333333, -0.122626, -6.666667, -0.333333, -2.463019);
      // tau 2: w = (e^0.5, 1, e^-0.5) = (1.648721, 1, 0.606531); (e^2.5 = 12.182494, 1, e)
      // (3.297443 + 4 + 3.639184) / 3 = 3.645542; (12.182494 + 3 + 13.591409) / 3 = 9.591301
      close(
          new Rwr(2.0, 20.0, false)
              .compute(Responses.of(arr(m, 2, 3, PI), null, null, rewards))
              .perGroup(),
          3.645542,
          9.591301);
      // length-normalised, lengths (1, 2, 3), (1, 1, 5): (2.718282 * 2 + 1 * 2 + 0.367879 * 2) / 3
      // = 2.724108; (20 * 1 + 1 * 3 + 7.389056 * 1) / 3 = 10.129685
      NDArray len = arr(m, 2, 3, 1, 2, 3, 1, 1, 5);
      close(
          new Rwr(1.0, 20.0, true)
              .compute(Responses.of(arr(m, 2, 3, PI), null, len, rewards))
              .perGroup(),
          2.724108,
          10.129685);
      // a huge reward saturates at max_weight instead of overflowing
      close(
          rwr.compute(Responses.of(arr(m, 1, 1, -2), null, null, arr(m, 1, 1, 1e6))).perGroup(),
          40);
    }
  }

  @Test
  void bestOfNImitatesTheTopKWithTiesToTheLowerColumn() {
    try (NDManager m = LossFixtures.manager()) {
      NDArray tied = arr(m, 2, 3, TIED);
      BestOfN best = new BestOfN(null); // k = 1
      LossOutput out = best.compute(Responses.of(arr(m, 2, 3, PI), null, null, tied));
      // group 1: rewards (1, 3, 3), columns 1 and 2 tie: column 1, loss 4
      // group 2: all tied: column 0, loss 1
      close(out.perGroup(), 4, 1);
      metric(out, "logps/selected", -4, -1);
      metric(out, "logps/best", -4, -1);
      closeArray(
          gradient(arr(m, 2, 3, PI), p -> best.compute(Responses.of(p, null, null, tied))),
          0,
          -1,
          0,
          -1,
          0,
          0);
      // k = 2: columns (1, 2): (4 + 6) / 2 = 5; columns (0, 1): (1 + 3) / 2 = 2
      BestOfN two = new BestOfN(2);
      close(two.compute(Responses.of(arr(m, 2, 3, PI), null, null, tied)).perGroup(), 5, 2);
      closeArray(
          gradient(arr(m, 2, 3, PI), p -> two.compute(Responses.of(p, null, null, tied))),
          0,
          -0.5,
          -0.5,
          -0.5,
          -0.5,
          0);
      fails(
          () -> new BestOfN(4).compute(Responses.of(arr(m, 2, 3, PI), null, null, tied)),
          "best_of_n",
          "N >= 4");
      fails(
          () -> best.compute(Responses.of(arr(m, 2, 3, PI), null, null, null)),
          "best_of_n",
          "rewards");
      fails(
          () ->
              best.compute(
                  Responses.of(arr(m, 1, 2, -1, -2), null, null, arr(m, 1, 2, 0, Double.NaN))),
          "best_of_n",
          "finite");
      fails(() -> new BestOfN(0), "loss.k must be >= 1");
    }
  }

  @Test
  void bestOfNNegPushesTheWorseResponsesDown() {
    try (NDManager m = LossFixtures.manager()) {
      NDArray tied = arr(m, 2, 3, TIED);
      BestOfNNeg neg = new BestOfNNeg(null, null, null); // k 1, beta 0.1
      assertFalse(neg.needsReference());
      LossOutput out = neg.compute(Responses.of(arr(m, 2, 3, PI), null, null, tied));
      // group 1: best column 1: 4 + 0.1 * mean(-2, -6) = 4 - 0.4 = 3.6
      // group 2: best column 0: 1 + 0.1 * mean(-3, -5) = 1 - 0.4 = 0.6
      close(out.perGroup(), 3.6, 0.6);
      metric(out, "logps/selected", -4, -1);
      metric(out, "logps/worse", -4, -4);
      // the best gets -1, each worse response +beta / (N - k) = +0.05: a negative gradient
      closeArray(
          gradient(arr(m, 2, 3, PI), p -> neg.compute(Responses.of(p, null, null, tied))),
          0.05,
          -1,
          0.05,
          -1,
          0.05,
          0.05);

      // constrained: reference (-3, -3, -3), (-2, -2, -2): worse terms mean(1, -3) = -1 and
      // mean(-1, -3) = -2: 4 - 0.1 = 3.9, 1 - 0.2 = 0.8; same gradient
      BestOfNNeg constrained = new BestOfNNeg(1, 0.1, true);
      assertTrue(constrained.needsReference());
      NDArray ref = arr(m, 2, 3, -3, -3, -3, -2, -2, -2);
      close(
          constrained.compute(Responses.of(arr(m, 2, 3, PI), ref, null, tied)).perGroup(),
          3.9,
          0.8);
      closeArray(
          gradient(arr(m, 2, 3, PI), p -> constrained.compute(Responses.of(p, ref, null, tied))),
          0.05,
          -1,
          0.05,
          -1,
          0.05,
          0.05);
      fails(
          () -> constrained.compute(Responses.of(arr(m, 2, 3, PI), null, null, tied)),
          "best_of_n_neg",
          "reference");
      // at least one worse response is needed
      fails(
          () ->
              new BestOfNNeg(3, 0.1, false)
                  .compute(Responses.of(arr(m, 2, 3, PI), null, null, tied)),
          "best_of_n_neg",
          "N >= 4");
      assertEquals(GroupLoss.Grouping.LISTS, neg.grouping());
    }
  }
}
