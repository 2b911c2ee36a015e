package ai.tilt.loss;

import static ai.tilt.loss.LossFixtures.close;
import static ai.tilt.loss.LossFixtures.closeArray;
import static ai.tilt.loss.LossFixtures.fails;
import static ai.tilt.loss.LossFixtures.vec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** KL estimators and the adaptive KL coefficient against hand arithmetic. */
class KlTest {
  // logp (-1, -2, -0.5), ref (-1.5, -1, -0.5): d = ref - logp = (-0.5, 1, 0)
  static final double[] LOGP = {-1, -2, -0.5};
  static final double[] REF = {-1.5, -1, -0.5};

  @Test
  void estimatorsByHand() {
    try (NDManager m = LossFixtures.manager()) {
      NDArray logp = vec(m, LOGP);
      NDArray ref = vec(m, REF);
      close(Kl.k1(logp, ref), 0.5, -1, 0); // logp - ref
      close(Kl.k2(logp, ref), 0.125, 0.5, 0); // (logp - ref)^2 / 2
      // k3 = exp(d) - d - 1: exp(-0.5) + 0.5 - 1 = 0.106531; e - 1 - 1 = 0.718282; 1 - 0 - 1 = 0
      close(Kl.k3(logp, ref), 0.106531, 0.718282, 0);
      close(Kl.Estimator.K3.of(logp, ref), 0.106531, 0.718282, 0);
      close(Kl.Estimator.K1.of(logp, ref), 0.5, -1, 0);
      close(Kl.Estimator.K2.of(logp, ref), 0.125, 0.5, 0);
      // float arrays give the same
      float[] lp = {-1, -2, -0.5f};
      float[] rf = {-1.5f, -1, -0.5f};
      closeArray(Kl.k1(lp, rf), 0.5, -1, 0);
      closeArray(Kl.k3(lp, rf), 0.106531, 0.718282, 0);
      fails(() -> Kl.k3(lp, new float[2]), "lengths differ");
    }
  }

  @Test
  void k3IsNonNegativeAndZeroOnlyWhenEqual() {
    Random rnd = new Random(7);
    float[] lp = new float[1000];
    float[] rf = new float[1000];
    for (int i = 0; i < lp.length; i++) {
      lp[i] = (float) (-10 * rnd.nextDouble());
      rf[i] = i % 10 == 0 ? lp[i] : (float) (-10 * rnd.nextDouble());
    }
    float[] k = Kl.k3(lp, rf);
    for (int i = 0; i < k.length; i++) {
      assertTrue(k[i] >= 0, "k3 < 0 at " + i + ": " + k[i]);
      assertEquals(i % 10 == 0, k[i] == 0f, "k3 == 0 exactly when equal, at " + i);
    }
    try (NDManager m = LossFixtures.manager()) {
      float[] nd = Kl.k3(m.create(lp), m.create(rf)).toFloatArray();
      for (int i = 0; i < nd.length; i++) {
        assertTrue(nd[i] >= -1e-6f, "NDArray k3 < 0 at " + i);
      }
      close(Kl.k3(m.create(lp).get("0:20:10"), m.create(rf).get("0:20:10")), 0, 0);
    }
  }

  @Test
  void k3GradientPullsTowardsTheReference() {
    try (NDManager m = LossFixtures.manager()) {
      NDArray logp = vec(m, LOGP);
      logp.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        gc.backward(Kl.k3(logp, vec(m, REF)).sum());
      }
      // d k3 / d logp = 1 - exp(d) = (1 - 0.606531, 1 - 2.718282, 0): positive where logp > ref
      // (descending lowers logp), negative where logp < ref, 0 where equal
      closeArray(logp.getGradient().toFloatArray(), 0.393469, -1.718282, 0);
    }
  }

  @Test
  void adaptiveControllerByHand() throws Exception {
    // Ziegler et al. / TRL defaults of the paper's PPO code: coef 0.2, target 6, horizon 10000
    Kl.AdaptiveKlController c = new Kl.AdaptiveKlController(0.2, 6.0, 10000);
    assertTrue(c.isAdaptive());
    // KL 3: error clip(3 / 6 - 1 = -0.5) = -0.2; 0.2 (1 - 0.2 * 256 / 10000) = 0.2 * 0.99488 =
    // 0.198976
    assertEquals(0.198976, c.update(3, 256).coef(), 1e-12);
    // KL 6.6: error 0.1; 0.2 (1 + 0.1 * 100 / 10000) = 0.2002
    assertEquals(0.2002, c.update(6.6, 100).coef(), 1e-12);
    // KL 100: error clipped to 0.2; one horizon of steps: 0.2 * 1.2 = 0.24
    assertEquals(0.24, c.update(100, 10000).coef(), 1e-12);
    // on target: unchanged
    assertEquals(0.2, c.update(6, 5000).coef(), 1e-12);
    // updates compose: 0.2 * 1.2 * 1.2 = 0.288
    assertEquals(0.288, c.update(100, 10000).update(100, 10000).coef(), 1e-12);
    // the factor cannot go negative: 1 - 0.2 * 60000 / 10000 < 0 floors at 0
    assertEquals(0, c.update(0, 60000).coef(), 0);
    Kl.AdaptiveKlController fixed = Kl.AdaptiveKlController.fixed(0.05);
    assertFalse(fixed.isAdaptive());
    assertSame(fixed, fixed.update(100, 1000));
    // a checkpoint stores the plain fields
    ObjectMapper json = new ObjectMapper();
    String text = json.writeValueAsString(c);
    assertFalse(text.contains("adaptive"), text);
    assertEquals(c, json.readValue(text, Kl.AdaptiveKlController.class));
    assertEquals(
        fixed, json.readValue(json.writeValueAsString(fixed), Kl.AdaptiveKlController.class));
    fails(() -> new Kl.AdaptiveKlController(-1, 6.0, 10), "kl coefficient must be >= 0");
    fails(() -> new Kl.AdaptiveKlController(0.1, 0.0, 10), "kl target must be > 0");
    fails(() -> new Kl.AdaptiveKlController(0.1, 6.0, 0), "kl horizon must be > 0");
    fails(() -> c.update(Double.NaN, 1), "observed KL must be finite");
  }
}
