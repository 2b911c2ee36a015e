package ai.tilt.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.tilt.runtime.Torch;
import java.util.function.Function;

/** Small builders and checks shared by the loss tests. */
final class LossFixtures {
  static final double TOL = 1e-5;

  private LossFixtures() {}

  static NDManager manager() {
    Torch.init();
    return NDManager.newBaseManager();
  }

  /** A (rows, cols) float array from row-major values. */
  static NDArray arr(NDManager m, int rows, int cols, double... v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return m.create(f, new Shape(rows, cols));
  }

  static NDArray vec(NDManager m, double... v) {
    return arr(m, 1, v.length, v).reshape(new Shape(v.length));
  }

  static void close(NDArray actual, double... expected) {
    float[] a = actual.toFloatArray();
    assertEquals(expected.length, a.length, "length of " + actual.getShape());
    for (int i = 0; i < a.length; i++) {
      double tol = TOL * Math.max(1, Math.abs(expected[i]));
      assertEquals(expected[i], a[i], tol, "element " + i);
    }
  }

  static void metric(LossOutput out, String name, double... expected) {
    assertTrue(
        out.metrics().containsKey(name),
        "missing metric " + name + " in " + out.metrics().keySet());
    NDArray v = out.metrics().get(name);
    assertTrue(!v.hasGradient(), name + " must carry no gradient");
    close(v, expected);
  }

  /**
   * d(sum of the per-group losses)/d(policy): policy is marked for gradients, the loss built by
   * {@code f} inside a collector, and the gradient returned row-major.
   */
  static float[] gradient(NDArray policy, Function<NDArray, LossOutput> f) {
    policy.setRequiresGradient(true);
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      gc.backward(f.apply(policy).perGroup().sum());
    }
    return policy.getGradient().toFloatArray();
  }

  static void closeArray(float[] actual, double... expected) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < actual.length; i++) {
      assertEquals(
          expected[i],
          actual[i],
          TOL * Math.max(1, Math.abs(expected[i])),
          "gradient element " + i);
    }
  }

  static void allFinite(float[] v) {
    for (float x : v) {
      assertTrue(Float.isFinite(x), "not finite: " + x);
    }
  }

  /** The IllegalArgumentException's message, which must contain every fragment. */
  static String fails(Runnable r, String... fragments) {
    String msg = assertThrows(IllegalArgumentException.class, r::run).getMessage();
    for (String f : fragments) {
      assertTrue(msg.contains(f), "'" + msg + "' lacks '" + f + "'");
    }
    return msg;
  }
}
