package ai.tilt.sampling;

/**
 * How to pick each next token, in HF's order: logits / temperature, then top-k, then top-p
 * (nucleus), then a draw from what is left. {@code greedy} takes the argmax instead.
 *
 * @param maxNewTokens upper bound on generated tokens per sequence
 * @param temperature divides the logits; must be > 0 unless greedy
 * @param topK keep the k most likely tokens; 0 keeps all
 * @param topP keep the smallest set of most likely tokens whose mass reaches p; 1 keeps all
 * @param greedy argmax decoding (temperature, top-k and top-p are ignored)
 * @param ignoreEos keep generating after an EOS (benchmarks, fixed-length rollouts)
 * @param seed row r of a batch draws from its own stream seeded by (seed, r), so results depend
 *     only on the seed and the row, not on the rest of the batch
 */
public record SamplingParams(
    int maxNewTokens,
    double temperature,
    int topK,
    double topP,
    boolean greedy,
    boolean ignoreEos,
    long seed) {

  public SamplingParams {
    if (maxNewTokens < 1) {
      throw new IllegalArgumentException("max_new_tokens must be >= 1, got " + maxNewTokens);
    }
    if (!greedy && !(temperature > 0)) {
      throw new IllegalArgumentException(
          "temperature must be > 0 (use greedy for argmax), got " + temperature);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }
  }

  /** Plain ancestral sampling at temperature 1. */
  public static SamplingParams sample(int maxNewTokens, long seed) {
    return new SamplingParams(maxNewTokens, 1.0, 0, 1.0, false, false, seed);
  }

  public static SamplingParams greedy(int maxNewTokens) {
    return new SamplingParams(maxNewTokens, 1.0, 0, 1.0, true, false, 0);
  }

  public SamplingParams withIgnoreEos(boolean ignore) {
    return new SamplingParams(maxNewTokens, temperature, topK, topP, greedy, ignore, seed);
  }
}
