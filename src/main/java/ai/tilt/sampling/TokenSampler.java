package ai.tilt.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.Scalars;
import ai.tilt.runtime.Torch;
import java.util.SplittableRandom;

/**
 * Draws one token per row from (B, V) logits with temperature, top-k and top-p.
 *
 * <p>DJL has no multinomial (shared/notes/djl.md section 3), so a row samples by inverse CDF: one
 * uniform drawn in Java from the row's own stream picks the first token whose cumulative
 * probability exceeds it. The cumulative sum runs in fp64 so the tail of a 50k-token vocabulary
 * keeps its mass. Java-side streams also make sampling resumable, which libtorch's generator (whose
 * state DJL cannot save) is not.
 */
final class TokenSampler {
  private static final long SMALL_DRAW = 1L << 20; // logits (B x V) a plain draw runs on one thread
  private static final float REMOVED = -1e30f; // finite: removed tokens get probability 0, no NaN

  private final SamplingParams params;

  private final boolean useKernels;

  TokenSampler(SamplingParams params) {
    this(params, true);
  }

  /**
   * @param useKernels false keeps every draw on NDArray ops (tests compare the two)
   */
  TokenSampler(SamplingParams params, boolean useKernels) {
    this.params = params;
    this.useKernels = useKernels;
  }

  /**
   * A row's random stream, seeded by (seed, row) through SplitMix64's finaliser. Mixing matters:
   * seeding SplittableRandom with seed * its own increment would make stream(s + 1, r) the stream
   * of (s, r) shifted by one draw.
   */
  static SplittableRandom stream(long seed, long row) {
    return new SplittableRandom(mix(mix(seed) ^ (row * 0xD1B54A32D192ED03L + 0x632BE59BD9B4E019L)));
  }

  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /**
   * Sampled tokens and their log-probs under the distribution they were drawn from.
   *
   * @param topIds per row, the k most likely tokens of that distribution, most likely first; null
   *     when none were asked for
   * @param topLogprobs their log-probs
   */
  record Draw(long[] tokens, float[] logprobs, long[][] topIds, float[][] topLogprobs) {
    Draw(long[] tokens, float[] logprobs) {
      this(tokens, logprobs, null, null);
    }

    Draw withTop(Top top) {
      return top == null ? this : new Draw(tokens, logprobs, top.ids, top.logprobs);
    }
  }

  private record Top(long[][] ids, float[][] logprobs) {}

  /**
   * The k most likely tokens per row of (B, C) log-probs whose columns are {@code candidateIds}
   * (null: the vocabulary); k is cut to C.
   */
  private static Top top(NDArray logp, NDArray candidateIds, int k) {
    int b = (int) logp.getShape().get(0);
    int kk = (int) Math.min(k, logp.getShape().get(1));
    NDList t = logp.topK(kk, -1, true, true);
    NDArray idx = candidateIds == null ? t.get(1) : candidateIds.gather(t.get(1), -1);
    long[] flatIds = idx.toType(DataType.INT64, false).toLongArray();
    float[] flatLp = t.get(0).toType(DataType.FLOAT32, false).toFloatArray();
    long[][] ids = new long[b][kk];
    float[][] lps = new float[b][kk];
    for (int r = 0; r < b; r++) {
      System.arraycopy(flatIds, r * kk, ids[r], 0, kk);
      System.arraycopy(flatLp, r * kk, lps[r], 0, kk);
    }
    return new Top(ids, lps);
  }

  private static double[] uniforms(SplittableRandom[] streams, long b) {
    double[] u = new double[(int) b];
    for (int r = 0; r < b; r++) {
      u[r] = streams[r].nextDouble();
    }
    return u;
  }

  /**
   * @param logits (B, V) fp32
   * @param streams one random stream per row, advanced by one draw each
   */
  Draw draw(NDArray logits, SplittableRandom[] streams) {
    return draw(logits, streams, 0);
  }

