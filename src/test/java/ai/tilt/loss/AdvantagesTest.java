package ai.tilt.loss;

import static ai.tilt.loss.LossFixtures.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** Baselines, leave-one-out, group normalisation, GAE and KL-in-reward against hand arithmetic. */
class AdvantagesTest {
  static final double TOL = 1e-6;

  static void close(double[] actual, double... expected) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(
          expected[i], actual[i], TOL * Math.max(1, Math.abs(expected[i])), "element " + i);
    }
  }

  static void close(float[] actual, double... expected) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(
          expected[i], actual[i], 1e-5 * Math.max(1, Math.abs(expected[i])), "element " + i);
    }
  }

  @Test
  void batchMeanAndClip() {
    close(Advantages.batchMean(new double[] {1, 2, 6}), -2, -1, 3); // mean 3
    close(Advantages.clip(new double[] {-12, 3, 10, 10.5}, 10), -10, 3, 10, 10);
    fails(() -> Advantages.clip(new double[] {1}, 0), "clip must be > 0");
    fails(() -> Advantages.batchMean(new double[] {1, Double.NaN}), "finite");
  }

  @Test
  void baselinesCarryAcrossBatches() throws Exception {
    Advantages.Baseline b = Advantages.Baseline.INITIAL;
    assertFalse(b.initialised());
    // ema, decay 0.9: the first batch [1, 3] sets b to its mean 2; then [4, 6] (mean 5):
    // 0.9 * 2 + 0.1 * 5 = 2.3, advantages [4 - 2.3, 6 - 2.3] = [1.7, 3.7]
    Advantages.Baseline e1 = b.update(new double[] {1, 3}, 0.9);
    assertTrue(e1.initialised());
    assertEquals(2, e1.value(), TOL);
    Advantages.Baseline e2 = e1.update(new double[] {4, 6}, 0.9);
    assertEquals(2.3, e2.value(), TOL);
    assertEquals(4, e2.count());
    close(e2.advantages(new double[] {4, 6}), 1.7, 3.7);
    // running mean (the paper's moving_average): [1, 3] -> 2; then [4, 6, 8]: (1 + 3 + 4 + 6 + 8) /
    // 5 = 4.4
    Advantages.Baseline m2 = b.accumulate(new double[] {1, 3}).accumulate(new double[] {4, 6, 8});
    assertEquals(4.4, m2.value(), TOL);
    assertEquals(5, m2.count());
    // a checkpoint stores the plain fields and restores the same state
    ObjectMapper json = new ObjectMapper();
    assertEquals(m2, json.readValue(json.writeValueAsString(m2), Advantages.Baseline.class));
    fails(() -> b.update(new double[] {1}, 1.0), "decay must be in [0, 1)");
    fails(() -> b.accumulate(new double[0]), "empty batch");
  }

  @Test
  void reinforceRecordChoosesItsBaseline() {
    Advantages.Baseline b = Advantages.Baseline.INITIAL;
    Reinforce moving = new Reinforce(null, null, null, null, null);
    // baseline 2 (mean of [1, 3]) -> [-1, 1]; then 4.4 (as above) -> [-0.4, 1.6, 3.6]
    Reinforce.Step s1 = moving.advantages(new double[] {1, 3}, b);
    close(s1.advantages(), -1, 1);
    Reinforce.Step s2 = moving.advantages(new double[] {4, 6, 8}, s1.baseline());
    close(s2.advantages(), -0.4, 1.6, 3.6);
    assertEquals(5, s2.baseline().count());
    Reinforce.Step e =
        new Reinforce(Reinforce.BaselineType.EMA, 0.9, null, null, null)
            .advantages(new double[] {4, 6}, s1.baseline());
    close(e.advantages(), 1.7, 3.7); // 0.9 * 2 + 0.1 * 5 = 2.3
    Reinforce.Step bm =
        new Reinforce(Reinforce.BaselineType.BATCH_MEAN, null, null, null, null)
            .advantages(new double[] {4, 6}, b);
    close(bm.advantages(), -1, 1);
    assertEquals(b, bm.baseline());
    close(
        new Reinforce(Reinforce.BaselineType.NONE, null, null, null, null)
            .advantages(new double[] {4, 6}, b)
            .advantages(),
        4,
        6);
  }

  @Test
  void leaveOneOut() {
    // [1, 2, 4]: baselines [(2 + 4) / 2, (1 + 4) / 2, (1 + 2) / 2] = [3, 2.5, 1.5] -> [-2, -0.5,
    // 2.5]
    // [3, 1]: baselines [1, 3] -> [2, -2]; [5, 5] -> [0, 0]
    double[][] a = Advantages.rloo(new double[][] {{1, 2, 4}, {3, 1}, {5, 5}});
    close(a[0], -2, -0.5, 2.5);
    close(a[1], 2, -2);
    close(a[2], 0, 0);
    // C / (C - 1) (r - mean): 3 / 2 (1 - 7 / 3) = -2
    assertEquals(-2, 1.5 * (1 - 7.0 / 3), TOL);
    close(new Rloo(null, null, null).advantages(new double[][] {{1, 2, 4}})[0], -2, -0.5, 2.5);
    fails(
        () -> Advantages.rloo(new double[][] {{1}}),
        "rloo needs >= 2 completions",
        "group 0 has 1");
  }

  @Test
  void groupNormalisation() {
    double[][] r = {{1, 2, 4}, {0, 1}, {3, 3}};
    // group [1, 2, 4]: mean 7/3, deviations (-4/3, -1/3, 5/3), squares sum 16/9 + 1/9 + 25/9 =
    // 42/9,
    // unbiased var 42/18 = 2.333333, std 1.527525; A = dev / 1.527625 = (-0.872814, -0.218204,
    // 1.091018)
    // group [0, 1]: std sqrt(0.5) = 0.707107; A = +-0.5 / 0.707207 = +-0.707007
    // group [3, 3]: std 0; A = 0 / 1e-4 = 0
    double[][] g = Advantages.groupNormalized(r, Advantages.Scale.GROUP);
    close(g[0], -0.872814, -0.218204, 1.091018);
    close(g[1], -0.707007, 0.707007);
    close(g[2], 0, 0);
    // batch: all 7 rewards [1, 2, 4, 0, 1, 3, 3], mean 2, squares 1 + 0 + 4 + 4 + 1 + 1 + 1 = 12,
    // unbiased var 2, std 1.414214; group 1: (-4/3, -1/3, 5/3) / 1.414314 = (-0.942742, -0.235686,
    // 1.178428)
    double[][] b = Advantages.groupNormalized(r, Advantages.Scale.BATCH);
    close(b[0], -0.942742, -0.235686, 1.178428);
    close(b[1], -0.353528, 0.353528); // +-0.5 / 1.414314
    // none (Dr. GRPO): r - mean only
    double[][] n = Advantages.groupNormalized(r, Advantages.Scale.NONE);
    close(n[0], -4.0 / 3, -1.0 / 3, 5.0 / 3);
    close(n[1], -0.5, 0.5);
    close(
        new Grpo(null, null, null, Advantages.Scale.NONE, null, null).advantages(r)[1], -0.5, 0.5);
    fails(
        () -> Advantages.groupNormalized(new double[][] {{2}}, Advantages.Scale.NONE),
        "grpo needs >= 2 completions");
  }

  @Test
  void sequenceToTokensAndPadding() {
    float[][] t = Advantages.sequenceToTokens(new double[] {1.5, -2}, new int[] {3, 1});
    assertArrayEquals(new float[] {1.5f, 1.5f, 1.5f}, t[0]);
    assertArrayEquals(new float[] {-2f}, t[1]);
    assertArrayEquals(new float[] {1.5f, 1.5f, 1.5f, -2f, 0f, 0f}, Advantages.padded(t, 3));
    fails(() -> Advantages.padded(t, 2), "row 0 has 3 > 2 tokens");
    fails(
        () -> Advantages.sequenceToTokens(new double[] {1}, new int[] {1, 2}),
        "1 values for 2 lengths");
  }

  @Test
  void gaeByHand() {
    // rewards (0, 0, 1) (sequence reward on the last token), values (0.5, 0.6, 0.7), gamma 1, lam
    // 0.95:
    // t = 2: delta = 1 + 1 * 0 - 0.7 = 0.3;        A2 = 0.3
    // t = 1: delta = 0 + 0.7 - 0.6 = 0.1;          A1 = 0.1 + 0.95 * 0.3 = 0.385
    // t = 0: delta = 0 + 0.6 - 0.5 = 0.1;          A0 = 0.1 + 0.95 * 0.385 = 0.46575
    // returns = A + V = (0.96575, 0.985, 1.0); a one-token row (2) with V 0.5: A = 1.5, R = 2
    float[][] rewards = {{0, 0, 1}, {2}};
    float[][] values = {{0.5f, 0.6f, 0.7f}, {0.5f}};
    Advantages.Gae g = Advantages.gae(rewards, values, 1.0, 0.95);
    close(g.advantages()[0], 0.46575, 0.385, 0.3);
    close(g.returns()[0], 0.96575, 0.985, 1.0);
    close(g.advantages()[1], 1.5);
    close(g.returns()[1], 2);
    // gamma 0.9, lam 0.5: A2 = 0.3; delta1 = 0.9 * 0.7 - 0.6 = 0.03, A1 = 0.03 + 0.45 * 0.3 =
    // 0.165;
    // delta0 = 0.9 * 0.6 - 0.5 = 0.04, A0 = 0.04 + 0.45 * 0.165 = 0.11425
    close(Advantages.gae(rewards, values, 0.9, 0.5).advantages()[0], 0.11425, 0.165, 0.3);
    // gamma = lam = 1: Monte Carlo, A_t = (sum of rewards from t) - V_t = (0.5, 0.4, 0.3)
    close(Advantages.gae(rewards, values, 1, 1).advantages()[0], 0.5, 0.4, 0.3);
    fails(
        () -> Advantages.gae(rewards, new float[][] {{1, 2}, {1}}, 1, 0.95),
        "row 0 has 3 rewards but 2 values");
    fails(() -> Advantages.gae(rewards, values, 1.5, 0.95), "gamma must be in [0, 1]");
  }

  @Test
  void whitenOverAllTokens() {
    // (1, 2), (3): mean 2, unbiased var (1 + 0 + 1) / 2 = 1 -> (-1, 0), (1)
    float[][] w = Advantages.whiten(new float[][] {{1, 2}, {3}});
    close(w[0], -1, 0);
    close(w[1], 1);
    fails(() -> Advantages.whiten(new float[][] {{1}}), "whiten needs >= 2 tokens");
  }

  @Test
  void klPenaltyInTheReward() {
    // logp (-1, -2, -0.5), ref (-1.5, -1, -0.5): k1 = (0.5, -1, 0); coef 0.1 -> (-0.05, 0.1, 0),
    // plus the sequence reward 2 on the last token: (-0.05, 0.1, 2)
    float[][] r =
        Advantages.tokenRewardsWithKl(
            new double[] {2, -1},
            new float[][] {{-1, -2, -0.5f}, {-0.3f}},
            new float[][] {{-1.5f, -1, -0.5f}, {-0.3f}},
            0.1);
    close(r[0], -0.05, 0.1, 2);
    close(r[1], -1); // k1 = 0, reward -1 on its only token
    fails(
        () ->
            Advantages.tokenRewardsWithKl(
                new double[] {1}, new float[][] {{}}, new float[][] {{}}, 0.1),
        "no completion token");
    fails(
        () ->
            Advantages.tokenRewardsWithKl(
                new double[] {1}, new float[][] {{-1}}, new float[][] {{-1, -2}}, 0.1),
        "row 0 has 1 logps but 2 reference");
  }
}
