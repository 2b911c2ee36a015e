package ai.tilt.train;

import ai.tilt.data.Batches;
import ai.tilt.sampling.Generator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Every random stream of a run, each named once here. A stream is a pure function of the recipe's
 * {@code seed} and a position (epoch, iteration, optimizer step, pass, prompt), so a resumed run
 * draws exactly what the uninterrupted one would and no generator state is ever saved (DJL cannot
 * save libtorch's). The derivations are frozen: changing one changes the results of every recipe
 * that draws from it, so {@code StreamsTest} pins their values and checks that no two streams give
 * the same draws.
 *
 * <p>Two generators consume these: Java's {@link SplittableRandom} (orders, offline picks, pairs,
 * the token sampler's per-prompt streams, LoRA's initialisation) and libtorch's (weight
 * initialisation, LoRA dropout). Within each, the roots differ, with one exception kept for
 * continuity: a pass order and the offline picks share their iteration's root, and stay apart
 * because one re-seeds a shuffle from the root's first draw while the other draws from it directly;
 * the test checks that on the draws.
 */
public record Streams(long seed) {
  /**
   * Held-out evaluation samples under this iteration's streams, one no training iteration uses, so
   * every evaluation of a run (and of the reference) draws the same.
   */
  static final long EVAL_ITERATION = -7;

  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  /**
   * The order of epoch {@code epoch} over {@code n} items: dataset examples (one optimizer step of
   * {@code train.batch_size} at a time) or the prompts of an on-policy run (B at a time).
   */
  public long[] epochOrder(int n, long epoch) {
    return Batches.order(n, seed, (int) epoch);
  }

  /** The root of iteration {@code iteration}'s draws (sampling, offline picks, pass orders). */
  long iteration(long iteration) {
    return seed * GOLDEN ^ (iteration + 1) * 0xC2B2AE3D27D4EB4FL;
  }

  /**
   * The seeds of an iteration's prompts: prompt g's C responses draw from the generator's streams
   * (seed g, k), so an inference server given these seeds samples what this process would.
   */
  public long[] groupSeeds(long iteration, int prompts) {
    long root = iteration(iteration);
    long[] out = new long[prompts];
    for (int g = 0; g < prompts; g++) {
      out[g] = Generator.groupSeed(root, g);
    }
    return out;
  }

  /**
   * Dynamic sampling's extra round {@code round} (>= 1) of an iteration: its own root, so its
   * prompts and samples are a pure function of (seed, iteration, round) and a resumed run draws
   * them again alike.
   */
  long extraRound(long iteration, int round) {
    return iteration(iteration) ^ round * 0xD1B54A32D192ED03L;
  }

  /** The group seeds of an extra round's prompts (see {@link #groupSeeds}). */
  long[] extraRoundSeeds(long iteration, int round, int prompts) {
    long root = extraRound(iteration, round);
    long[] out = new long[prompts];
    for (int g = 0; g < prompts; g++) {
      out[g] = Generator.groupSeed(root, g);
    }
    return out;
  }

  /** Which training prompts an extra round draws: a permutation of the {@code n} prompts. */
  long[] extraRoundPrompts(long iteration, int round, int n) {
    return Batches.order(n, extraRound(iteration, round) ^ 0x64796E616D6963L, 0);
  }

  /** Pass {@code pass} over an iteration's items visits them in this order. */
  public PassOrder passOrder(long iteration) {
    return new PassOrder(iteration(iteration));
  }

  /** The permutations of the T passes over one iteration's items. */
  public record PassOrder(long root) {
    /** A permutation of 0..n-1 for pass {@code pass}. */
    public long[] of(int n, int pass) {
      return Batches.order(n, root, pass);
    }
  }

  /**
   * Offline on-policy runs ({@code online.source: offline}): where in each prompt's list to start.
   */
  SplittableRandom offlineResponses(long iteration) {
    return new SplittableRandom(iteration(iteration));
  }

  /** Pair losses with {@code online.pairs: random}: which responses pair up. */
  SplittableRandom pairs(long iteration) {
    return new SplittableRandom(iteration(iteration) ^ 0x5DEECE66DL);
  }

  /** LoRA dropout masks of optimizer step {@code step} (each forward mixes in its own key). */
  long loraDropout(long step) {
    return iteration(step);
  }

  /** A fresh model's weights: {@code model.init.seed} when set, else the recipe's. */
  long modelInit(Long initSeed) {
    return initSeed == null ? seed : initSeed;
  }

  /** Fresh LoRA adapters' A matrices. */
  public long loraInit() {
    return seed ^ 0x4C6F5241L;
  }

  /** PPO's fresh value head. */
  long valueHeadInit() {
    return seed ^ 0x76616C7565L;
  }

  /**
   * A reward model's fresh score head. Salted: unsalted, its draws were the first draws of a fresh
   * model's initialisation under the same seed (libtorch's generator serves both).
   */
  long scoreHeadInit() {
    return seed ^ 0x73636F7265L;
  }

  /**
   * KTO's KL batch: which other prompt's response each example of a micro-batch is paired with.
   * Seeded by the micro-batch's own indices, not the recipe seed: the indices already come from the
   * seeded epoch order, and the same micro-batch always gets the same partners.
   */
  static SplittableRandom ktoPartners(List<Integer> microBatch) {
    return new SplittableRandom(microBatch.hashCode() * GOLDEN);
  }
}