  /**
   * @param topLogprobs also return each row's this many most likely tokens (0: none), under the
   *     distribution the token was drawn from, as the sampled token's log-prob is
   */
  Draw draw(NDArray logits, SplittableRandom[] streams, int topLogprobs) {
    NDManager m = logits.getManager();
    long b = logits.getShape().get(0);
    if (params.greedy()) {
      NDArray tokens = logits.argMax(-1); // (B)
      NDArray all = logits.logSoftmax(-1);
      NDArray logp = all.gather(tokens.expandDims(-1), -1);
      return new Draw(tokens.toLongArray(), logp.toFloatArray())
          .withTop(topLogprobs > 0 ? top(all, null, topLogprobs) : null);
    }
    long v = logits.getShape().get(1);
    boolean plain = (params.topK() <= 0 || params.topK() >= v) && params.topP() >= 1.0;
    Kernels kernels = plain && useKernels ? Kernels.on(logits.getDevice()) : null;
    if (kernels != null) {
      // the same ops in one call: a dozen separate ones cost more than their arithmetic
      NDArray u = m.create(uniforms(streams, b), new Shape(b, 1));
      double temperature = (double) (float) params.temperature();
      boolean top1 = topLogprobs == 1; // the trainer's requests: one more column, not 3 ms a step
      double[] out;
      // up to 4 MB of logits (batch 20 on a 50k vocabulary) the draw's passes run faster on one
      // thread than waking the others for each; past that the arithmetic is worth sharing
      int threads = b * v <= SMALL_DRAW ? Torch.oneThreadForDecode() : 0;
      try {
        out =
            (top1
                    ? kernels.samplePlainTop1(logits, u, temperature)
                    : kernels.samplePlain(logits, u, temperature))
                .toDoubleArray();
      } finally {
        Torch.restoreThreads(threads);
      }
      int cols = top1 ? 4 : 2;
      long[] tokens = new long[(int) b];
      float[] logps = new float[(int) b];
      long[][] topIds = top1 ? new long[(int) b][1] : null;
      float[][] topLps = top1 ? new float[(int) b][1] : null;
      for (int r = 0; r < b; r++) {
        tokens[r] = (long) out[cols * r];
        logps[r] = (float) out[cols * r + 1];
        if (top1) {
          topIds[r][0] = (long) out[cols * r + 2];
          topLps[r][0] = (float) out[cols * r + 3];
        }
      }
      Top top =
          top1
              ? new Top(topIds, topLps)
              : topLogprobs > 0
                  ? top(
                      Scalars.div(logits, (float) params.temperature()).logSoftmax(-1),
                      null,
                      topLogprobs)
                  : null;
      return new Draw(tokens, logps).withTop(top);
    }
    NDArray scaled =
        params.temperature() == 1.0 ? logits : Scalars.div(logits, (float) params.temperature());
    NDArray candidates = scaled; // (B, C) logits of the candidate tokens
    NDArray candidateIds = null; // (B, C) their vocabulary ids; null = identity (C = V)
    if (params.topK() > 0 && params.topK() < v) {
      NDList top = scaled.topK(params.topK(), -1, true, true); // sorted, largest first
      candidates = top.get(0);
      candidateIds = top.get(1);
    } else if (params.topP() < 1.0) {
      candidateIds = scaled.argSort(-1, false);
      candidates = scaled.gather(candidateIds, -1);
    }
    if (params.topP() < 1.0) {
      // Keep a token while the mass of the more likely ones is below top_p (HF keeps >= 1 token).
      NDArray probs = candidates.softmax(-1);
      NDArray before = probs.cumSum(-1).sub(probs); // (B, C)
      NDArray removed = before.gte((float) params.topP());
      candidates = candidates.add(Scalars.mul(removed.toType(DataType.FLOAT32, false), REMOVED));
    }
    NDArray logp = candidates.logSoftmax(-1); // (B, C)
    NDArray cdf = logp.exp().toType(DataType.FLOAT64, false).cumSum(-1); // (B, C)
    double[] u = uniforms(streams, b);
    NDArray total = cdf.get(":, -1:"); // (B, 1), ~1
    NDArray threshold = m.create(u, new Shape(b, 1)).mul(total);
    long c = candidates.getShape().get(1);
    NDArray choice =
        Scalars.minimum(cdf.lt(threshold).sum(new int[] {1}), c - 1)
            .toType(DataType.INT64, false)
            .expandDims(-1);
    NDArray tokens = candidateIds == null ? choice : candidateIds.gather(choice, -1);
    NDArray chosenLogp = logp.gather(choice, -1);
    return new Draw(tokens.toLongArray(), chosenLogp.toFloatArray())
        .withTop(topLogprobs > 0 ? top(logp, candidateIds, topLogprobs) : null);
  }
}
