package ai.tilt.loss;

import static ai.tilt.loss.LossFixtures.arr;
import static ai.tilt.loss.LossFixtures.close;
import static ai.tilt.loss.LossFixtures.closeArray;
import static ai.tilt.loss.PolicyBindingTest.error;
import static ai.tilt.loss.PolicyBindingTest.loss;
import static ai.tilt.loss.PolicyLossesTest.gradients;
import static ai.tilt.loss.PolicyLossesTest.logpGradient;
import static ai.tilt.loss.PolicyLossesTest.metric;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.tilt.loss.PolicyLossesTest.Batch;
import ai.tilt.runtime.Torch;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * GSPO's sequence-level ratio and the dual clip, by hand. GSPO on {@link PolicyLossesTest}'s batch:
 * token log-ratios (0.3, -0.1, 0) and (-0.25, 0) have means 1/15 and -1/8, so s = (exp(1/15),
 * exp(-1/8)) = (1.068939, 0.882497); with A = (2, -1) and epsilon 0.2 neither is clipped: per-token
 * loss -A s on each token, and d(sum of perToken)/d logp_t = -A s |y| (1 / |y|) = -A s.
 */
class ClipVariantsTest {
  @BeforeAll
  static void init() {
    Torch.init();
  }

  private static final double S0 = Math.exp(1.0 / 15);
  private static final double S1 = Math.exp(-1.0 / 8);

  private static Grpo gspo(double epsilon) {
    return new Grpo(epsilon, null, 0.0, null, Grpo.Level.SEQUENCE, null);
  }

  private static Function<Batch, TokenLossOutput> offPolicy(PolicyGradientLoss l) {
    return x -> l.compute(PolicyInputs.of(x.logp(), x.old(), null, x.mask(), x.adv()));
  }

  @Test
  void gspoTakesOneRatioPerSequence() {
    try (NDManager m = LossFixtures.manager()) {
      Grpo g = gspo(0.2);
      TokenLossOutput out = offPolicy(g).apply(Batch.of(m, 0));
      close(out.perToken(), -2 * S0, -2 * S0, -2 * S0, S1, S1, 0);
      closeArray(logpGradient(m, offPolicy(g)), -2 * S0, -2 * S0, -2 * S0, S1, S1, 0);
      metric(out, "clip_ratio", 0, 0);
      // per_sequence gives the paper's loss: -mean_i min(s_i A_i, clip(s_i) A_i)
      double paper = (-2 * S0 + S1) / 2;
      Batch b = Batch.of(m, 0);
      double perSequence =
          Aggregation.PER_SEQUENCE.numerator(out.perToken(), b.mask()).getFloat() / 2;
      assertEquals(paper, perSequence, 1e-5);
      // epsilon 0.1: s1 = 0.882 < 0.9 with A < 0 clips the whole second sequence: 0.9, no gradient
      Grpo narrow = gspo(0.1);
      TokenLossOutput clipped = offPolicy(narrow).apply(Batch.of(m, 0));
      close(clipped.perToken(), -2 * S0, -2 * S0, -2 * S0, 0.9, 0.9, 0);
      closeArray(logpGradient(m, offPolicy(narrow)), -2 * S0, -2 * S0, -2 * S0, 0, 0, 0);
      metric(clipped, "clip_ratio", 0, 1);
      // token level differs on the same inputs (row 0's first token is clipped there)
      Grpo token = new Grpo(0.2, null, 0.0, null, Grpo.Level.TOKEN, null);
      float[] t = offPolicy(token).apply(Batch.of(m, 0)).perToken().toFloatArray();
      assertTrue(Math.abs(t[0] - (-2 * S0)) > 0.1);
    }
  }

