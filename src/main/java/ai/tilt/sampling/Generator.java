package ai.tilt.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.model.CausalLM;
import ai.tilt.model.KvCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Batched sampling from a {@link CausalLM}: left-padded prompts, one prefill pass filling a {@link
 * KvCache}, then one position per step. A row stops at any EOS id (unless ignored) and is dropped
 * from the batch, so finished rows cost nothing more. Runs outside any gradient collector: no graph
 * is built.
 */
public final class Generator implements GroupGenerator {
  private final CausalLM model;
  private final long[] eosIds;

  /**
   * @param eosIds every token id that ends a sequence (may be empty)
   */
  public Generator(CausalLM model, long[] eosIds) {
    this.model = model;
    this.eosIds = eosIds.clone();
  }

  /** Why a sequence ended. */
  public enum FinishReason {
    EOS,
    LENGTH,
    /** Its {@link TokenObserver} ended it (a stop string, a cancelled request). */
    STOPPED;

    public String label() {
      return name().toLowerCase();
    }
  }

  /**
   * One generated sequence.
   *
   * @param completionIds the new tokens, EOS included when it ended on one
   * @param logprobs log-prob of each new token under the distribution it was sampled from (after
   *     temperature, top-k, top-p; the model's own distribution when greedy)
   */
  public record Generation(
      long[] completionIds,
      float[] logprobs,
      FinishReason finishReason,
      long[][] topIds,
      float[][] topLogprobs) {
    public Generation(long[] completionIds, float[] logprobs, FinishReason finishReason) {
      this(completionIds, logprobs, finishReason, null, null);
    }
  }

  /**
   * Sees each token as it is sampled, on the generating thread: a server streams it, matches stop
   * strings, and ends the rows of a request whose client went away.
   */
  public interface TokenObserver {
    /**
     * @param row the row in the order of {@link #generateGroups}'s result
     * @param topIds the most likely tokens, when asked for (else null), with {@code topLogprobs}
     * @return false to end this row now (ignored for an EOS token, which ends it anyway)
     */
    boolean accept(int row, long token, float logprob, long[] topIds, float[] topLogprobs);
  }

  /** Generates with the KV cache. */
  public List<Generation> generate(List<long[]> prompts, SamplingParams params) {
    return generate(prompts, params, true);
  }

  /**
   * @param prompts token ids, at least one per prompt
   * @param useCache false recomputes the whole sequence every step (for tests and benchmarks)
   */
  public List<Generation> generate(List<long[]> prompts, SamplingParams params, boolean useCache) {
    return generate(prompts, params, useCache, 0);
  }

  /**
   * @param firstRow row r draws from stream (seed, firstRow + r): callers that split a long list
   *     into batches pass each batch's offset, so samples do not depend on the batch size
   */
  public List<Generation> generate(
      List<long[]> prompts, SamplingParams params, boolean useCache, long firstRow) {
    long[] seeds = new long[prompts.size()];
    long[] rows = new long[prompts.size()];
    Arrays.fill(seeds, params.seed());
    for (int r = 0; r < rows.length; r++) {
      rows[r] = firstRow + r;
    }
    return generate(prompts, params, useCache, seeds, rows, 0, null);
  }

  /**
   * C samples of each prompt, as on-policy training and a completions request with {@code n = C}
   * want them: sample k of prompt g draws from stream (groupSeeds[g], k), so the same prompt and
   * seed give the same samples here, batched with other prompts, and in {@code tilt serve}, one
   * request at a time. {@code params.seed()} is not used. One prefill per prompt serves its C rows.
   *
   * @return B*C generations, prompt by prompt
   */
  @Override
  public List<Generation> generateGroups(
      List<long[]> prompts, int samplesPerPrompt, SamplingParams params, long[] groupSeeds) {
    return generateGroups(prompts, samplesPerPrompt, params, groupSeeds, 0, null);
  }

  /**
   * {@link #generateGroups(List, int, SamplingParams, long[])}, also returning each token's {@code
   * topLogprobs} most likely alternatives, and showing each token to {@code observer} (may be null)
   * as it is drawn. Neither changes which tokens are drawn.
   */
  public List<Generation> generateGroups(
      List<long[]> prompts,
      int samplesPerPrompt,
      SamplingParams params,
      long[] groupSeeds,
      int topLogprobs,
      TokenObserver observer) {
    int n = prompts.size() * samplesPerPrompt;
    List<long[]> rows = new ArrayList<>(n);
    long[] seeds = new long[n];
    long[] choice = new long[n];
    for (int g = 0; g < prompts.size(); g++) {
      for (int k = 0; k < samplesPerPrompt; k++) {
        rows.add(prompts.get(g));
        seeds[g * samplesPerPrompt + k] = groupSeeds[g];
        choice[g * samplesPerPrompt + k] = k;
      }
    }
    return generate(rows, params, true, seeds, choice, topLogprobs, observer);
  }

