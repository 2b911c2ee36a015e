package ai.tilt.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * pi_data against values worked out by hand from its definition, the histogram of tanh(Cauchy(-0.7,
 * 0.4)) in 100 bins over [-1, 1], and against the figures shared/notes/paper.md gives for it (from
 * simulating the paper's code).
 */
class PiDataTest {
  @Test
  void binMassesAreTheCauchyCdfDifferencesAtTheAtanhOfTheEdges() {
    double[] p = PiData.probabilities();
    assertEquals(100, p.length);
    double sum = 0;
    for (double x : p) {
      assertTrue(x > 0);
      sum += x;
    }
    assertEquals(1.0, sum, 1e-12);
    // Bin 0 holds every x < atanh(-0.98) = -2.29756: 1/2 + atan((-2.29756 + 0.7) / 0.4) / pi
    // = 1/2 + atan(-3.99390) / pi = 1/2 - (pi/2 - atan(0.250382)) / pi = 1/2 - 1.325458 / pi =
    // 0.078094.
    assertEquals(0.078094, p[0], 2e-5);
    // Bin 99 holds every x >= atanh(0.98) = 2.29756: 1/2 - atan((2.29756 + 0.7) / 0.4) / pi
    // = 1/2 - atan(7.49390) / pi = 1/2 - (pi/2 - atan(0.133442)) / pi = 1/2 - 1.438137 / pi =
    // 0.042226.
    assertEquals(0.042226, p[99], 2e-5);
    // Bin 70 is [0.4, 0.42): atanh 0.423649 and 0.447692; F = 0.929232 and 0.931343.
    assertEquals(0.002111, p[70], 2e-5);
  }

  @Test
  void shapeAsTheNotesDescribeIt() {
    double[] p = PiData.probabilities();
    int mode = 1;
    for (int k = 2; k < 99; k++) {
      mode = p[k] > p[mode] ? k : mode;
    }
    assertEquals(16, mode); // "an interior mode around token 16-17"
    assertEquals(0.0268, p[16], 5e-4); // "per-bin probability about 0.03"
    double below50 = 0;
    for (int k = 0; k < 50; k++) {
      below50 += p[k];
    }
    assertEquals(0.835, below50, 1e-3); // "about 84% of the mass on tokens < 50"
    // E[r] of the two rewards: about 0.04 far (70) and 0.38 near (20), as the notes say
    assertEquals(0.0390, PiData.expected(a -> PiData.bump(a, 70, 10)), 5e-4);
    assertEquals(0.3772, PiData.expected(a -> PiData.bump(a, 20, 10)), 5e-4);
  }

  @Test
  void samplesFollowTheMasses() {
    double[] p = PiData.probabilities();
    int n = 400_000;
    int[] counts = new int[100];
    SplittableRandom r = new SplittableRandom(7);
    for (int i = 0; i < n; i++) {
      counts[PiData.sample(r)]++;
    }
    for (int k = 0; k < 100; k++) {
      double sd = Math.sqrt(n * p[k] * (1 - p[k]));
      assertEquals(n * p[k], counts[k], 5 * sd + 1, "action " + k);
    }
  }
}
