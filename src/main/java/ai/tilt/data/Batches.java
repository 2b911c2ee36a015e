package ai.tilt.data;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Pure functions the trainer uses to order and pad examples. Neither keeps state, so resuming at
 * (epoch, step) needs only the seed: the order of an epoch is recomputed, not restored.
 */
public final class Batches {
  // Odd constant (2^64 / golden ratio) that spreads consecutive epochs far apart in seed space.
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  private Batches() {}

  /**
   * A shuffled permutation of {@code 0..n-1} that depends only on {@code (seed, epoch)}: a
   * Fisher-Yates shuffle driven by a {@link SplittableRandom} seeded with {@code new
   * SplittableRandom(seed).nextLong() + epoch * 0x9E3779B97F4A7C15L}. The first draw scrambles the
   * user's seed, so seeds 1 and 2 do not give related streams; the epoch term gives each epoch its
   * own stream. The same arguments give the same order on every JVM.
   *
   * @return {@code [n]} indices, each of 0..n-1 once
   */
  public static long[] order(int n, long seed, int epoch) {
    if (n < 0) {
      throw new IllegalArgumentException("n must be >= 0, got " + n);
    }
    SplittableRandom random =
        new SplittableRandom(new SplittableRandom(seed).nextLong() + epoch * GOLDEN);
    long[] out = new long[n];
    for (int i = 0; i < n; i++) {
      out[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      long t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
  }

  /**
   * A padded batch as flat row-major arrays of {@code [rows * width]}; element {@code (r, t)} is at
   * {@code r * width + t}. {@code width} is the longest row's length.
   *
   * @param ids token ids, the pad id on padding
   * @param mask 1 for real tokens, 0 for padding
   * @param targets 1.0f where the row's {@link SftExample#targets()} is true, else 0 (always 0 on
   *     padding); the loss at {@code (r, t)} scores {@code ids[r, t]} against the logits at {@code
   *     (r, t - 1)}
   * @param rows number of rows, B
   * @param width padded length, T
   */
  public record PaddedBatch(long[] ids, long[] mask, float[] targets, int rows, int width) {
    /** Number of target tokens in the batch (the usual loss denominator). */
    public int targetCount() {
      int n = 0;
      for (float t : targets) {
        n += t > 0 ? 1 : 0;
      }
      return n;
    }
  }

  /**
   * Pads examples to the longest one. Right padding (real tokens first) unless {@code left}, which
   * puts the padding first (real tokens end at the last column). The mask, not the pad id, says
   * what is padding, so {@code padId} may equal an EOS id that is a target.
   *
   * @throws IllegalArgumentException on an empty list
   */
  public static PaddedBatch pad(List<SftExample> rows, long padId, boolean left) {
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("cannot pad an empty batch");
    }
    int width = 0;
    for (SftExample e : rows) {
      width = Math.max(width, e.length());
    }
    int n = rows.size();
    long[] ids = new long[n * width];
    long[] mask = new long[n * width];
    float[] targets = new float[n * width];
    Arrays.fill(ids, padId);
    for (int r = 0; r < n; r++) {
      SftExample e = rows.get(r);
      int start = r * width + (left ? width - e.length() : 0);
      for (int t = 0; t < e.length(); t++) {
        ids[start + t] = e.ids()[t];
        mask[start + t] = 1;
        targets[start + t] = e.targets()[t] ? 1f : 0f;
      }
    }
    return new PaddedBatch(ids, mask, targets, n, width);
  }
}
