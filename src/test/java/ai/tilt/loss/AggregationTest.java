package ai.tilt.loss;

import static ai.tilt.loss.LossFixtures.arr;
import static ai.tilt.loss.LossFixtures.closeArray;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

/**
 * The three aggregations on 2 sequences of 1 and 3 tokens, per-token losses (1), (2, 3, 4), padding
 * NaN: per_token (1 + 2 + 3 + 4) / 4 = 2.5; per_sequence (1 + 9 / 3) / 2 = 2;
 * seq_mean_token_sum_norm with length 4: 10 / (2 x 4) = 1.25. Gradients d loss / d perToken: 1/4 on
 * every token; 1/2 on the short row and 1/6 on the long one; 1/8 on every token; 0 on padding.
 */
class AggregationTest {
  private static final double[] MASK = {1, 0, 0, 1, 1, 1};
  private static final double NAN = Double.NaN;

  private static double loss(Aggregation a, NDArray perToken, NDArray mask) {
    double d = a.denominator((long) mask.sum().getFloat(), 2, 4);
    return a.numerator(perToken, mask).getFloat() / d;
  }

  private static float[] gradient(Aggregation a, NDManager m) {
    NDArray x = arr(m, 2, 3, 1, NAN, NAN, 2, 3, 4);
    NDArray mask = arr(m, 2, 3, MASK);
    x.setRequiresGradient(true);
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      gc.backward(a.numerator(x, mask).div((float) a.denominator(4, 2, 4)));
    }
    return x.getGradient().toFloatArray();
  }

  @Test
  void eachModeByHand() {
    try (NDManager m = LossFixtures.manager()) {
      NDArray x = arr(m, 2, 3, 1, NAN, NAN, 2, 3, 4);
      NDArray mask = arr(m, 2, 3, MASK);
      assertEquals(2.5, loss(Aggregation.PER_TOKEN, x, mask), 1e-6);
      assertEquals(2.0, loss(Aggregation.PER_SEQUENCE, x, mask), 1e-6);
      assertEquals(1.25, loss(Aggregation.SEQ_MEAN_TOKEN_SUM_NORM, x, mask), 1e-6);
      double q = 0.25;
      closeArray(gradient(Aggregation.PER_TOKEN, m), q, 0, 0, q, q, q);
      double s = 1.0 / 6;
      closeArray(gradient(Aggregation.PER_SEQUENCE, m), 0.5, 0, 0, s, s, s);
      double e = 0.125;
      closeArray(gradient(Aggregation.SEQ_MEAN_TOKEN_SUM_NORM, m), e, 0, 0, e, e, e);
    }
  }

  /**
   * Split into micro-batches (one row each), the numerators add up to the whole one's and the
   * denominator is the window's: the step's loss does not depend on the split.
   */
  @Test
  void microBatchesAddUp() {
    try (NDManager m = LossFixtures.manager()) {
      NDArray x = arr(m, 2, 3, 1, NAN, NAN, 2, 3, 4);
      NDArray mask = arr(m, 2, 3, MASK);
      for (Aggregation a : Aggregation.values()) {
        double whole = a.numerator(x, mask).getFloat();
        double parts =
            a.numerator(x.get("0:1"), mask.get("0:1")).getFloat()
                + a.numerator(x.get("1:2"), mask.get("1:2")).getFloat();
        assertEquals(whole, parts, 1e-6, a.key());
      }
      // a row without loss tokens (a masked truncated completion) adds 0, not NaN
      NDArray none = arr(m, 1, 3, 0, 0, 0);
      for (Aggregation a : Aggregation.values()) {
        assertEquals(0.0, a.numerator(x.get("1:2"), none).getFloat(), 0.0, a.key());
      }
      assertEquals(8.0, Aggregation.SEQ_MEAN_TOKEN_SUM_NORM.denominator(3, 2, 4));
      assertEquals(3.0, Aggregation.PER_TOKEN.denominator(3, 2, 4));
      assertEquals(2.0, Aggregation.PER_SEQUENCE.denominator(3, 2, 4));
    }
  }
}
