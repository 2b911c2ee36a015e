package ai.tilt.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class ScalarsTest {
  /**
   * Frees what the collector can free and refills small freed blocks with NaN, between forward and
   * backward: what a training step's garbage does at random moments.
   */
  private static void churn() {
    List<ByteBuffer> keep = new ArrayList<>();
    for (int r = 0; r < 3; r++) {
      System.gc();
      try {
        Thread.sleep(10); // the cleaner thread frees the buffers
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      for (int i = 0; i < 2000; i++) {
        ByteBuffer b = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
        b.putFloat(0, Float.NaN).putFloat(4, Float.NaN);
        keep.add(b);
      }
    }
  }

  /** d/dx sum(op(x)) at x = (1, 2, 3), with a collection and a refill before backward. */
  private static float[] gradientAfterChurn(UnaryOperator<NDArray> op) {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.create(new float[] {1f, 2f, 3f});
      x.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        NDArray y = op.apply(x).sum();
        churn();
        gc.backward(y);
      }
      return x.getGradient().toFloatArray();
    }
  }

  @Test
  void djlsOwnNumberOperandIsFreedBeforeBackward() {
    // the control: this harness does break DJL's x.mul(Number); if DJL ever fixes it, this fails
    // and Scalars (with its ArchitectureTest rule) can go
    int wrong = 0;
    for (int trial = 0; trial < 10; trial++) {
      float[] g = gradientAfterChurn(x -> x.mul(3f));
      wrong += g[0] == 3f && g[1] == 3f && g[2] == 3f ? 0 : 1;
    }
    assertTrue(wrong > 0, "DJL's mul(Number) gave the right gradient in 10 of 10 trials");
  }

  @Test
  void gradientsSurviveACollectionBetweenForwardAndBackward() {
    for (int trial = 0; trial < 10; trial++) {
      assertArrayEquals(new float[] {3f, 3f, 3f}, gradientAfterChurn(x -> Scalars.mul(x, 3)));
      assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f}, gradientAfterChurn(x -> Scalars.div(x, 2)));
      // d x^3 = 3 x^2
      assertArrayEquals(new float[] {3f, 12f, 27f}, gradientAfterChurn(x -> Scalars.pow(x, 3)));
      // max(x, 2): the gradient flows where x > 2 (torch gives half at the tie)
      assertArrayEquals(new float[] {0f, 0.5f, 1f}, gradientAfterChurn(x -> Scalars.maximum(x, 2)));
      assertArrayEquals(new float[] {1f, 0.5f, 0f}, gradientAfterChurn(x -> Scalars.minimum(x, 2)));
    }
  }

  @Test
  void valuesAndTypesAreThoseOfDjlsOps() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.create(new float[] {-1.5f, 0.25f, 4f});
      assertArrayEquals(x.mul(0.1f).toFloatArray(), Scalars.mul(x, 0.1f).toFloatArray());
      assertArrayEquals(x.div(7f).toFloatArray(), Scalars.div(x, 7f).toFloatArray());
      assertArrayEquals(x.maximum(0f).toFloatArray(), Scalars.maximum(x, 0).toFloatArray());
      assertArrayEquals(x.minimum(0f).toFloatArray(), Scalars.minimum(x, 0).toFloatArray());
      assertEquals(DataType.FLOAT32, Scalars.mul(x, 0.1).getDataType());
      NDArray in = x.duplicate();
      NDArray same = Scalars.muli(in, 2);
      assertArrayEquals(new float[] {-3f, 0.5f, 8f}, in.toFloatArray(), "in place");
      assertTrue(same == in || same.contentEquals(in));
      Scalars.divi(in, 4);
      assertArrayEquals(new float[] {-0.75f, 0.125f, 2f}, in.toFloatArray());

      NDArray ids = m.create(new long[] {-2, 0, 5});
      NDArray clamped = Scalars.maximum(ids, 0);
      assertEquals(DataType.INT64, clamped.getDataType());
      assertArrayEquals(new long[] {0, 0, 5}, clamped.toLongArray());
      assertThrows(IllegalArgumentException.class, () -> Scalars.mul(ids, 0.5));

      // float64 keeps its precision (DJL's public full() takes a float)
      NDArray d = m.create(new double[] {1.0});
      assertEquals(1.0 / 3.0, Scalars.mul(d, 1.0 / 3.0).toDoubleArray()[0], 0.0);
    }
  }
}
