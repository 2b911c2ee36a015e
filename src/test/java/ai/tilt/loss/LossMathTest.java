package ai.tilt.loss;

import static ai.tilt.loss.LossFixtures.allFinite;
import static ai.tilt.loss.LossFixtures.close;
import static ai.tilt.loss.LossFixtures.closeArray;
import static ai.tilt.loss.LossFixtures.vec;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class LossMathTest {
  static float[] grad(NDArray x, UnaryOperator<NDArray> f) {
    x.setRequiresGradient(true);
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      gc.backward(f.apply(x).sum());
    }
    return x.getGradient().toFloatArray();
  }

  @Test
  void logSigmoidIsExactAndStable() {
    try (NDManager m = LossFixtures.manager()) {
      // log sigmoid(0) = -log 2; log sigmoid(2) = -log(1 + e^-2) = -0.126928;
      // log sigmoid(-2) = -2 - 0.126928 = -2.126928; +-1e4 and +-1e30: 0 and x
      NDArray x = vec(m, 0, 2, -2, 1e4, -1e4, 1e30, -1e30);
      close(LossMath.logSigmoid(x), -0.693147, -0.126928, -2.126928, 0, -1e4, 0, -1e30);
      // d/dx = sigmoid(-x): 0.5 at 0 exactly, 0.119203, 0.880797, then 0 and 1 at the extremes
      float[] g = grad(vec(m, 0, 2, -2, 1e4, -1e4, 1e30, -1e30), LossMath::logSigmoid);
      allFinite(g);
      closeArray(g, 0.5, 0.119203, 0.880797, 0, 1, 0, 1);
    }
  }

  @Test
  void log1mExpIsAccurateNearZero() {
    try (NDManager m = LossFixtures.manager()) {
      // log(1 - e^a): a = -1e-3: log(9.995002e-4) = -6.908255 (float32 1 - e^a gives -6.908245,
      // off by 1e-5); -0.05: -3.020628; -0.1: -2.352168; -0.2: -1.707772; -5: -0.006761;
      // 0 is capped at a = -1e-6: log(1e-6) = -13.815511
      NDArray a = vec(m, -1e-3, -0.05, -0.1, -0.2, -5, 0);
      float[] v = LossMath.log1mExp(a).toFloatArray();
      double[] want = {-6.908255, -3.020628, -2.352168, -1.707772, -0.0067607, -13.815511};
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], v[i], 1e-6 * Math.abs(want[i]) + 1e-6, "element " + i);
      }
      // d/da = -e^a / (1 - e^a): a = -0.05: -19.504166 (series branch); -0.5: -1.541494 (direct);
      // at the cap (a = 0) no gradient flows, and nothing is NaN
      float[] g = grad(vec(m, -0.05, -0.5, 0), LossMath::log1mExp);
      allFinite(g);
      closeArray(g, -19.504166, -1.541494, 0);
    }
  }
}
