package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.data.Batches;
import ai.tilt.data.PromptSet;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftExample;
import ai.tilt.model.CausalLM;
import ai.tilt.reward.Reward;
import ai.tilt.reward.RewardInput;
import ai.tilt.runtime.NoGrad;
import ai.tilt.sampling.Generator;
import ai.tilt.sampling.GroupGenerator;
import ai.tilt.sampling.SamplingParams;
import ai.tilt.tokenizer.TextTokenizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The collection half of an iteration: responses (sampled from the current policy, or the dataset's
 * when offline), their rewards, and the per-token log-probs of the policy (no graph) and the
 * reference. Sampling and offline picks draw from the iteration's {@link Streams}, so a resumed run
 * collects exactly what the uninterrupted one would.
 */
final class Collector {
  private final CausalLM policy;
  private final ReferenceModel reference;
  private final TextTokenizer tokenizer; // may be null (id-only models)
  private final long[] eosIds;
  private final long padId;
  private final int microBatch;
  private final Streams streams;
  private final Map<String, Double> timings = new LinkedHashMap<>(); // of the last collect

  Collector(
      CausalLM policy,
      ReferenceModel reference,
      TextTokenizer tokenizer,
      long[] eosIds,
      long padId,
      int microBatch,
      Streams streams) {
    this.policy = policy;
    this.reference = reference;
    this.tokenizer = tokenizer;
    this.eosIds = eosIds;
    this.padId = padId;
    this.microBatch = microBatch;
    this.streams = streams;
  }

  /**
   * How a collection gets its responses.
   *
   * @param source sampled from the model, or the prompts' own (offline) responses
   * @param samplesPerPrompt C
   * @param missingEosPenalty added to the reward of a response that ends without EOS; null: none
   * @param samplerIsPolicy the generator is the policy itself, in this process, at temperature 1
   *     over the whole vocabulary and in fp32, and the batch trains one step: its log-probs of the
   *     sampled tokens are the policy's (within 1e-6), so they serve as the old log-probs (for
   *     metrics and a KL in the reward; the loss takes its ratio as exactly 1) and the policy's
   *     forward over the completions is skipped, as TRL skips it when a batch is used once
   */
  record Settings(
      Online.Source source,
      int samplesPerPrompt,
      int maxNewTokens,
      double temperature,
      double topP,
      int topK,
      Double missingEosPenalty,
      boolean samplerIsPolicy) {}

  /** Samples C completions for each prompt (or takes the offline ones) and scores them. */
  Rollout collect(
      long iteration, List<PromptSet.Prompt> prompts, Settings cfg, Reward reward, CausalLM model) {
    return collect(iteration, prompts, cfg, reward, new Generator(model, eosIds));
  }

  /**
   * Collects with any generator (this process, or inference servers): prompt g's C samples draw
   * from the stream of {@link Streams#groupSeeds}, so an inference server given that seed per
   * request samples what this process would.
   */
  Rollout collect(
      long iteration,
      List<PromptSet.Prompt> prompts,
      Settings cfg,
      Reward reward,
      GroupGenerator generator) {
    int[] all = new int[prompts.size()];
    for (int g = 0; g < all.length; g++) {
      all[g] = g;
    }
    return collect(iteration, 0, prompts, all, cfg, reward, generator);
  }

