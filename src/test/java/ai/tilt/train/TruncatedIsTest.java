package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TruncatedIsTest {
  /** w = min(exp(trainer - sampler), cap), by hand: exp(0.1) = 1.10517, exp(-0.5) = 0.60653. */
  @Test
  void weightsAreTheCappedLikelihoodRatio() {
    float[][] trainer = {{-1.0f, -2.0f}, {-0.5f}};
    float[][] sampler = {{-1.1f, -1.5f}, {-3.0f}}; // ratios exp(0.1), exp(-0.5), exp(2.5) = 12.18
    TruncatedIs.Weights w = TruncatedIs.of(trainer, sampler, 2.0);
    assertArrayEquals(new float[] {1.10517f, 0.60653f}, w.weights()[0], 1e-4f);
    assertArrayEquals(new float[] {2.0f}, w.weights()[1], 0f);
    assertEquals((1.10517 + 0.60653 + 2.0) / 3, w.mean(), 1e-4);
    assertEquals(1.0 / 3, w.truncatedFraction(), 1e-12);
    float[][] adv = TruncatedIs.scale(new float[][] {{2f, -1f}, {0.5f}}, w.weights());
    assertArrayEquals(new float[] {2.21034f, -0.60653f}, adv[0], 1e-4f);
    assertArrayEquals(new float[] {1.0f}, adv[1], 0f);
  }

  @Test
  void rowsOfOtherLengthsAreRefused() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> TruncatedIs.of(new float[][] {{-1f, -1f}}, new float[][] {{-1f}}, 2.0));
    assertEquals("row 0: 1 sampler log-probs for 2", e.getMessage());
  }
}
