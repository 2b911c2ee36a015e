package ai.tilt.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.Torch;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The sampler against hand-computed distributions. Logits ln[0.1, 0.4, 0.2, 0.25, 0.05] give those
 * probabilities exactly at temperature 1; 20,000 rows each draw once, so every frequency has a
 * standard error below 0.0035 and a 0.015 tolerance is over 4 sigma.
 */
class TokenSamplerTest {
  static final double[] P = {0.1, 0.4, 0.2, 0.25, 0.05};
  static final int ROWS = 20_000;
  static NDManager manager;

  @BeforeAll
  static void start() {
    Torch.init();
    manager = NDManager.newBaseManager();
  }

  @AfterAll
  static void stop() {
    manager.close();
  }

  static double[] frequencies(SamplingParams params, float[] logprobOf) {
    float[] logits = new float[ROWS * P.length];
    for (int r = 0; r < ROWS; r++) {
      for (int v = 0; v < P.length; v++) {
        logits[r * P.length + v] = (float) Math.log(P[v]);
      }
    }
    SplittableRandom[] streams = new SplittableRandom[ROWS];
    for (int r = 0; r < ROWS; r++) {
      streams[r] = TokenSampler.stream(params.seed(), r);
    }
    try (NDManager m = manager.newSubManager()) {
      NDArray x = m.create(logits, new Shape(ROWS, P.length));
      TokenSampler.Draw d = new TokenSampler(params).draw(x, streams);
      double[] f = new double[P.length];
      for (int r = 0; r < ROWS; r++) {
        int t = (int) d.tokens()[r];
        f[t] += 1.0 / ROWS;
        logprobOf[t] = d.logprobs()[r];
      }
      return f;
    }
  }

  static void assertFreqs(double[] want, double[] got) {
    for (int v = 0; v < want.length; v++) {
      assertEquals(want[v], got[v], 0.015, "token " + v);
    }
  }

  @Test
  void plainSamplingFollowsTheDistribution() {
    float[] lp = new float[P.length];
    assertFreqs(P, frequencies(new SamplingParams(1, 1.0, 0, 1.0, false, false, 3), lp));
    assertEquals(Math.log(0.4), lp[1], 1e-5);
  }

  /**
   * One top log-prob (the trainer's requests ask for it) comes from the sampling kernel's own
   * normaliser: the same tokens as without it, and the same top token and log-prob as the general
   * path (top-k of a log-softmax) gives for two.
   */
  @Test
  void oneTopLogprobComesWithTheDrawAndMatchesTheGeneralPath() {
    int rows = 64;
    int v = 5000;
    SplittableRandom r = new SplittableRandom(5);
    float[] logits = new float[rows * v];
    for (int i = 0; i < logits.length; i++) {
      logits[i] = (float) (3 * r.nextGaussian());
    }
    for (double temperature : new double[] {1.0, 0.7}) {
      SamplingParams params = new SamplingParams(1, temperature, 0, 1.0, false, false, 9);
      try (NDManager m = manager.newSubManager()) {
        NDArray x = m.create(logits, new Shape(rows, v));
        TokenSampler.Draw none = new TokenSampler(params).draw(x, streams(rows, 9), 0);
        TokenSampler.Draw one = new TokenSampler(params).draw(x, streams(rows, 9), 1);
        TokenSampler.Draw two = new TokenSampler(params).draw(x, streams(rows, 9), 2);
        assertArrayEquals(none.tokens(), one.tokens());
        assertArrayEquals(none.logprobs(), one.logprobs());
        for (int i = 0; i < rows; i++) {
          assertEquals(1, one.topIds()[i].length);
          assertEquals(two.topIds()[i][0], one.topIds()[i][0], "row " + i);
          assertEquals(two.topLogprobs()[i][0], one.topLogprobs()[i][0], 1e-4, "row " + i);
          assertTrue(one.topLogprobs()[i][0] >= one.logprobs()[i] - 1e-6, "the top is the top");
        }
      }
    }
  }

  private static SplittableRandom[] streams(int rows, long seed) {
    SplittableRandom[] s = new SplittableRandom[rows];
    for (int i = 0; i < rows; i++) {
      s[i] = TokenSampler.stream(seed, i);
    }
    return s;
  }

  @Test
  void temperatureSharpens() {
    // T = 0.5 squares the probabilities: p^2 / sum p^2, sum p^2 = 0.01+0.16+0.04+0.0625+0.0025 =
    // 0.275
    double[] want = {0.01 / 0.275, 0.16 / 0.275, 0.04 / 0.275, 0.0625 / 0.275, 0.0025 / 0.275};
    float[] lp = new float[P.length];
    assertFreqs(want, frequencies(new SamplingParams(1, 0.5, 0, 1.0, false, false, 4), lp));
    assertEquals(Math.log(0.16 / 0.275), lp[1], 1e-5);
  }

  @Test
  void topKKeepsTheKMostLikely() {
    // top-2 = {0.4, 0.25} -> 0.4/0.65, 0.25/0.65
    double[] want = {0, 0.4 / 0.65, 0, 0.25 / 0.65, 0};
    float[] lp = new float[P.length];
    assertFreqs(want, frequencies(new SamplingParams(1, 1.0, 2, 1.0, false, false, 5), lp));
    assertEquals(Math.log(0.25 / 0.65), lp[3], 1e-5);
  }

