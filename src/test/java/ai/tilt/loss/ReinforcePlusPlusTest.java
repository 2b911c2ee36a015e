package ai.tilt.loss;

import static ai.tilt.loss.LossFixtures.close;
import static ai.tilt.loss.LossFixtures.closeArray;
import static ai.tilt.loss.PolicyBindingTest.error;
import static ai.tilt.loss.PolicyBindingTest.loss;
import static ai.tilt.loss.PolicyLossesTest.logpGradient;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.tilt.loss.PolicyLossesTest.Batch;
import ai.tilt.runtime.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * REINFORCE++'s advantages by hand on 2 prompts x 2 responses, rewards (1, 0, 2, 2), and per-token
 * d = old - ref of (0.5), (0, -1), (0, 0), (-1). With kl_coef 0.1 and k1 the token rewards are
 * (0.95), (0, 0.1), (0, 2), (2.1), their returns-to-go (0.95), (0.1, 0.1), (2, 2), (2.1), and over
 * the 6 tokens (mean 1.208333, unbiased std 0.956252) the advantages below. The baseline variant
 * first subtracts each prompt's mean reward (0.5, -0.5, 0, 0); k2 penalises d^2 / 2.
 */
class ReinforcePlusPlusTest {
  private static final double[] REWARDS = {1, 0, 2, 2};
  private static final float[][] OLD = {{-1}, {-1, -2}, {-0.5f, -0.5f}, {-2}};
  private static final float[][] REF = {{-1.5f}, {-1, -1}, {-0.5f, -0.5f}, {-1}};

  @BeforeAll
  static void init() {
    Torch.init();
  }

  private static float[][] advantages(ReinforcePlusPlus l, double klCoef) {
    return l.advantages(
            new AdvantageInputs(REWARDS, 2, OLD, REF, klCoef, Advantages.Baseline.INITIAL, null))
        .advantages();
  }

  private static void rows(float[][] actual, double[]... expected) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      closeArray(actual[i], expected[i]);
    }
  }

  @Test
  void advantagesByHand() {
    ReinforcePlusPlus plain = new ReinforcePlusPlus(null, null, null, null, null, null);
    rows(
        advantages(plain, 0.1),
        new double[] {-0.270152},
        new double[] {-1.15904, -1.15904},
        new double[] {0.827886, 0.827886},
        new double[] {0.932461});
    ReinforcePlusPlus baseline =
        new ReinforcePlusPlus(
            null, null, ReinforcePlusPlus.Baseline.GROUP_MEAN, null, Kl.Estimator.K2, null);
    rows(
        advantages(baseline, 0.1),
        new double[] {1.521653},
        new double[] {-1.118706, -1.118706},
        new double[] {0.281002, 0.281002},
        new double[] {0.153756});
    // no KL penalty: the group-centred rewards (0.5, -0.5, 0, 0) on each token, normalised
    rows(
        advantages(baseline, 0.0),
        new double[] {1.549826},
        new double[] {-1.107019, -1.107019},
        new double[] {0.221404, 0.221404},
        new double[] {0.221404});
    // gamma 0.5 discounts the last token's reward on the way back: row 1 returns (0.05, 0.1)
    float[][] discounted = Advantages.cumulativeReturns(new float[][] {{0, 0.1f}, {1, 1, 1}}, 0.5);
    closeArray(discounted[0], 0.05, 0.1);
    closeArray(discounted[1], 1.75, 1.5, 1);
  }

  /** The loss is PPO's clipped surrogate: on-policy -A with gradient -A, plus kl_beta k2. */
  @Test
  void lossOnPolicyAndWithKl() {
    try (NDManager m = LossFixtures.manager()) {
      ReinforcePlusPlus l = new ReinforcePlusPlus(null, null, null, null, null, null);
      assertFalse(l.needsReference());
      Batch b = Batch.of(m, 0);
      close(l.compute(b.onPolicy(null)).perToken(), -2, -2, -2, 1, 1, 0);
      closeArray(logpGradient(m, x -> l.compute(x.onPolicy(null))), -2, -2, -2, 1, 1, 0);
      // kl_beta 0.1, k2 = (logp - ref)^2 / 2: logp - ref = (0.5, -1, 0), (0, 0)
      ReinforcePlusPlus kl = new ReinforcePlusPlus(null, null, null, null, Kl.Estimator.K2, 0.1);
      assertTrue(kl.needsReference());
      close(kl.compute(b.onPolicy(b.ref())).perToken(), -1.9875, -1.95, -2, 1, 1, 0);
      // gradient -A + 0.1 (logp - ref)
      closeArray(logpGradient(m, x -> kl.compute(x.onPolicy(x.ref()))), -1.95, -2.1, -2, 1, 1, 0);
    }
  }

  @Test
  void binding() {
    assertEquals(
        new ReinforcePlusPlus(0.2, 0.2, ReinforcePlusPlus.Baseline.NONE, 1.0, Kl.Estimator.K1, 0.0),
        loss("loss: reinforce_plus_plus\n"));
    assertEquals(
        new ReinforcePlusPlus(
            0.2, 0.28, ReinforcePlusPlus.Baseline.GROUP_MEAN, 1.0, Kl.Estimator.K2, 0.01),
        loss(
            "loss: {type: reinforce_plus_plus, baseline: group_mean, kl_estimator: k2,"
                + " kl_beta: 0.01, epsilon_high: 0.28}\n"));
    assertTrue(error("loss: {type: reinforce_plus_plus, kl_estimator: k3}\n").contains("k1 or k2"));
    assertTrue(
        error("loss: {type: reinforce_plus_plus, baseline: leave_one_out}\n").contains("baseline"));
  }
}
