package ai.tilt.train;

import ai.tilt.data.Batches;
import ai.tilt.data.PromptSet;
import ai.tilt.loss.Advantages;
import ai.tilt.loss.GroupLoss;
import ai.tilt.loss.PolicyGradientLoss;
import ai.tilt.loss.Ppo;
import ai.tilt.reward.Reward;
import ai.tilt.reward.RewardContext;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tajwar et al. (2024), Algorithm 1, top to bottom: every iteration takes the next B prompts,
 * collects C responses per prompt (sampled from the current policy, or the dataset's when offline),
 * scores them, then makes T passes of minibatch updates over M prompts at a time with whichever
 * loss the recipe names — a pair loss on pairs of the C responses, RWR or Best-of-N on all of them,
 * or a policy-gradient loss. Evaluation samples the held-out prompts and reports the gold reward,
 * the KL to the reference, length, EOS rate and the win rate over the reference.
 *
 * <p>Checkpoints fall on iteration boundaries (checkpoint.every counts iterations here), and a stop
 * request finishes the current iteration first, so a resumed run recollects nothing by hand: the
 * next iteration's prompts and sampling streams are functions of (seed, iteration).
 */
public final class OnlineTrainer {
  private final TrainingRun run;
  private final Online cfg;
  private final List<Double> losses = new ArrayList<>();
  private volatile boolean stopRequested;
  private int stopAtIteration = Integer.MAX_VALUE;

  public OnlineTrainer(TrainingRun run) {
    this.run = run;
    this.cfg = run.recipe().online();
  }

  public void requestStop() {
    stopRequested = true;
  }

  /** Stops as a signal would once {@code iterations} iterations are done (tests). */
  void requestStopAt(int iterations) {
    stopAtIteration = iterations;
  }

  /** The loss of every optimizer step this process ran. */
  public List<Double> losses() {
    return losses;
  }

  public int train(PrintStream console) throws IOException {
    Recipe r = run.recipe();
    Recipe.Train t = r.train();
    Path initial = TrainingRun.initialSource(r, run.runDir());
    long padId = TrainingRun.padId(run.tokenizer());
    long[] eos =
        run.tokenizer() != null && run.tokenizer().eosIds().length > 0
            ? run.tokenizer().eosIds()
            : run.model().config().eosTokenIds();
    RewardContext ctx =
        new RewardContext(run.tokenizer(), Path.of("."), ai.tilt.model.Devices.current());
    boolean offline = cfg.source() == Online.Source.OFFLINE;
    int vocab = run.model().config().vocabSize();
    List<PromptSet.Prompt> trainPrompts =
        PromptSet.load(
            Path.of(r.data().train()), run.tokenizer(), vocab, offline, r.data().appendEos());
    List<PromptSet.Prompt> evalPrompts =
        r.data().eval() == null
            ? List.of()
            : PromptSet.load(
                Path.of(r.data().eval()), run.tokenizer(), vocab, false, r.data().appendEos());
    try (ReferenceModel reference =
            ReferenceModel.load(
                initial, ai.tilt.model.Devices.current(), TrainingRun.referencePrecision(r));
        Reward reward = cfg.reward().create(ctx);
        Reward gold = cfg.goldReward() == null ? null : cfg.goldReward().create(ctx);
        MetricsLog log =
            new MetricsLog(
                    run.runDir(),
                    run.totalSteps(),
                    run.recipe().log().every(),
                    run.resumed() ? run.state().step() : -1,
                    console)
                .plots(run.recipe().log().plots())) {
      Reward goldReward = gold != null ? gold : reward;
      Collector collector =
          new Collector(run.model(), reference, run.tokenizer(), eos, padId, t.microBatchSize());
      Evaluator evaluator =
          new Evaluator(collector, reference, cfg, evalPrompts, goldReward, run.state().seed());
      LrSchedule schedule =
          new LrSchedule(t.schedule(), t.lr(), t.minLr(), t.warmupSteps(), run.totalSteps());
      TrainStep stepper =
          new TrainStep(run.model().manager(), run.trainable(), run.optimizer(), t.maxGradNorm());
      OnlineState state = OnlineState.of(run.state(), cfg);
      log.note(
          String.format(
              "on-policy %s with %s: %d iterations of B=%d prompts x C=%d %s, T=%d passes of"
                  + " M=%d prompts (%d optimizer steps); %d training prompts, %d eval prompts; reward %s",
              run.model().config().family().modelType,
              r.loss().type(),
              cfg.iterations(),
              cfg.promptsPerIteration(),
              cfg.samplesPerPrompt(),
              offline ? "dataset responses" : "samples",
              cfg.reuse(),
              cfg.minibatchSize(),
              run.totalSteps(),
              trainPrompts.size(),
              evalPrompts.size(),
              cfg.reward().getClass().getSimpleName()));
      Map<String, Double> firstEval = null;
      Map<String, Double> lastEval = null;
      if (!run.resumed() && !evalPrompts.isEmpty()) {
        firstEval = evaluator.evaluate(run.model());
        log.logEval(0, firstEval);
      } else if (run.resumed()) {
        firstEval = loggedEval(run.runDir(), 0);
      }
      int iteration = (int) (run.state().step() / cfg.stepsPerIteration());
      while (iteration < cfg.iterations() && !stopRequested) {
        long t0 = System.nanoTime();
        List<PromptSet.Prompt> prompts = nextPrompts(trainPrompts, iteration, run.state().seed());
        Rollout rollout =
            collector.collect(iteration, prompts, cfg, run.state().seed(), reward, run.model());
        double collectS = (System.nanoTime() - t0) / 1e9;
        Map<String, Double> metrics = RolloutStats.of(rollout, run.tokenizer() == null ? 0 : 1);
        metrics.putAll(collector.timings());
        if (rollout.samplingLogps() != null) {
          double diff = RolloutStats.logpDiff(rollout);
          metrics.put("sampling/logp_diff", diff);
          boolean plain = cfg.temperature() == 1.0 && cfg.topK() == 0 && cfg.topP() == 1.0;
          if (iteration == 0 && plain && diff > cfg.logpDiffWarn()) {
            log.note(
                String.format(
                    "warning: the trainer's log-probs of the sampled tokens differ from the"
                        + " sampler's by %.4f on average (more than %.4f)",
                    diff, cfg.logpDiffWarn()));
          }
        }
        long t1 = System.nanoTime();
        Objective objective = objective(rollout, padId, state);
        double lossSum = 0;
        int steps = 0;
        for (int pass = 0; pass < cfg.reuse(); pass++) {
          long[] order =
              Batches.order(
                  cfg.promptsPerIteration(),
                  Collector.iterationSeed(run.state().seed(), iteration),
                  pass);
          for (int start = 0; start < order.length; start += cfg.minibatchSize()) {
            List<List<Integer>> micros = micros(order, start);
            Objective.Window w = objective.prepare(micros);
            long step = run.state().step();
            double lr = schedule.at(step);
            TrainStep.Result res =
                w.microBatches() == 0
                    ? new TrainStep.Result(0, 0, true)
                    : stepper.run(w.microBatches(), (m, i) -> objective.microLoss(m, w, i), lr);
            losses.add(res.loss());
            lossSum += res.loss();
            steps++;
            metrics.putAll(objective.metrics(w));
            metrics.put("lr", lr);
            metrics.put("grad_norm", res.gradNorm());
            run.setState(advance(run.state(), res, lr, w.tokens()));
          }
        }
        double trainS = (System.nanoTime() - t1) / 1e9;
        iteration++;
        state =
            state.afterIteration(
                rollout, cfg, r.loss() instanceof PolicyGradientLoss pg ? pg : null);
        TrainerState ts = run.state();
        long seen = (long) iteration * cfg.promptsPerIteration();
        run.setState(
            new TrainerState(
                ts.step(),
                seen,
                ts.tokensSeen(),
                seen / trainPrompts.size(),
                seen % trainPrompts.size(),
                ts.seed(),
                ts.lr(),
                ts.badSteps(),
                ts.badStreak(),
                ts.bestEval(),
                ts.bestEvalStep(),
                state.toMap()));
        metrics.put("train/loss", lossSum / Math.max(1, steps));
        metrics.put("iteration", (double) iteration);
        metrics.put("objective/kl_coef", state.klCoef());
        metrics.put("timing/collect_s", collectS);
        metrics.put("timing/train_s", trainS);
        metrics.put("timing/iteration_s", collectS + trainS);
        metrics.put("perf/step_s", (collectS + trainS) / Math.max(1, steps));
        Map<String, Double> ordered = new LinkedHashMap<>();
        ordered.put("train/loss", metrics.remove("train/loss"));
        ordered.putAll(metrics);
        log.logStep(run.state().step(), ordered);
        boolean last = iteration == cfg.iterations();
        if (!evalPrompts.isEmpty()
            && (last || (cfg.evalEvery() > 0 && iteration % cfg.evalEvery() == 0))) {
          lastEval = evaluator.evaluate(run.model());
          log.logEval(run.state().step(), lastEval);
        }
        long every = r.checkpoint().every();
        if (last
            || (every > 0 && iteration % every == 0)
            || stopRequested
            || iteration >= stopAtIteration) {
          ValueHead vh = run.valueHead();
          Path ckpt =
              Checkpoints.write(
                  run.runDir(),
                  run.model(),
                  run.modelSource(),
                  run.optimizer(),
                  run.state(),
                  r,
                  r.checkpoint().maxShardBytes(),
                  vh == null ? null : vh::save);
          Checkpoints.prune(run.runDir(), r.checkpoint().keepLast());
          log.note("checkpoint " + ckpt);
        }
        if (iteration >= stopAtIteration) {
          stopRequested = true;
        }
      }
      if (lastEval != null && iteration == cfg.iterations()) {
        console.print(table(firstEval, lastEval));
      }
      if (stopRequested && iteration < cfg.iterations()) {
        console.printf(
            "tilt train: stopped after iteration %d of %d. Resume with: tilt train %s --resume%n",
            iteration, cfg.iterations(), run.recipeArgument());
        return Trainer.EXIT_STOPPED;
      }
    }
    return 0;
  }

  /** Reference (the starting policy) against the final policy on the eval prompts. */
  /**
   * The evaluation a run logged at {@code step} (a resumed process reports the reference's from
   * it); null if none.
   */
  static Map<String, Double> loggedEval(java.nio.file.Path runDir, long step) {
    try {
      for (Plots.Row row : Plots.read(runDir.resolve(MetricsLog.METRICS_FILE)).rows()) {
        if (row.step() == step && row.values().containsKey("eval/mean_length")) {
          return row.values();
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // no readable log: the table shows NaN for what only the first evaluation knew
    }
    return null;
  }

  static String table(Map<String, Double> first, Map<String, Double> last) {
    StringBuilder sb = new StringBuilder("\n  eval (held-out prompts)    reference      final\n");
    String[][] rows = {
      {"gold reward", "eval/reward"},
      {"KL to reference", "eval/kl"},
      {"completion length", "eval/mean_length"},
      {"EOS rate", "eval/eos_rate"},
      {"win rate vs reference", "eval/win_rate"}
    };
    for (String[] row : rows) {
      double ref =
          row[1].equals("eval/reward")
              ? last.get("eval/reference_reward")
              : row[1].equals("eval/kl")
                  ? 0.0
                  : row[1].equals("eval/win_rate")
                      ? 0.5
                      : first == null ? Double.NaN : first.get(row[1]);
      sb.append(String.format("  %-24s %10.3f %10.3f%n", row[0], ref, last.get(row[1])));
    }
    return sb.toString();
  }

  private Objective objective(Rollout rollout, long padId, OnlineState state) {
    if (run.recipe().loss() instanceof GroupLoss loss) {
      PairBuilder.Built built = PairBuilder.build(rollout, loss, cfg, run.state().seed());
      return new IterationObjective(
          new PreferenceObjective(
              run.model(),
              null,
              loss,
              padId,
              built.groups(),
              List.of(),
              built.referenceSums(),
              null,
              ""),
          built.groupsOfPrompt());
    }
    PolicyGradientLoss pg = (PolicyGradientLoss) run.recipe().loss();
    Recipe.Normalization norm = run.recipe().train().lossNormalization();
    if (pg instanceof Ppo ppo) {
      // PPO: per-token rewards with the KL penalty, values at collection, GAE (TRL's recipe)
      Collector collector =
          new Collector(
              run.model(),
              null,
              run.tokenizer(),
              new long[0],
              padId,
              run.recipe().train().microBatchSize());
      float[][] oldValues =
          collector.tokenValues(
              run.valueHead(),
              rollout.prompts(),
              rollout.samplesPerPrompt(),
              rollout.completions());
      float[][] tokenRewards =
          Advantages.tokenRewardsWithKl(
              rollout.rewards(), rollout.oldLogps(), rollout.refLogps(), state.klCoef());
      Advantages.Gae gae = Advantages.gae(tokenRewards, oldValues, ppo.gamma(), ppo.lam());
      float[][] adv =
          ppo.whitenAdvantages() ? Advantages.whiten(gae.advantages()) : gae.advantages();
      return new PolicyObjective(
          run.model(), pg, padId, rollout, adv, run.valueHead(), oldValues, gae.returns(), norm);
    }
    return new PolicyObjective(
        run.model(), pg, padId, rollout, state.advantages(pg, rollout), null, null, null, norm);
  }

  /**
   * Micro-batches (of train.micro_batch_size prompts) of the minibatch starting at {@code start}.
   */
  private List<List<Integer>> micros(long[] order, int start) {
    int end = Math.min(order.length, start + cfg.minibatchSize());
    int micro = run.recipe().train().microBatchSize();
    List<List<Integer>> out = new ArrayList<>();
    for (int i = start; i < end; i += micro) {
      List<Integer> m = new ArrayList<>();
      for (int j = i; j < Math.min(end, i + micro); j++) {
        m.add((int) order[j]);
      }
      out.add(m);
    }
    return out;
  }

  /** The B prompts of an iteration: the next stretch of the seeded per-epoch prompt order. */
  List<PromptSet.Prompt> nextPrompts(List<PromptSet.Prompt> all, int iteration, long seed) {
    List<PromptSet.Prompt> out = new ArrayList<>();
    int b = cfg.promptsPerIteration();
    for (long k = (long) iteration * b; k < (long) (iteration + 1) * b; k++) {
      long epoch = k / all.size();
      if (order == null || orderEpoch != epoch) {
        order = Batches.order(all.size(), seed, (int) epoch);
        orderEpoch = epoch;
      }
      out.add(all.get((int) order[(int) (k % all.size())]));
    }
    return out;
  }

  private long[] order; // the prompt permutation of epoch orderEpoch
  private long orderEpoch = -1;

  private TrainerState advance(TrainerState s, TrainStep.Result res, double lr, long tokens) {
    int streak = res.applied() ? 0 : s.badStreak() + 1;
    if (streak >= run.recipe().train().maxBadSteps()) {
      throw new IllegalStateException(
          streak
              + " consecutive steps with a NaN/Inf loss or gradient norm;"
              + " lower train.lr or clip harder");
    }
    return new TrainerState(
        s.step() + 1,
        s.samplesSeen(),
        s.tokensSeen() + tokens,
        s.epoch(),
        s.epochCursor(),
        s.seed(),
        lr,
        s.badSteps() + (res.applied() ? 0 : 1),
        streak,
        s.bestEval(),
        s.bestEvalStep(),
        s.extra());
  }
}