  @Test
  void topPKeepsTheSmallestNucleus() {
    // sorted 0.4, 0.25, 0.2, 0.1, 0.05; mass before each: 0, 0.4, 0.65, 0.85 -> top_p 0.7 keeps 3
    double[] want = {0, 0.4 / 0.85, 0.2 / 0.85, 0.25 / 0.85, 0};
    float[] lp = new float[P.length];
    assertFreqs(want, frequencies(new SamplingParams(1, 1.0, 0, 0.7, false, false, 6), lp));
    assertEquals(Math.log(0.2 / 0.85), lp[2], 1e-5);
    // top-k 4 then top-p 0.6: mass before 0.25 is 0.4/0.95 < 0.6, before 0.2 is 0.65/0.95 >= 0.6
    double[] want2 = {0, 0.4 / 0.65, 0, 0.25 / 0.65, 0};
    assertFreqs(want2, frequencies(new SamplingParams(1, 1.0, 4, 0.6, false, false, 7), lp));
  }

  @Test
  void greedyTakesTheArgmaxWithItsModelLogprob() {
    float[] lp = new float[P.length];
    double[] f = frequencies(SamplingParams.greedy(1), lp);
    assertEquals(1.0, f[1], 1e-9);
    assertEquals(Math.log(0.4), lp[1], 1e-5);
  }

  /**
   * The one-call kernel draw (no top-k/top-p, two-level prefix sums) picks the same tokens with the
   * same log-probs as the NDArray ops' one cumulative sum, on a 50k vocabulary, at temperature 1
   * and 0.7, over many draws.
   */
  @Test
  void kernelDrawEqualsNdarrayDraw() {
    org.junit.jupiter.api.Assumptions.assumeTrue(Kernels.available(), "kernels did not load");
    int rows = 16;
    // padded to whole 256-token blocks, a whole number of blocks, and less than one block
    for (int vocab : new int[] {50_257, 512, 100}) {
      SplittableRandom rnd = new SplittableRandom(5);
      float[] logits = new float[rows * vocab];
      for (int i = 0; i < logits.length; i++) {
        logits[i] = (float) (rnd.nextGaussian() * 3);
      }
      for (double temperature : new double[] {1.0, 0.7}) {
        SamplingParams params = new SamplingParams(1, temperature, 0, 1.0, false, true, 9);
        SplittableRandom[] a = streams(rows);
        SplittableRandom[] b = streams(rows);
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (int draw = 0; draw < 20; draw++) {
          try (NDManager m = manager.newSubManager()) {
            NDArray x = m.create(logits, new Shape(rows, vocab));
            TokenSampler.Draw fused = new TokenSampler(params, true).draw(x, a);
            TokenSampler.Draw plain = new TokenSampler(params, false).draw(x, b);
            String at = "vocab " + vocab + ", T " + temperature + ", draw " + draw;
            org.junit.jupiter.api.Assertions.assertArrayEquals(plain.tokens(), fused.tokens(), at);
            // the kernel's log-probs are computed in fp64, the NDArray path's log-softmax in fp32
            org.junit.jupiter.api.Assertions.assertArrayEquals(
                plain.logprobs(), fused.logprobs(), 2e-5f, at);
            java.util.Arrays.stream(fused.tokens()).forEach(seen::add);
          }
        }
        org.junit.jupiter.api.Assertions.assertTrue(
            seen.size() >= 2 * rows, seen.size() + " distinct tokens: real draws, not one token");
      }
    }
  }

  /**
   * A threshold at the very end of the mass (u the largest double below 1) lands in the last block,
   * whose last token here has probability e^-10000: the draw must take a token that can occur. The
   * blocks' running totals are fp32 block sums; when the chosen block's own fp64 prefix sums ended
   * short of its fp32 total, such a threshold found no token and took the block's last (102 of 200
   * rows, before the kernel scaled the prefix sums to the block's total).
   */
  @Test
  void aThresholdAtTheEndOfTheMassTakesAPossibleToken() {
    org.junit.jupiter.api.Assumptions.assumeTrue(Kernels.available(), "kernels did not load");
    int rows = 200;
    int vocab = 50_257;
    SplittableRandom rnd = new SplittableRandom(11);
    float[] logits = new float[rows * vocab];
    for (int i = 0; i < logits.length; i++) {
      int v = i % vocab;
      logits[i] = v % 256 == 255 || v == vocab - 1 ? -1e4f : (float) (rnd.nextGaussian() * 3);
    }
    double[] u = new double[rows];
    java.util.Arrays.fill(u, Math.nextDown(1.0));
    try (NDManager m = manager.newSubManager()) {
      double[] out =
          Kernels.on(ai.djl.Device.cpu())
              .samplePlain(
                  m.create(logits, new Shape(rows, vocab)), m.create(u, new Shape(rows, 1)), 1.0)
              .toDoubleArray();
      for (int r = 0; r < rows; r++) {
        int token = (int) out[2 * r];
        assertTrue(
            logits[r * vocab + token] > -100 && out[2 * r + 1] > -100,
            "row " + r + " drew token " + token + " with log-prob " + out[2 * r + 1]);
        assertTrue(token >= vocab - 81, "row " + r + ": the last block, not " + token);
      }
    }
  }

  private static SplittableRandom[] streams(int rows) {
    SplittableRandom[] s = new SplittableRandom[rows];
    for (int r = 0; r < rows; r++) {
      s[r] = TokenSampler.stream(9, r);
    }
    return s;
  }
}