  /**
   * Collects the prompts {@code mine} (indices into the iteration's {@code all}) of a data-parallel
   * worker, in round {@code round} of dynamic sampling (0: the iteration's own prompts; each extra
   * round draws from its own streams): each prompt draws from its own stream, so the workers
   * together collect what one process would. The rollout holds those prompts only, in that order.
   */
  Rollout collect(
      long iteration,
      int round,
      List<PromptSet.Prompt> all,
      int[] mine,
      Settings cfg,
      Reward reward,
      GroupGenerator generator) {
    long t0 = System.nanoTime();
    List<PromptSet.Prompt> prompts = new ArrayList<>(mine.length);
    for (int g : mine) {
      prompts.add(all.get(g));
    }
    int c = cfg.samplesPerPrompt();
    int rows = prompts.size() * c;
    long[][] completions = new long[rows][];
    boolean[] finished = new boolean[rows];
    float[][] samplingLogps = null;
    double[] labels = null;
    if (cfg.source() == Online.Source.ON_POLICY) {
      List<long[]> inputs = inputs(prompts);
      long[] everySeed =
          round == 0
              ? streams.groupSeeds(iteration, all.size())
              : streams.extraRoundSeeds(iteration, round, all.size());
      long[] groupSeeds = new long[mine.length];
      for (int i = 0; i < mine.length; i++) {
        groupSeeds[i] = everySeed[mine[i]];
      }
      SamplingParams params = samplingParams(cfg);
      List<Generator.Generation> gens = generator.generateGroups(inputs, c, params, groupSeeds);
      if (gens.size() != rows) {
        throw new IllegalStateException(
            "the generator returned " + gens.size() + " completions for " + rows);
      }
      samplingLogps = new float[rows][];
      for (int r = 0; r < rows; r++) {
        completions[r] = gens.get(r).completionIds();
        finished[r] = gens.get(r).finishReason() == Generator.FinishReason.EOS;
        samplingLogps[r] = gens.get(r).logprobs();
      }
    } else {
      // offline: response k of the prompt's list, cycling if it has fewer than C; the offsets
      // are drawn for every prompt of the iteration in order, whichever this worker collects
      SplittableRandom rnd = streams.offlineResponses(iteration);
      int[] offsets = new int[all.size()];
      for (int g = 0; g < offsets.length; g++) {
        offsets[g] = rnd.nextInt(all.get(g).responses().size());
      }
      // labels or scores for the whole iteration, as one process decides: not per worker's block
      labels = all.stream().allMatch(p -> p.rewards() != null) ? new double[rows] : null;
      for (int g = 0; g < prompts.size(); g++) {
        List<long[]> rs = prompts.get(g).responses();
        int offset = offsets[mine[g]];
        for (int k = 0; k < c; k++) {
          int at = (offset + k) % rs.size();
          long[] resp = rs.get(at);
          completions[g * c + k] = resp;
          finished[g * c + k] = resp.length > 0 && isEos(resp[resp.length - 1]);
          if (labels != null) {
            labels[g * c + k] = prompts.get(g).rewards()[at];
          }
        }
      }
    }
    long t1 = System.nanoTime();
    String[] texts = new String[rows];
    List<RewardInput> in = new ArrayList<>(rows);
    for (int r = 0; r < rows; r++) {
      PromptSet.Prompt p = prompts.get(r / c);
      texts[r] = tokenizer == null ? null : tokenizer.decode(completions[r], true);
      in.add(new RewardInput(p.record(), p.text(), p.ids(), texts[r], completions[r], finished[r]));
    }
    // labelled offline data keeps its labels (D_pref's, in the paper); everything else is scored
    Reward.Scores scores =
        labels != null ? new Reward.Scores(labels, Map.of()) : reward.scoreParts(in);
    double[] rewards = scores.total();
    if (rewards.length != rows) {
      throw new IllegalStateException(
          "the reward returned " + rewards.length + " scores for " + rows + " completions");
    }
    if (cfg.missingEosPenalty() != null) {
      for (int r = 0; r < rows; r++) {
        if (!finished[r]) {
          rewards[r] += cfg.missingEosPenalty();
        }
      }
    }
    long t2 = System.nanoTime();
    float[][] old =
        cfg.samplerIsPolicy() && samplingLogps != null
            ? samplingLogps
            : tokenLogps(policy, null, prompts, c, completions);
    long t3 = System.nanoTime();
    float[][] ref = tokenLogps(null, reference, prompts, c, completions);
    long t4 = System.nanoTime();
    long generated = 0;
    for (long[] comp : completions) {
      generated += comp.length;
    }
    timings.clear();
    timings.put("timing/generate_s", (t1 - t0) / 1e9);
    timings.put("timing/reward_s", (t2 - t1) / 1e9);
    timings.put("timing/policy_logps_s", (t3 - t2) / 1e9);
    timings.put("timing/reference_s", (t4 - t3) / 1e9);
    timings.put("perf/generated_tokens_per_s", generated / Math.max(1e-9, (t1 - t0) / 1e9));
    return new Rollout(
        iteration,
        prompts,
        c,
        completions,
        finished,
        samplingLogps,
        old,
        ref,
        rewards,
        scores.parts(),
        texts);
  }

  /** The ids that end a completion. */
  long[] eosIds() {
    return eosIds;
  }

  /** Seconds spent in each stage of the last {@link #collect}, and the generation throughput. */
  Map<String, Double> timings() {
    return timings;
  }