  /** The seed of prompt g's samples in a batch drawn with {@code seed}. */
  public static long groupSeed(long seed, long group) {
    return TokenSampler.mix(seed ^ TokenSampler.mix(group + 0x9E3779B97F4A7C15L));
  }

  private List<Generation> generate(
      List<long[]> prompts,
      SamplingParams params,
      boolean useCache,
      long[] seeds,
      long[] rowIds,
      int topLogprobs,
      TokenObserver observer) {
    int b = prompts.size();
    int width = 0;
    for (int r = 0; r < b; r++) {
      if (prompts.get(r).length == 0) {
        throw new IllegalArgumentException(
            "prompt " + r + " is empty: give at least one token (e.g. BOS)");
      }
      width = Math.max(width, prompts.get(r).length);
    }
    if (model.config().rope() == null
        && width + params.maxNewTokens() > model.config().maxPositions()) {
      throw new IllegalArgumentException(
          "prompt ("
              + width
              + ") + max_new_tokens ("
              + params.maxNewTokens()
              + ") exceeds the model's "
              + model.config().maxPositions()
              + " positions");
    }
    TokenSampler draws = new TokenSampler(params);
    SplittableRandom[] streams = new SplittableRandom[b];
    List<List<Long>> tokens = new ArrayList<>();
    List<List<Float>> logps = new ArrayList<>();
    List<List<long[]>> topIds = new ArrayList<>();
    List<List<float[]>> topLogps = new ArrayList<>();
    FinishReason[] reasons = new FinishReason[b];
    for (int r = 0; r < b; r++) {
      streams[r] = TokenSampler.stream(seeds[r], rowIds[r]);
      tokens.add(new ArrayList<>());
      logps.add(new ArrayList<>());
      topIds.add(new ArrayList<>());
      topLogps.add(new ArrayList<>());
    }
    int[] active = new int[b]; // active row -> original row
    for (int r = 0; r < b; r++) {
      active[r] = r;
    }
    try (NDManager gen = model.manager().newSubManager();
        KvCache cache =
            useCache
                ? new KvCache(gen, model.config().numLayers(), width + params.maxNewTokens())
                : null) {
      long[] last = null; // token fed at this step, per active row
      for (int step = 0; step < params.maxNewTokens() && active.length > 0; step++) {
        TokenSampler.Draw draw;
        try (NDManager s = gen.newSubManager()) {
          NDArray logits;
          if (!useCache) {
            logits = recompute(s, prompts, tokens, active, width);
          } else if (step == 0) {
            logits = prefill(s, prompts, width, cache);
          } else {
            logits = decode(s, prompts, tokens, active, last, cache);
          }
          SplittableRandom[] rowStreams = new SplittableRandom[active.length];
          for (int i = 0; i < active.length; i++) {
            rowStreams[i] = streams[active[i]];
          }
          draw = draws.draw(logits, rowStreams, topLogprobs);
        }
        int[] still = new int[active.length];
        int n = 0;
        int[] keep = new int[active.length]; // positions within the active batch
        for (int i = 0; i < active.length; i++) {
          int r = active[i];
          long token = draw.tokens()[i];
          float logp = draw.logprobs()[i];
          tokens.get(r).add(token);
          logps.get(r).add(logp);
          long[] ti = draw.topIds() == null ? null : draw.topIds()[i];
          float[] tl = draw.topLogprobs() == null ? null : draw.topLogprobs()[i];
          if (ti != null) {
            topIds.get(r).add(ti);
            topLogps.get(r).add(tl);
          }
          boolean go = observer == null || observer.accept(r, token, logp, ti, tl);
          if (!params.ignoreEos() && isEos(token)) {
            reasons[r] = FinishReason.EOS;
          } else if (!go) {
            reasons[r] = FinishReason.STOPPED;
          } else {
            keep[n] = i;
            still[n++] = r;
          }
        }
        last = new long[n];
        for (int i = 0; i < n; i++) {
          last[i] = tokens.get(still[i]).get(tokens.get(still[i]).size() - 1);
        }
        if (n < active.length && n > 0 && cache != null) {
          try (NDManager s = gen.newSubManager()) {
            cache.keepRows(s.create(Arrays.stream(keep, 0, n).asLongStream().toArray()));
          }
        }
        active = Arrays.copyOf(still, n);
      }
    }
    List<Generation> out = new ArrayList<>();
    for (int r = 0; r < b; r++) {
      List<Long> t = tokens.get(r);
      float[] lp = new float[t.size()];
      for (int i = 0; i < lp.length; i++) {
        lp[i] = logps.get(r).get(i);
      }
      FinishReason reason = reasons[r] == null ? FinishReason.LENGTH : reasons[r];
      long[] ids = t.stream().mapToLong(Long::longValue).toArray();
      out.add(
          topLogprobs > 0
              ? new Generation(
                  ids,
                  lp,
                  reason,
                  topIds.get(r).toArray(long[][]::new),
                  topLogps.get(r).toArray(float[][]::new))
              : new Generation(ids, lp, reason));
    }
    return out;
  }

