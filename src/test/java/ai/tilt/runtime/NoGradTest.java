package ai.tilt.runtime;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import org.junit.jupiter.api.Test;

class NoGradTest {
  @Test
  void offInsideAndRestoredAfterEvenWhenNestedOrThrown() {
    boolean start = JniUtils.isGradMode();
    JniUtils.setGradMode(true);
    try {
      try (NoGrad outer = NoGrad.enter()) {
        assertFalse(JniUtils.isGradMode());
        try (NoGrad inner = NoGrad.enter()) {
          assertFalse(JniUtils.isGradMode());
        }
        assertFalse(JniUtils.isGradMode(), "the inner block restores off, not on");
      }
      assertTrue(JniUtils.isGradMode());
      assertThrows(
          IllegalStateException.class,
          () -> {
            try (NoGrad off = NoGrad.enter()) {
              throw new IllegalStateException("boom");
            }
          });
      assertTrue(JniUtils.isGradMode(), "restored when the block throws");
    } finally {
      JniUtils.setGradMode(start);
    }
  }

  @Test
  void recordsNoGraphInside() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray w = m.create(new float[] {1f, 2f});
      w.setRequiresGradient(true);
      NDArray y;
      try (NoGrad off = NoGrad.enter()) {
        y = w.mul(3f);
      }
      assertFalse(y.hasGradient() || JniUtils.requiresGrad((ai.djl.pytorch.engine.PtNDArray) y));
    }
  }
}
