package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatchesTest {
  @Test
  void orderIsAPermutation() {
    for (int n : new int[] {0, 1, 2, 7, 1000}) {
      long[] o = Batches.order(n, 3, 0);
      long[] sorted = o.clone();
      Arrays.sort(sorted);
      long[] identity = new long[n];
      Arrays.setAll(identity, i -> i);
      assertArrayEquals(identity, sorted, "n=" + n);
    }
  }

  @Test
  void orderDependsOnlyOnSeedAndEpoch() {
    assertArrayEquals(Batches.order(100, 42, 3), Batches.order(100, 42, 3));
    // 100! orders: two equal draws would mean the seed or epoch was ignored.
    assertFalse(Arrays.equals(Batches.order(100, 42, 3), Batches.order(100, 42, 4)));
    assertFalse(Arrays.equals(Batches.order(100, 42, 3), Batches.order(100, 43, 3)));
    assertFalse(Arrays.equals(Batches.order(100, 42, 0), identity(100)));
  }

  @Test
  void orderIsUnbiased() {
    // Over 4000 epochs each of the 4 positions should hold each index about 1000 times (sd ~27).
    // A shuffle with an off-by-one (Sattolo's cycle: j < i) never leaves an index in place and
    // fails this; so does ignoring the epoch.
    int[][] counts = new int[4][4];
    for (int epoch = 0; epoch < 4000; epoch++) {
      long[] o = Batches.order(4, 9, epoch);
      for (int pos = 0; pos < 4; pos++) {
        counts[pos][(int) o[pos]]++;
      }
    }
    for (int[] row : counts) {
      for (int c : row) {
        assertTrue(Math.abs(c - 1000) < 150, Arrays.deepToString(counts));
      }
    }
  }

  static final SftExample LONG =
      new SftExample(new long[] {1, 2, 3}, new boolean[] {false, false, true}, 1, false);
  static final SftExample SHORT =
      new SftExample(new long[] {4, 5}, new boolean[] {false, true}, 2, false);

  @Test
  void rightPaddingPutsPaddingAfterTheTokens() {
    Batches.PaddedBatch b = Batches.pad(List.of(LONG, SHORT), 9, false);
    assertEquals(2, b.rows());
    assertEquals(3, b.width());
    assertArrayEquals(new long[] {1, 2, 3, 4, 5, 9}, b.ids());
    assertArrayEquals(new long[] {1, 1, 1, 1, 1, 0}, b.mask());
    assertArrayEquals(new float[] {0, 0, 1, 0, 1, 0}, b.targets());
    assertEquals(2, b.targetCount());
  }

  @Test
  void leftPaddingPutsPaddingFirst() {
    Batches.PaddedBatch b = Batches.pad(List.of(LONG, SHORT), 9, true);
    assertArrayEquals(new long[] {1, 2, 3, 9, 4, 5}, b.ids());
    assertArrayEquals(new long[] {1, 1, 1, 0, 1, 1}, b.mask());
    assertArrayEquals(new float[] {0, 0, 1, 0, 0, 1}, b.targets());
  }

  @Test
  void emptyBatchIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> Batches.pad(List.of(), 0, false));
  }

  static long[] identity(int n) {
    long[] out = new long[n];
    Arrays.setAll(out, i -> i);
    return out;
  }
}