  /** On-policy GSPO is GRPO on-policy: s = 1 and the gradient -A on every token. */
  @Test
  void gspoOnPolicyIsPlainPolicyGradient() {
    try (NDManager m = LossFixtures.manager()) {
      Grpo g = gspo(0.2);
      Batch b = Batch.of(m, 0);
      close(g.compute(b.onPolicy(null)).perToken(), -2, -2, -2, 1, 1, 0);
      closeArray(logpGradient(m, x -> g.compute(x.onPolicy(null))), -2, -2, -2, 1, 1, 0);
      // padding holding NaN changes nothing
      Batch nan = Batch.of(m, Double.NaN);
      close(offPolicy(g).apply(nan).perToken(), -2 * S0, -2 * S0, -2 * S0, S1, S1, 0);
    }
  }

  /**
   * One row: logp (-1, -1, -1), old (-3, -2, -3), so r = (e^2, e, e^2) = (7.389056, 2.718282,
   * 7.389056), A = (-1, -1, 1). Without the dual clip: -min(r A, clip(r) A) = (7.389056, 2.718282,
   * -1.2), gradients -A r where unclipped: (7.389056, 2.718282, 0). With c = 3 the first token (r >
   * 3, A < 0) adds -c A = 3 and no gradient; the second (r < 3) and third (A > 0) are as before.
   */
  @Test
  void dualClipBoundsNegativeAdvantages() {
    try (NDManager m = LossFixtures.manager()) {
      for (boolean ppo : new boolean[] {false, true}) {
        PolicyGradientLoss plain =
            ppo
                ? new Ppo(null, null, null, null, null, null, null)
                : new Grpo(0.2, null, 0.0, null, null, null);
        PolicyGradientLoss dual =
            ppo
                ? new Ppo(null, null, null, null, null, null, 3.0)
                : new Grpo(0.2, null, 0.0, null, null, 3.0);
        double e2 = Math.exp(2);
        double e1 = Math.exp(1);
        assertArrays(m, plain, ppo, new double[] {e2, e1, -1.2}, new double[] {e2, e1, 0});
        TokenLossOutput out =
            assertArrays(m, dual, ppo, new double[] {3, e1, -1.2}, new double[] {0, e1, 0});
        metric(out, "dual_clip_ratio", 1.0 / 3);
        metric(out, "clip_ratio", 1.0 / 3);
      }
    }
  }

  private static TokenLossOutput assertArrays(
      NDManager m, PolicyGradientLoss l, boolean values, double[] loss, double[] grad) {
    NDArray logp = arr(m, 1, 3, -1, -1, -1);
    NDArray zeros = arr(m, 1, 3, 0, 0, 0);
    Function<NDArray, PolicyInputs> in =
        lp ->
            new PolicyInputs(
                lp,
                arr(m, 1, 3, -3, -2, -3),
                null,
                arr(m, 1, 3, 1, 1, 1),
                arr(m, 1, 3, -1, -1, 1),
                values ? zeros : null,
                values ? zeros : null,
                values ? zeros : null);
    TokenLossOutput out = l.compute(in.apply(logp));
    close(out.perToken(), loss);
    Batch b = Batch.of(m, 0);
    NDArray x = arr(m, 1, 3, -1, -1, -1);
    float[] g = gradients(ignored -> l.compute(in.apply(x)), b, x)[0];
    closeArray(g, grad);
    return out;
  }

  @Test
  void bindingAndRanges() {
    Grpo g = (Grpo) loss("loss: {type: grpo, importance_sampling_level: sequence, dual_clip: 3}\n");
    assertEquals(Grpo.Level.SEQUENCE, g.importanceSamplingLevel());
    assertEquals(3.0, g.dualClip());
    assertEquals(Grpo.Level.TOKEN, ((Grpo) loss("loss: grpo\n")).importanceSamplingLevel());
    assertTrue(
        error("loss: {type: grpo, dual_clip: 0.5}\n").contains("loss.dual_clip must be > 1"));
    assertTrue(error("loss: {type: ppo, dual_clip: 1}\n").contains("loss.dual_clip must be > 1"));
    String bad = error("loss: {type: grpo, importance_sampling_level: word}\n");
    assertTrue(bad.contains("importance_sampling_level"), bad);
    assertFalse(((Ppo) loss("loss: ppo\n")).dualClip() != null);
  }
}