  private boolean isEos(long token) {
    for (long e : eosIds) {
      if (e == token) {
        return true;
      }
    }
    return false;
  }

  /**
   * Runs the left-padded prompts through the model, filling the cache; returns (B, V) logits. A
   * prompt that appears several times (C samples of one prompt in on-policy training) runs once;
   * its cache rows and logits are then repeated for each copy.
   */
  private NDArray prefill(NDManager s, List<long[]> prompts, int width, KvCache cache) {
    List<long[]> unique = new ArrayList<>();
    long[] source = new long[prompts.size()]; // row -> its prompt's row among the unique ones
    Map<List<Long>, Integer> seen = new HashMap<>();
    for (int r = 0; r < prompts.size(); r++) {
      List<Long> key = Arrays.stream(prompts.get(r)).boxed().toList();
      Integer at = seen.get(key);
      if (at == null) {
        at = unique.size();
        seen.put(key, at);
        unique.add(prompts.get(r));
      }
      source[r] = at;
    }
    if (unique.size() == prompts.size()) {
      return prefillRows(s, prompts, width, cache);
    }
    NDArray logits = prefillRows(s, unique, width, cache); // (U, V)
    NDArray rows = s.create(source);
    cache.keepRows(rows);
    return logits.get(rows);
  }

  private NDArray prefillRows(NDManager s, List<long[]> prompts, int width, KvCache cache) {
    int b = prompts.size();
    long[] ids = new long[b * width];
    long[] mask = new long[b * width];
    for (int r = 0; r < b; r++) {
      long[] p = prompts.get(r);
      int off = width - p.length;
      System.arraycopy(p, 0, ids, r * width + off, p.length);
      Arrays.fill(mask, r * width + off, (r + 1) * width, 1L);
    }
    NDArray idArr = s.create(ids, new Shape(b, width));
    NDArray maskArr = s.create(mask, new Shape(b, width));
    NDArray h = model.hidden(idArr, maskArr, CausalLM.positionsFromMask(maskArr), cache);
    return model.logits(h.get(":, -1")); // left padding: the last column is real in every row
  }

  /** Feeds one new token per active row; returns (B_active, V) logits. */
  private NDArray decode(
      NDManager s,
      List<long[]> prompts,
      List<List<Long>> tokens,
      int[] active,
      long[] last,
      KvCache cache) {
    int b = active.length;
    long[] pos = new long[b];
    for (int i = 0; i < b; i++) {
      int r = active[i];
      pos[i] = prompts.get(r).length + tokens.get(r).size() - 1;
    }
    return model.decodeLogits(
        s.create(last, new Shape(b, 1)), s.create(pos, new Shape(b, 1)), cache);
  }

  /** Without a cache: the whole prompt + completion so far, left-padded, every step. */
  private NDArray recompute(
      NDManager s, List<long[]> prompts, List<List<Long>> tokens, int[] active, int width) {
    int b = active.length;
    int t = width + tokens.get(active[0]).size();
    long[] ids = new long[b * t];
    long[] mask = new long[b * t];
    for (int i = 0; i < b; i++) {
      long[] p = prompts.get(active[i]);
      List<Long> done = tokens.get(active[i]);
      int len = p.length + done.size();
      int off = i * t + t - len;
      System.arraycopy(p, 0, ids, off, p.length);
      for (int j = 0; j < done.size(); j++) {
        ids[off + p.length + j] = done.get(j);
      }
      Arrays.fill(mask, off, (i + 1) * t, 1L);
    }
    NDArray idArr = s.create(ids, new Shape(b, t));
    NDArray maskArr = s.create(mask, new Shape(b, t));
    NDArray h = model.hidden(idArr, maskArr, CausalLM.positionsFromMask(maskArr), null);
    return model.logits(h.get(":, -1"));
  }
}
