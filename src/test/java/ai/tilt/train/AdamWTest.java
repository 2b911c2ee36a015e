package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.Torch;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * AdamW against a direct double-precision transcription of torch.optim.AdamW's update rule, on a
 * matrix (decayed) and a vector (not decayed), with gradients set through a loss sum(p * c).
 */
class AdamWTest {
  @TempDir Path tmp;

  static final double LR = 0.01;
  static final double B1 = 0.9;
  static final double B2 = 0.99;
  static final double EPS = 1e-6;
  static final double WD = 0.1;

  /** Gradient of step s for element i (varies with both, sign included). */
  static double grad(int s, int i) {
    return Math.sin(1.3 * s + 0.7 * i) * (i % 3 + 1);
  }

  /** Step 3's gradients are clipped by this factor (folded into the update's pass). */
  static final float CLIP = 0.375f;

  @Test
  void fusedKernelMatchesTorchRuleForFiveSteps() {
    Torch.init();
    assertTrue(Kernels.available(), Kernels.loadError());
    matchesTorchRule(true);
  }

  @Test
  void separateOpsMatchTorchRuleForFiveSteps() {
    matchesTorchRule(false);
  }

  /** Both paths on 1,000 random elements over 20 steps: the same weights within float rounding. */
  @Test
  void fusedAndSeparateOpsAgree() {
    Torch.init();
    try (NDManager m = NDManager.newBaseManager()) {
      ai.djl.engine.Engine.getInstance().setRandomSeed(7);
      NDArray init = m.randomNormal(new Shape(40, 25));
      NDArray[] w = new NDArray[2];
      AdamW[] opt = new AdamW[2];
      for (int k = 0; k < 2; k++) {
        w[k] = init.duplicate();
        w[k].setRequiresGradient(true);
        opt[k] = new AdamW(Map.of("w", w[k]), B1, B2, EPS, WD, k == 0);
      }
      NDArray coef = m.randomNormal(new Shape(20, 40, 25));
      for (int s = 0; s < 20; s++) {
        for (int k = 0; k < 2; k++) {
          try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(w[k].mul(coef.get(s)).sum());
          }
          try (NDManager step = m.newSubManager()) {
            w[k].tempAttach(step);
            for (NDArray a : opt[k].stateArrays()) {
              a.tempAttach(step);
            }
            if (s % 4 == 1) {
              opt[k].clip(0.5f);
            }
            opt[k].update(LR);
            JniUtils.zeroGrad((PtNDArray) w[k]);
          }
        }
      }
      float[] fused = w[0].toFloatArray();
      float[] ops = w[1].toFloatArray();
      float[] start = init.toFloatArray();
      double moved = 0;
      for (int i = 0; i < fused.length; i++) {
        assertEquals(ops[i], fused[i], 2e-6 * Math.max(1, Math.abs(ops[i])), "element " + i);
        moved = Math.max(moved, Math.abs(fused[i] - start[i]));
      }
      assertTrue(moved > 0.1, "the weights moved by at most " + moved);
      opt[0].close();
      opt[1].close();
    }
  }

  private void matchesTorchRule(boolean fused) {
    Torch.init();
    try (NDManager m = NDManager.newBaseManager()) {
      float[] w0 = {0.5f, -0.25f, 1.0f, 0.125f, -2.0f, 0.75f};
      float[] b0 = {0.1f, -0.3f, 0.2f};
      NDArray w = m.create(w0, new Shape(2, 3));
      NDArray b = m.create(b0);
      w.setRequiresGradient(true);
      b.setRequiresGradient(true);
      Map<String, NDArray> params = new LinkedHashMap<>();
      params.put("w", w);
      params.put("b", b);
      double[] ew = toDouble(w0);
      double[] eb = toDouble(b0);
      double[][] mom = {new double[6], new double[3]};
      double[][] vel = {new double[6], new double[3]};
      try (AdamW opt = new AdamW(params, B1, B2, EPS, WD, fused)) {
        for (int s = 1; s <= 5; s++) {
          setGradients(m, w, b, s);
          if (s == 3) {
            opt.clip(CLIP);
          }
          try (NDManager step = m.newSubManager()) {
            w.tempAttach(step);
            b.tempAttach(step);
            for (NDArray a : opt.stateArrays()) {
              a.tempAttach(step);
            }
            opt.update(LR);
            JniUtils.zeroGrad((PtNDArray) w);
            JniUtils.zeroGrad((PtNDArray) b);
          }
          reference(ew, mom[0], vel[0], s, true);
          reference(eb, mom[1], vel[1], s, false);
        }
        assertClose(ew, w.toFloatArray());
        assertClose(eb, b.toFloatArray());
        assertEquals(5, opt.step());
      }
    }
  }

  @Test
  void stateRoundTripsThroughSafetensors() throws IOException {
    Torch.init();
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray w = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
      NDArray b = m.create(new float[] {5, 6});
      w.setRequiresGradient(true);
      b.setRequiresGradient(true);
      Map<String, NDArray> params = Map.of("w", w, "b", b);
      try (AdamW a = new AdamW(params, B1, B2, EPS, WD);
          AdamW c = new AdamW(params, B1, B2, EPS, WD)) {
        setGradients2(m, w, b);
        a.update(LR);
        a.save(tmp.resolve("opt.safetensors"));
        c.load(tmp.resolve("opt.safetensors"));
        assertEquals(1, c.step());
        for (int i = 0; i < a.stateArrays().size(); i++) {
          assertEquals(a.stateArrays().get(i), c.stateArrays().get(i));
        }
      }
      Map<String, NDArray> other = Map.of("w", w, "bias", b);
      try (AdamW d = new AdamW(other, B1, B2, EPS, WD)) {
        IOException e =
            assertThrows(IOException.class, () -> d.load(tmp.resolve("opt.safetensors")));
        assertTrue(e.getMessage().contains("exp_avg.bias"), e.getMessage());
      }
    }
  }

  private static void setGradients2(NDManager m, NDArray w, NDArray b) {
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      gc.backward(
          w.mul(m.create(new float[] {1, -1, 2, 0.5f}, new Shape(2, 2))).sum().add(b.sum()));
    }
  }

  private static void setGradients(NDManager m, NDArray w, NDArray b, int s) {
    float[] cw = new float[6];
    float[] cb = new float[3];
    for (int i = 0; i < 6; i++) {
      cw[i] = (float) grad(s, i);
    }
    for (int i = 0; i < 3; i++) {
      cb[i] = (float) grad(s, i + 6);
    }
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      NDArray loss = w.mul(m.create(cw, new Shape(2, 3))).sum().add(b.mul(m.create(cb)).sum());
      gc.backward(loss);
    }
  }

  private static void reference(double[] p, double[] mm, double[] vv, int s, boolean decay) {
    double bc1 = 1 - Math.pow(B1, s);
    double bc2 = 1 - Math.pow(B2, s);
    for (int i = 0; i < p.length; i++) {
      double g = (float) grad(s, i + (decay ? 0 : 6)) * (s == 3 ? CLIP : 1);
      if (decay) {
        p[i] *= 1 - LR * WD;
      }
      mm[i] = B1 * mm[i] + (1 - B1) * g;
      vv[i] = B2 * vv[i] + (1 - B2) * g * g;
      p[i] -= LR * (mm[i] / bc1) / (Math.sqrt(vv[i] / bc2) + EPS);
    }
  }

  private static double[] toDouble(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      d[i] = a[i];
    }
    return d;
  }

  private static void assertClose(double[] want, float[] got) {
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], 1e-5, "element " + i);
    }
  }
}