  static List<long[]> inputs(List<PromptSet.Prompt> prompts) {
    List<long[]> out = new ArrayList<>();
    for (PromptSet.Prompt p : prompts) {
      out.add(p.ids());
    }
    return out;
  }

  /** How a collection samples (the streams are its prompts' group seeds). */
  static SamplingParams samplingParams(Settings cfg) {
    return new SamplingParams(
        cfg.maxNewTokens(),
        cfg.temperature(),
        cfg.topK(),
        cfg.topP(),
        false,
        false,
        0); // rows without a group: collection samples groups, from their group seeds
  }

  private boolean isEos(long id) {
    for (long e : eosIds) {
      if (e == id) {
        return true;
      }
    }
    return false;
  }

  /** PPO: the value head's prediction at each completion token's position, without a graph. */
  float[][] tokenValues(
      Policy withValues, List<PromptSet.Prompt> prompts, int c, long[][] completions) {
    return perToken(
        prompts,
        c,
        completions,
        (ids, mask, from) -> {
          NDArray h = policy.hidden(ids, mask, CausalLM.positionsFromMask(mask), null); // (R, T, d)
          return withValues.values(
              h.get(":, {}:{}", from - 1, ids.getShape().get(1) - 1)); // (R, T - from)
        },
        null);
  }

  /** Per-token log-probs of each row's completion, without a graph, in micro-batches. */
  float[][] tokenLogps(
      CausalLM model,
      ReferenceModel ref,
      List<PromptSet.Prompt> prompts,
      int c,
      long[][] completions) {
    return perToken(
        prompts,
        c,
        completions,
        (ids, mask, from) ->
            model != null
                ? model.tokenLogprobs(ids, mask, from)
                : ref.tokenLogprobs(ids, mask, from),
        (packed, s) ->
            model != null
                ? packed.targetLogps(s, model)
                : ref.apply(m -> packed.targetLogps(s, m)));
  }

  /** A (R, T - from) quantity per position, from the padded rows' ids and mask. */
  interface PerPosition {
    NDArray compute(NDArray ids, NDArray mask, int from);
  }

  /** A (G, M) quantity per target of packed groups ({@link PackedRows#targetLogps}). */
  interface PerTarget {
    NDArray compute(PackedRows packed, NDManager s);
  }

  /**
   * @param packedF the same quantity of packed groups, used where packing costs less ({@link
   *     PackedRows#pays}); null: never packed
   */
  private float[][] perToken(
      List<PromptSet.Prompt> prompts,
      int c,
      long[][] completions,
      PerPosition f,
      PerTarget packedF) {
    int rows = completions.length;
    float[][] out = new float[rows][];
    try (NoGrad off = NoGrad.enter()) {
      int chunk = Math.max(1, microBatch * c);
      for (int start = 0; start < rows; start += chunk) {
        int end = Math.min(rows, start + chunk);
        int[] chunkRows = PolicyRows.range(start, end);
        List<ResponseGroup> groups =
            packedF == null ? null : PolicyRows.groups(prompts, c, completions, chunkRows);
        if (groups != null && PackedRows.pays(groups, policy.config())) {
          PackedRows packed = PackedRows.pack(groups, padId, policy.config().slidingWindow());
          try (NDManager s = policy.manager().newSubManager()) {
            float[] flat = packedF.compute(packed, s).toFloatArray(); // (G, M)
            PolicyRows.scatter(flat, packed.maxTargets(), c, completions, chunkRows, out);
          }
          continue;
        }
        List<SftExample> batch = new ArrayList<>();
        for (int r = start; r < end; r++) {
          batch.add(Rows.row(prompts.get(r / c).ids(), completions[r], 0));
        }
        Batches.PaddedBatch b = Batches.pad(batch, padId, false);
        int from = Rows.firstTarget(b);
        try (NDManager s = policy.manager().newSubManager()) {
          Shape shape = new Shape(b.rows(), b.width());
          NDArray ids = s.create(b.ids(), shape);
          NDArray mask = s.create(b.mask(), shape);
          float[] flat = f.compute(ids, mask, from).toFloatArray(); // (R, T - from)
          int width = b.width() - from;
          for (int r = start; r < end; r++) {
            int p = prompts.get(r / c).ids().length;
            float[] row = new float[completions[r].length];
            for (int j = 0; j < row.length; j++) {
              row[j] = flat[(r - start) * width + (p + j - from)];
            }
            out[r] = row;
          }
        }
      }
    }
    return out;
  }
}
