package ai.tilt.lab;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class KlToyTest {
  @Test
  void klOfThePapersPairByHand() {
    // 0.3 ln 1.5 + 0.3 ln 3 + 0.1 ln(1/6) + 0.3 ln 3 = 0.1216395 + 0.3295837 - 0.1791759 +
    // 0.3295837
    assertEquals(0.601631, KlToy.kl(KlToy.P0, KlToy.Q), 1e-6);
  }

  /** The closed-form logit gradients against central finite differences of the divergences. */
  @ParameterizedTest
  @EnumSource(KlToy.Divergence.class)
  void gradientsMatchFiniteDifferences(KlToy.Divergence d) {
    double[] theta = {0.4, -1.0, 0.2, 1.1};
    double[] p = KlToy.softmax(theta);
    double[] g = KlToy.gradient(d, p, KlToy.Q);
    double h = 1e-6;
    for (int i = 0; i < theta.length; i++) {
      double[] up = theta.clone();
      double[] down = theta.clone();
      up[i] += h;
      down[i] -= h;
      double fd = (divergence(d, KlToy.softmax(up)) - divergence(d, KlToy.softmax(down))) / (2 * h);
      assertEquals(fd, g[i], 1e-7, d + " logit " + i);
    }
  }

  private static double divergence(KlToy.Divergence d, double[] p) {
    return d == KlToy.Divergence.FORWARD ? KlToy.kl(KlToy.Q, p) : KlToy.kl(p, KlToy.Q);
  }

  @Test
  void oneStepOfEachByHand() {
    // forward: theta = ln p0 - (p0 - q) = ln p0 - [0.1, 0.2, -0.5, 0.2];
    // p ∝ [0.3 e^-0.1, 0.3 e^-0.2, 0.1 e^0.5, 0.3 e^-0.2] = [0.271451, 0.245619, 0.164872,
    // 0.245619] / 0.927561
    List<double[]> f = KlToy.descend(KlToy.Divergence.FORWARD, KlToy.P0, KlToy.Q, 1.0, 1);
    assertArrayEquals(new double[] {0.292651, 0.264801, 0.177748, 0.264801}, f.get(1), 2e-6);
    // reverse: g_j = p_j (ln(p_j/q_j) - 0.601631) = [0.3 (0.405465 - 0.601631), 0.3 (1.098612 -
    // 0.601631),
    //   0.1 (-1.791759 - 0.601631), ...] = [-0.058850, 0.149094, -0.239339, 0.149094]
    List<double[]> r = KlToy.descend(KlToy.Divergence.REVERSE, KlToy.P0, KlToy.Q, 1.0, 1);
    double[] u = {
      0.3 * Math.exp(0.058850),
      0.3 * Math.exp(-0.149094),
      0.1 * Math.exp(0.239339),
      0.3 * Math.exp(-0.149094)
    };
    double s = u[0] + u[1] + u[2] + u[3];
    assertArrayEquals(new double[] {u[0] / s, u[1] / s, u[2] / s, u[3] / s}, r.get(1), 1e-6);
    assertArrayEquals(KlToy.P0, f.get(0), 1e-12);
  }

  @Test
  void bothConvergeToQAndStepsToCountsTheFirstCrossing() {
    for (KlToy.Divergence d : KlToy.Divergence.values()) {
      List<double[]> t = KlToy.descend(d, KlToy.P0, KlToy.Q, 1.0, 400);
      assertArrayEquals(KlToy.Q, t.get(400), 1e-3, d.toString());
      int s = KlToy.stepsTo(t, 2, 0.5);
      assertEquals(true, t.get(s)[2] >= 0.5 && t.get(s - 1)[2] < 0.5);
    }
    assertEquals(-1, KlToy.stepsTo(List.of(KlToy.P0), 2, 0.5));
  }

  /**
   * The paper's reverse-KL panel is one forward-KL step at lr 2.39 to within 0.002 (numpy, by hand:
   * softmax(ln p0 - 2.39 (p0 - q)) = [0.2517, 0.1982, 0.3520, 0.1982]); no reverse-KL step comes
   * within 0.1 of it, and neither divergence draws the forward panel closer than 0.03.
   */
  @Test
  void thePapersReversePanelIsAForwardStep() {
    KlToy.Fit f = KlToy.closestStep(KlToy.Divergence.FORWARD, KlToy.PAPER_REVERSE);
    assertEquals(2.39, f.lr(), 1e-9);
    assertEquals(0.002, f.maxDiff(), 0.0005);
    assertEquals(
        true, KlToy.closestStep(KlToy.Divergence.REVERSE, KlToy.PAPER_REVERSE).maxDiff() > 0.1);
    assertEquals(
        true, KlToy.closestStep(KlToy.Divergence.FORWARD, KlToy.PAPER_FORWARD).maxDiff() > 0.03);
    assertEquals(
        true, KlToy.closestStep(KlToy.Divergence.REVERSE, KlToy.PAPER_FORWARD).maxDiff() > 0.03);
  }

  @Test
  void theJointFitRecoversASchedule() {
    // panels drawn by 3 steps at lr 1.7 are found again, both divergences at once
    double[] f = KlToy.descend(KlToy.Divergence.FORWARD, KlToy.P0, KlToy.Q, 1.7, 3).get(3);
    double[] r = KlToy.descend(KlToy.Divergence.REVERSE, KlToy.P0, KlToy.Q, 1.7, 3).get(3);
    KlToy.JointFit fit = KlToy.jointFit(f, r);
    assertEquals(3, fit.steps());
    assertEquals(1.7, fit.lr(), 1e-9);
    assertEquals(0, fit.maxDiff(), 1e-12);
    // the paper's figure: the exchanged labels fit far better than the printed ones
    KlToy.JointFit labelled = KlToy.jointFit(false);
    KlToy.JointFit exchanged = KlToy.jointFit(true);
    assertTrue(exchanged.maxDiff() < 0.01, exchanged.toString());
    assertTrue(labelled.maxDiff() > 0.015, labelled.toString());
  }
}
