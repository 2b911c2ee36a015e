package ai.tilt.train;

import ai.tilt.data.PromptSet;
import ai.tilt.dist.Group;
import ai.tilt.model.Precision;
import ai.tilt.reward.Reward;
import ai.tilt.reward.RewardContext;
import ai.tilt.runtime.Devices;
import ai.tilt.sampling.Generator;
import ai.tilt.sampling.GeneratorSpec;
import ai.tilt.sampling.GroupGenerator;
import ai.tilt.sampling.SamplerState;
import ai.tilt.sampling.SamplingServerException;
import ai.tilt.sampling.ServerSampling;
import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * On-policy training as the loop's source of iterations (Tajwar et al., 2024, Algorithm 1):
 * iteration i takes the next B prompts of the seeded prompt stream, collects C responses per prompt
 * (sampled from the current policy, or the prompts' own when {@code online.source} is offline),
 * scores them, and turns them into what the loss trains on: pairs, labelled responses or scored
 * lists for a preference loss ({@link PairBuilder}), per-token advantages from the loss's own
 * estimator for a policy-gradient loss. The loop then makes T = {@code online.reuse} passes over
 * minibatches of M prompts. Evaluation samples the held-out prompts and reports the gold reward,
 * the KL to the reference, length, EOS rate and the win rate over the reference's samples.
 */
final class RolloutSource implements IterationSource {
  private final Recipe recipe;
  private final Online cfg;
  private final Policy policy;
  private final long padId;
  private final Streams streams;
  private final Group group;
  private final List<PromptSet.Prompt> evalPrompts;
  private final ReferenceModel reference;
  private final Reward reward;
  private final Reward gold; // null: the training reward
  private final Collector collector;
  private final Evaluator evaluator;
  private final RolloutMaterial materials;
  private final PrintStream console;
  private final ServerSampling server; // null: sampling in this process
  private Map<String, Double> firstEval; // the start's evaluation: the final table's reference row
  private Map<String, Double> lastEval;
  private final PromptStream promptStream;
  private final Collector.Settings collection; // how iterations collect

  private RolloutSource(
      Recipe recipe,
      Policy policy,
      Streams streams,
      Group group,
      TextTokenizer tokenizer,
      List<PromptSet.Prompt> trainPrompts,
      List<PromptSet.Prompt> evalPrompts,
      ReferenceModel reference,
      Reward reward,
      Reward gold,
      PrintStream console,
      Path runDir) {
    this.recipe = recipe;
    this.cfg = recipe.online();
    this.policy = policy;
    this.padId = Rows.padId(tokenizer);
    this.streams = streams;
    this.group = group;
    this.promptStream = new PromptStream(trainPrompts, streams, cfg.promptsPerIteration());
    this.collection = cfg.collection(recipe.train().precision() == Precision.FP32);
    this.evalPrompts = evalPrompts;
    this.reference = reference;
    this.reward = reward;
    this.gold = gold;
    this.console = console;
    long[] eos =
        tokenizer != null && tokenizer.eosIds().length > 0
            ? tokenizer.eosIds()
            : policy.model().config().eosTokenIds();
    int micro = recipe.train().microBatchSize();
    long maxShard = recipe.checkpoint().maxShardBytes();
    // data-parallel: every worker samples its prompts, rank 0 alone sends the servers the weights
    this.server =
        cfg.generator() instanceof GeneratorSpec.Server spec
            ? new ServerSampling(
                spec,
                eos,
                spec.weightsDir() != null
                    ? Path.of(spec.weightsDir())
                    : runDir.resolve("sampler-weights"),
                dir -> policy.saveModel(dir, maxShard),
                group.isMain(),
                new String(
                    group
                        .allGather(
                            ServerSampling.newAdapterPrefix().getBytes(StandardCharsets.UTF_8))
                        .get(0),
                    StandardCharsets.UTF_8))
            : null;
    this.collector =
        new Collector(policy.model(), reference, tokenizer, eos, padId, micro, streams);
    this.materials =
        new RolloutMaterial(
            recipe,
            policy,
            collector,
            padId,
            streams,
            importanceSampling() ? serverSpec().importanceSamplingCap() : 0,
            collection.samplerIsPolicy());
    this.evaluator =
        new Evaluator(
            collector, reference, cfg.evalCollection(), evalPrompts, gold != null ? gold : reward);
  }

  /** Loads the prompts, the reference (the run's start) and the rewards of an on-policy recipe. */
  static RolloutSource open(
      Recipe r,
      Path runDir,
      ModelSource source,
      Policy policy,
      TextTokenizer tokenizer,
      Streams streams,
      Group group,
      Path checkpoint,
      PrintStream console)
      throws IOException {
    boolean offline = r.online().source() == Online.Source.OFFLINE;
    int vocab = policy.model().config().vocabSize();
    Recipe.Data d = r.data();
    List<PromptSet.Prompt> train =
        PromptSet.load(d.trainSet(), tokenizer, vocab, offline, d.appendEos());
    List<PromptSet.Prompt> eval =
        d.eval() == null
            ? List.of()
            : PromptSet.load(d.evalSet(), tokenizer, vocab, false, d.appendEos());
    RewardContext ctx = new RewardContext(tokenizer, Path.of("."), Devices.current());
    List<AutoCloseable> opened = new ArrayList<>();
    try {
      ReferenceModel reference = policy.reference(r, source.initial());
      opened.add(reference);
      Reward reward = r.online().reward().create(ctx);
      opened.add(reward);
      Reward gold = r.online().goldReward() == null ? null : r.online().goldReward().create(ctx);
      RolloutSource s =
          new RolloutSource(
              r, policy, streams, group, tokenizer, train, eval, reference, reward, gold, console,
              runDir);
      if (checkpoint != null) {
        s.firstEval = Evaluator.loggedEval(runDir, 0);
        s.restoreSampler(checkpoint);
      }
      return s;
    } catch (IOException | RuntimeException e) {
      DatasetSource.closeAll(opened);
      throw e;
    }
  }

  @Override
  public long iterations() {
    return cfg.iterations();
  }

  @Override
  public int stepsPerIteration() {
    return cfg.stepsPerIteration();
  }

  @Override
  public int epochSize() {
    return promptStream.size();
  }

  @Override
  public IterationPlan collect(long iteration, TrainerState state) {
    long t0 = System.nanoTime();
    List<PromptSet.Prompt> prompts = promptStream.next(iteration);
    long staleness = 0;
    double syncSeconds = 0;
    ServerSampling.Turn turn = server == null ? null : agreed(() -> server.begin(iteration));
    // (agreed: no worker samples before rank 0 has sent the servers the iteration's weights)
    Map<String, Double> timings = new LinkedHashMap<>();
    DynamicSampling.Selected selected =
        DynamicSampling.run(
            cfg.dynamicSampling(),
            cfg.promptsPerIteration(),
            k ->
                round(
                    iteration,
                    k,
                    k == 0 ? prompts : promptStream.extra(iteration, k),
                    turn,
                    timings));
    Rollout rollout = selected.rollout();
    if (server != null) {
      ServerSampling.Next next = null;
      if (serverSpec().overlap() && iteration + 1 < cfg.iterations()) {
        List<long[]> inputs = Collector.inputs(promptStream.next(iteration + 1));
        next =
            new ServerSampling.Next(
                inputs,
                cfg.samplesPerPrompt(),
                Collector.samplingParams(collection),
                streams.groupSeeds(iteration + 1, inputs.size()));
      }
      staleness = turn.staleness();
      syncSeconds = turn.syncSeconds() + server.end(iteration, next);
    }
    Map<String, Double> metrics = new LinkedHashMap<>(RolloutStats.of(rollout));
    metrics.putAll(timings);
    metrics.putAll(selected.metrics());
    if (server != null) {
      metrics.put("sampling/staleness", (double) staleness);
      metrics.put("timing/weight_sync_s", syncSeconds);
    }
    if (rollout.samplingLogps() != null && !collection.samplerIsPolicy()) {
      double diff = RolloutStats.logpDiff(rollout);
      metrics.put("sampling/logp_diff", diff);
      if (iteration == 0 && plainSampling() && diff > cfg.logpDiffWarn()) {
        console.printf(
            "warning: the trainer's log-probs of the sampled tokens differ from the sampler's by"
                + " %.4f on average (more than online.logp_diff_warn %.4f)%n",
            diff, cfg.logpDiffWarn());
      }
    }
    OnlineState before = OnlineState.of(state, cfg);
    RolloutMaterial.Material material = materials.of(rollout, before);
    if (material.isWeights() != null) {
      metrics.put("sampling/is_weight_mean", material.isWeights().mean());
      metrics.put("sampling/is_truncated_frac", material.isWeights().truncatedFraction());
    }
    OnlineState after = before.afterIteration(rollout, cfg, material.baseline());
    metrics.put("iteration", (double) iteration + 1);
    metrics.put("objective/kl_coef", after.klCoef());
    int[] items = new int[prompts.size()];
    for (int i = 0; i < items.length; i++) {
      items[i] = i;
    }
    return new IterationPlan(
        material.objective(),
        items,
        cfg.reuse(),
        cfg.minibatchSize(),
        streams.passOrder(iteration),
        prompts.size(),
        after.toMap(),
        (System.nanoTime() - t0) / 1e9,
        metrics);
  }

  /**
   * One round of collection: each worker collects its block of {@code prompts} (round 0: the
   * iteration's own; dynamic sampling's extra rounds: their own prompts and streams), then every
   * worker gathers all of them. Stage times add up over the rounds.
   */
  private Rollout round(
      long iteration,
      int round,
      List<PromptSet.Prompt> prompts,
      ServerSampling.Turn turn,
      Map<String, Double> timings) {
    int[] mine = RolloutShards.mine(prompts.size(), group.rank(), group.size());
    GroupGenerator generator =
        turn == null ? new Generator(policy.model(), collector.eosIds()) : turn.generator();
    Supplier<Rollout> collect =
        () -> collector.collect(iteration, round, prompts, mine, collection, reward, generator);
    Rollout own = turn == null ? collect.get() : agreed(collect);
    for (Map.Entry<String, Double> t : collector.timings().entrySet()) {
      timings.merge(
          t.getKey(), t.getValue(), t.getKey().startsWith("timing/") ? Double::sum : (a, b) -> b);
    }
    return RolloutShards.gather(group, own, prompts);
  }

  /**
   * Truncated IS for server samples, when the sampler's log-probs and the trainer's are of the same
   * distribution: the trainer's are at temperature 1 over the whole vocabulary, so under another
   * temperature, top-k or top-p the ratio would weigh the sampling transform, not the engines'
   * mismatch.
   */
  private boolean importanceSampling() {
    return server != null && serverSpec().importanceSamplingCap() > 0 && plainSampling();
  }

  /** A sampling stage on every worker; a server failing any one makes all throw, and stop. */
  private <T> T agreed(Supplier<T> stage) {
    T out = null;
    SamplingServerException failure = null;
    try {
      out = stage.get();
    } catch (SamplingServerException e) {
      failure = e;
    }
    if (group.any(failure != null)) {
      throw failure != null
          ? failure
          : new SamplingServerException(
              "the sampling server failed on another worker (its log names the server)");
    }
    return out;
  }

  /** The server spec of a run that samples on servers. */
  private GeneratorSpec.Server serverSpec() {
    return (GeneratorSpec.Server) cfg.generator();
  }

  private boolean plainSampling() {
    return cfg.temperature() == 1.0 && cfg.topK() == 0 && cfg.topP() == 1.0;
  }

  /** A resumed run's servers as the checkpoint left them (see {@link SamplerState}). */
  private void restoreSampler(Path checkpoint) throws IOException {
    SamplerState saved = server == null ? null : SamplerState.read(checkpoint);
    String missing = saved == null ? null : server.restore(saved);
    if (missing != null) {
      console.println(
          "note: the servers start from fresh weights, not the checkpoint's ("
              + missing
              + "): the resumed run continues correctly, though not bitwise");
    }
  }

  @Override
  public void saveState(Path checkpoint) throws IOException {
    if (server != null) {
      server.state().write(checkpoint);
    }
  }

  @Override
  public void checkpointCommitted() {
    if (server != null) {
      server.releaseUnpinned();
    }
  }

  @Override
  public boolean hasEval() {
    return !evalPrompts.isEmpty();
  }

  @Override
  public boolean evaluatesStart() {
    return true;
  }

  @Override
  public Map<String, Double> evaluate() {
    Map<String, Double> m = evaluator.evaluate(policy.model());
    if (firstEval == null) {
      firstEval = m;
    }
    lastEval = m;
    return m;
  }

  @Override
  public String finalReport() {
    return lastEval == null ? "" : Evaluator.table(firstEval, lastEval);
  }

  @Override
  public String describe() {
    String sampler = server == null ? "" : serverSpec().describe(plainSampling());
    return String.format(
            "on-policy %s with %s: %d iterations of B=%d prompts x C=%d %s, T=%d passes of M=%d"
                + " prompts (%d optimizer steps); %d training prompts, %d eval prompts; reward %s",
            policy.model().config().family().modelType,
            recipe.loss().type(),
            cfg.iterations(),
            cfg.promptsPerIteration(),
            cfg.samplesPerPrompt(),
            cfg.source() == Online.Source.OFFLINE ? "dataset responses" : "samples",
            cfg.reuse(),
            cfg.minibatchSize(),
            (long) cfg.iterations() * cfg.stepsPerIteration(),
            promptStream.size(),
            evalPrompts.size(),
            cfg.reward().getClass().getSimpleName())
        + sampler;
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
    DatasetSource.closeAll(
        gold == null ? List.of(reward, reference) : List.of(gold, reward, reference));
  }
}
