package ai.tilt.lab;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.data.SampledPairs;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SampledPairsTest {
  @Test
  void bestAgainstWorstFirstOfEqualsAndTiesDropped() {
    assertArrayEquals(new int[] {1, 2}, SampledPairs.bestVsWorst(new double[] {-3, -1, -5, -1}, 0));
    assertArrayEquals(new int[] {0, 1}, SampledPairs.bestVsWorst(new double[] {2, 1}, 0));
    assertNull(SampledPairs.bestVsWorst(new double[] {-4, -4}, 0));
    assertNull(SampledPairs.bestVsWorst(new double[] {1.0, 1.4}, 0.5)); // gap 0.4 is not over 0.5
    // one text scored twice a few bits apart is a tie
    assertNull(
        SampledPairs.bestVsWorst(new String[] {" 1 2", " 1 2"}, new double[] {5.53, 5.5300001}, 0));
    assertArrayEquals(
        new int[] {1, 0},
        SampledPairs.bestVsWorst(new String[] {" 1 2", " 1 3"}, new double[] {5.53, 5.5300001}, 0));
  }

  @Test
  void truncationKeepsOnePlusAnExponentialNumberOfWords() {
    // mean 0: floor(0) = 0, so exactly one word is kept, with its leading space and nothing after
    assertEquals(" 1", SampledPairs.truncateWords(" 1 2 3", 0, new SplittableRandom(1), false));
    assertEquals(" only", SampledPairs.truncateWords(" only", 0, new SplittableRandom(1), false));
    assertEquals("", SampledPairs.truncateWords("", 3, new SplittableRandom(1), false));
    // P(keep k words) = P(k - 1 <= E < k) = e^{-(k-1)/3} - e^{-k/3}: 0.2835 for k = 1, 0.2031 for k
    // = 2
    SplittableRandom r = new SplittableRandom(5);
    int n = 100_000;
    int[] kept = new int[40];
    String ten =
        " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30";
    for (int i = 0; i < n; i++) {
      kept[SampledPairs.truncateWords(ten, 3, r, false).trim().split(" ").length]++;
    }
    assertEquals(1 - Math.exp(-1.0 / 3), kept[1] / (double) n, 0.005);
    assertEquals(Math.exp(-1.0 / 3) - Math.exp(-2.0 / 3), kept[2] / (double) n, 0.005);
  }

  @Test
  void keepingTheLastWordsGivesACountTheReferenceNeverStarts() {
    // mean 0 keeps one word: the last, with one leading space
    assertEquals(" 3", SampledPairs.truncateWords(" 1 2  3", 0, new SplittableRandom(1), true));
    assertEquals(" 2", SampledPairs.truncateWords(" 1 2", 0, new SplittableRandom(1), true));
    // a completion no longer than the draw stays whole
    assertEquals(" only", SampledPairs.truncateWords(" only", 5, new SplittableRandom(1), true));
    SplittableRandom r = new SplittableRandom(7);
    String ten = " 1 2 3 4 5 6 7 8 9 10";
    for (int i = 0; i < 1000; i++) {
      String cut = SampledPairs.truncateWords(ten, 3, r, true);
      assertTrue(ten.endsWith(cut), cut);
      assertTrue(cut.equals(ten) || !cut.startsWith(" 1 "), cut);
    }
  }
}
