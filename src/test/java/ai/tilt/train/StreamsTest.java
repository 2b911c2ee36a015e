package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The run's random streams: their values are pinned (a change would silently change every recipe's
 * results and break resuming a checkpoint of an earlier version), and no two give the same draws.
 */
class StreamsTest {
  private static final Streams S = new Streams(42);

  /**
   * Expected values from an independent Python port of JDK 17's SplittableRandom and of the
   * documented derivations (iteration root {@code seed * 0x9E3779B97F4A7C15 ^ (i + 1) *
   * 0xC2B2AE3D27D4EB4F}, SplitMix64 group seeds, the shuffle of Batches.order); the same values
   * come out of the release before the streams were gathered here.
   */
  @Test
  void valuesAreThoseOfEarlierReleases() {
    assertArrayEquals(new long[] {1, 9, 6, 7, 8, 2, 3, 5, 4, 0}, S.epochOrder(10, 3));
    assertArrayEquals(new long[] {7, 1, 4, 3, 6, 2, 0, 5}, S.passOrder(5).of(8, 1));
    assertArrayEquals(
        new long[] {-6915400025583901664L, 4605038166547191700L, 4705867885424813807L},
        S.groupSeeds(2, 3));
    assertArrayEquals(
        new long[] {6415612318462204579L, 94025446304785950L}, new Streams(0).groupSeeds(0, 2));
    SplittableRandom offline = S.offlineResponses(4);
    assertArrayEquals(
        new int[] {723, 857, 97},
        new int[] {offline.nextInt(1000), offline.nextInt(1000), offline.nextInt(1000)});
    SplittableRandom pairs = S.pairs(4);
    assertArrayEquals(
        new int[] {484, 931, 518},
        new int[] {pairs.nextInt(1000), pairs.nextInt(1000), pairs.nextInt(1000)});
    assertEquals(8062347189204642404L, S.loraDropout(9));
    assertEquals(-7289618056345933996L, S.iteration(Streams.EVAL_ITERATION));
    assertEquals(1282364011L, S.loraInit());
    assertEquals(508440638799L, S.valueHeadInit());
    assertEquals(495589487183L, S.scoreHeadInit());
    assertEquals(42L, S.modelInit(null));
    assertEquals(7L, S.modelInit(7L));
  }

  /**
   * Within each generator family the roots differ for every seed and position tried: Java's
   * SplittableRandom (epoch orders from the seed, iteration roots, pairs, group seeds, LoRA's A)
   * and libtorch's (fresh weights, value head, score head, LoRA dropout per step).
   */
  @Test
  void rootsDifferWithinEachGenerator() {
    for (long seed : new long[] {0, 1, 7, 42, -1}) {
      Streams s = new Streams(seed);
      Map<Long, String> java = new HashMap<>();
      Map<Long, String> torch = new HashMap<>();
      claim(java, seed, "epoch orders");
      claim(java, s.loraInit(), "LoRA init");
      claim(torch, s.modelInit(null), "model init");
      claim(torch, s.valueHeadInit(), "value head init");
      claim(torch, s.scoreHeadInit(), "score head init");
      List<Long> positions = new ArrayList<>(List.of(Streams.EVAL_ITERATION));
      for (long i = 0; i < 40; i++) {
        positions.add(i); // iterations and steps count from 0; -1 and the like never occur
      }
      for (long i : positions) {
        claim(java, s.iteration(i), "iteration " + i);
        claim(java, s.pairs(i).nextLong(), "pairs " + i); // its first draw stands for its root
        for (long g : s.groupSeeds(i, 6)) {
          claim(java, g, "group seed of iteration " + i);
        }
        claim(torch, s.loraDropout(i), "LoRA dropout of step " + i);
      }
    }
  }

  private static void claim(Map<Long, String> taken, long value, String what) {
    String before = taken.putIfAbsent(value, what);
    assertNull(before, what + " has the value of " + before + ": " + value);
  }

  /** The one shared root: a pass order and the offline picks of an iteration draw differently. */
  @Test
  void passOrderAndOfflinePicksOfAnIterationDiffer() {
    for (long i = 0; i < 20; i++) {
      long[] order = S.passOrder(i).of(16, 0);
      SplittableRandom picks = S.offlineResponses(i);
      long[] drawn = new long[16];
      for (int k = 0; k < drawn.length; k++) {
        drawn[k] = picks.nextInt(16);
      }
      assertFalse(Arrays.equals(order, drawn), "iteration " + i);
    }
  }

  /** Consecutive epochs, passes and iterations are different permutations. */
  @Test
  void positionsGiveDifferentOrders() {
    List<long[]> seen = new ArrayList<>();
    for (int e = 0; e < 6; e++) {
      seen.add(S.epochOrder(32, e));
      seen.add(S.passOrder(e).of(32, 0));
      seen.add(S.passOrder(0).of(32, e + 1));
    }
    for (int a = 0; a < seen.size(); a++) {
      for (int b = a + 1; b < seen.size(); b++) {
        assertFalse(Arrays.equals(seen.get(a), seen.get(b)), a + " vs " + b);
      }
    }
  }
}
