package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.data.Batches;
import ai.tilt.data.SftExample;
import ai.tilt.tokenizer.TextTokenizer;
import java.util.List;

/**
 * Prompt + response rows and the log-probs of their responses: the unit every objective that scores
 * responses (preference losses, reward model, policy gradient, collection) is built from.
 */
final class Rows {
  private Rows() {}

  /** Padding id for batches: the tokenizer's, else its EOS (masked either way), else 0. */
  static long padId(TextTokenizer tokenizer) {
    if (tokenizer == null) {
      return 0; // masked everywhere, so any id in the vocabulary does
    }
    if (tokenizer.padId() != null) {
      return tokenizer.padId();
    }
    return tokenizer.eosIds().length > 0 ? tokenizer.eosIds()[0] : 0;
  }

  /** Per-token log-probs of a padded batch: a policy's (with a graph) or a reference's (none). */
  interface TokenLogprobs {
    /**
     * @param ids (B, T)
     * @param mask (B, T)
     * @return (B, T - from)
     */
    NDArray of(NDArray ids, NDArray mask, int from);
  }

  /** A prompt + response row whose targets are the response's tokens. */
  static SftExample row(long[] prompt, long[] response, int line) {
    long[] ids = new long[prompt.length + response.length];
    System.arraycopy(prompt, 0, ids, 0, prompt.length);
    System.arraycopy(response, 0, ids, prompt.length, response.length);
    boolean[] targets = new boolean[ids.length];
    for (int t = Math.max(1, prompt.length); t < ids.length; t++) {
      targets[t] = true;
    }
    return new SftExample(ids, targets, line, false);
  }

  /**
   * Sum of each row's target-token log-probs.
   *
   * @return (R)
   */
  static NDArray sequenceLogps(NDManager m, TokenLogprobs model, List<SftExample> rows, long pad) {
    Batches.PaddedBatch b = Batches.pad(rows, pad, false);
    Shape shape = new Shape(b.rows(), b.width());
    int from = firstTarget(b);
    NDArray ids = m.create(b.ids(), shape);
    NDArray mask = m.create(b.mask(), shape);
    NDArray logp = model.of(ids, mask, from); // (R, T - from)
    NDArray targets = m.create(b.targets(), shape).get(":, {}:", from); // (R, T - from)
    return logp.mul(targets).sum(new int[] {1});
  }

  /** The first column holding a target in any row (at least 1: position 0 has no prediction). */
  static int firstTarget(Batches.PaddedBatch b) {
    int first = b.width() - 1;
    for (int r = 0; r < b.rows(); r++) {
      for (int t = 1; t < first; t++) {
        if (b.targets()[r * b.width() + t] != 0) {
          first = t;
          break;
        }
      }
    }
    return Math.max(1, first);
  }
}
