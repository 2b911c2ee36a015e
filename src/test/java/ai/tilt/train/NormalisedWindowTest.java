package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * A window's denominator is what its workers sum (0 for a worker whose share has no target tokens),
 * and what it divides by is that sum, at least 1: clamping each worker's before the sum would count
 * an empty share as one token.
 */
class NormalisedWindowTest {
  private static Objective.Normalised window(double local) {
    return new Objective.Normalised(local) {
      @Override
      public int microBatches() {
        return 1;
      }

      @Override
      public long tokens() {
        return 0;
      }
    };
  }

  @Test
  void theRawDenominatorIsSummedAndTheSumClamped() {
    Objective.Normalised empty = window(0);
    Objective.Normalised full = window(10);
    assertEquals(0.0, empty.denominator());
    assertEquals(1.0, empty.divisor()); // alone, an empty mean is 0 / 1
    double global = empty.denominator() + full.denominator(); // what Group.sum gives
    empty.useDenominator(global);
    full.useDenominator(global);
    assertEquals(10.0, empty.divisor()); // not 11
    assertEquals(10.0, full.divisor());
    full.useDenominator(0);
    assertEquals(1.0, full.divisor());
  }
}
