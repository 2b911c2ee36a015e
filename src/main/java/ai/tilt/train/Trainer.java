package ai.tilt.train;

import ai.tilt.dist.Group;
import ai.tilt.report.MetricsLog;
import ai.tilt.report.RunLog;
import ai.tilt.sampling.SamplingServerException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loop of every method: Tajwar et al. (2024), Algorithm 1, top to bottom. Each
 * iteration collects its material from the run's {@link IterationSource} (the next B examples of a
 * dataset file, or B prompts with C responses each, sampled from the current policy or read from a
 * fixed set, and scored), then makes T passes of minibatch updates over it; each minibatch is one
 * {@link TrainStep} of accumulated micro-batches. After the iteration the loop logs the means over
 * its steps, evaluates and checkpoints on the recipe's step cadence ({@code eval.every_steps},
 * {@code checkpoint.every_steps}), and stops cleanly when asked (SIGTERM/SIGINT: at the end of the
 * iteration, checkpoint, exit 75) or when too many steps in a row were NaN/Inf (checkpoint, exit 3,
 * advice). Everything needed to continue exactly is in {@link TrainerState} plus the weights and
 * optimizer moments: every random draw is one of the run's {@link Streams}, a function of (seed,
 * position).
 */
public final class Trainer {
  /** Exit code of a run stopped by a signal after writing its checkpoint: resume it. */
  public static final int EXIT_STOPPED = 75;

  /** Exit code of a run stopped because its loss or gradients kept being NaN/Inf. */
  public static final int EXIT_DIVERGED = 3;

  /** Exit code when the sampling server failed (EX_UNAVAILABLE); finished iterations are saved. */
  public static final int EXIT_SAMPLER_FAILED = 69;

  private final TrainingRun run;
  private StepListener listener = (step, result) -> {};
  private volatile boolean stopRequested;
  private long stopAtStep = Long.MAX_VALUE;

  public Trainer(TrainingRun run) {
    this.run = run;
  }

  /** What is told of every optimizer step as it ends (tests follow the losses this way). */
  public interface StepListener {
    void stepped(long step, TrainStep.Result result);
  }

  /** Tells {@code l} of every step from now on. */
  public void onStep(StepListener l) {
    listener = l;
  }

  /** Asks the loop to stop at the end of the current iteration (what the signal handler calls). */
  public void requestStop() {
    stopRequested = true;
  }

  /** Stops as a signal would once an iteration ends at or past {@code step} (preemption tests). */
  void requestStopAt(long step) {
    stopAtStep = step;
  }

  /** The reporting worker's log: metrics.jsonl, and event files when log.report_to says so. */
  private MetricsLog metricsLog(Recipe r, long total, TrainerState state, PrintStream console)
      throws IOException {
    MetricsLog log =
        new MetricsLog(
                run.runDir(), total, r.log().every(), run.resumed() ? state.step() : -1, console)
            .plots(r.log().plots());
    if (r.log().reportTo().contains(Recipe.ReportTo.TENSORBOARD)) {
      try {
        log.tensorboard(RecipeLoader.toYaml(r));
      } catch (IOException | RuntimeException e) {
        log.close();
        throw e;
      }
    }
    return log;
  }

  /** Runs every iteration (or until stopped); returns the process exit code. */
  public int train(PrintStream console) throws IOException {
    Recipe r = run.recipe();
    Recipe.Train t = r.train();
    IterationSource source = run.source();
    long total = run.totalSteps();
    LrSchedule schedule = new LrSchedule(t.schedule(), t.lr(), t.minLr(), t.warmupSteps(), total);
    Policy policy = run.policy();
    Group group = run.group();
    TrainStep stepper =
        new TrainStep(
            policy.manager(), policy.trainable(), run.optimizer(), t.maxGradNorm(), group);
    TrainerState state = run.state();
    long lastCheckpoint = state.step();
    boolean stop = false; // agreed by every worker before and after each iteration
    try (RunLog log = group.isMain() ? metricsLog(r, total, state, console) : RunLog.discard()) {
      log.note(run.describe());
      double resumedLr = schedule.at(state.step());
      if (run.resumed() && state.step() > 0 && Math.abs(resumedLr - state.lr()) > 1e-12 * t.lr()) {
        log.note(
            String.format(
                "the learning rate continues at %.3e (the last step used %.3e): the recipe's"
                    + " schedule settings differ from the checkpoint's",
                resumedLr, state.lr()));
      }
      if (!run.resumed() && source.evaluatesStart() && source.hasEval()) {
        log.logEval(0, source.evaluate());
      }
      while (state.iteration() < source.iterations()) {
        // a signal during the last eval or checkpoint: stop before collecting another iteration
        stop = stop || group.any(stopRequested);
        if (stop) {
          break;
        }
        long t0 = System.nanoTime();
        IterationPlan plan;
        try {
          plan = source.collect(state.iteration(), state);
        } catch (SamplingServerException e) {
          return samplerFailed(state, lastCheckpoint, e, console);
        }
        long t1 = System.nanoTime();
        StepMeans means = new StepMeans();
        long stepBefore = state.step();
        boolean diverged = false;
        passes:
        for (int pass = 0; pass < plan.passes(); pass++) {
          int[] order = plan.order(pass);
          for (int start = 0; start < order.length; start += plan.minibatch()) {
            Objective objective = plan.objective();
            // this worker's share of the minibatch; the step's denominator is every worker's
            int[] share = share(order, start, plan.minibatch(), group.rank(), group.size());
            Objective.Window w =
                objective.prepare(micros(share, 0, share.length, t.microBatchSize()));
            // summed: the denominator, micro-batches and tokens; then each rank's micro-batches
            double[] counts = new double[3 + group.size()];
            counts[0] = w.denominator();
            counts[1] = w.microBatches();
            counts[2] = w.tokens();
            counts[3 + group.rank()] = w.microBatches();
            double[] step = group.sum(counts);
            long before = 0; // micro-batches of the lower ranks: where this worker's forwards start
            for (int lower = 0; lower < group.rank(); lower++) {
              before += (long) step[3 + lower];
            }
            double lr = schedule.at(state.step());
            policy.beforeStep(state.step(), before);
            if (step[1] == 0) {
              // nothing to learn from (no pair of this minibatch passed online.pair_threshold):
              // the step is counted, so the schedule and the step count stay those of the recipe
              state = state.afterStep(true, lr, 0);
              means.empty();
              continue;
            }
            w.useDenominator(step[0]);
            TrainStep.Result res =
                stepper.run(w.microBatches(), (m, i) -> objective.microLoss(m, w, i), lr);
            long tokens = (long) step[2];
            state = state.afterStep(res.applied(), lr, tokens);
            listener.stepped(state.step(), res);
            FaultHooks.perturbIfAsked(group, policy.trainable(), state.step());
            FaultHooks.failIfAsked(group, state.step());
            if (crossed(state.step() - 1, state.step(), r.dist().checkEvery())) {
              WeightGuard.check(group, policy.trainable(), "after step " + state.step());
            }
            means.add(res, merged(group, objective.metrics(w)).means(""), tokens);
            if (!res.applied()) {
              log.note(
                  String.format(
                      "step %d skipped: loss %s, grad_norm %s (%d in a row, limit %d)",
                      state.step(),
                      res.loss(),
                      res.gradNorm(),
                      state.badStreak(),
                      t.maxBadSteps()));
              if (state.badStreak() >= t.maxBadSteps()) {
                diverged = true; // the rest of this iteration is abandoned
                break passes;
              }
            }
          }
        }
        double trainSeconds = (System.nanoTime() - t1) / 1e9;
        state = state.afterIteration(plan.samples(), source.epochSize(), plan.carried());
        run.setState(state);
        log.logStep(state.step(), metrics(state, plan, means, trainSeconds, (t1 - t0) / 1e9));
        if (diverged) {
          return diverged(state, console);
        }
        // one worker's signal stops them all, at the same step
        stop = group.any(stopRequested || state.step() >= stopAtStep);
        boolean last = state.iteration() == source.iterations();
        if (source.hasEval()
            && (last || crossed(stepBefore, state.step(), r.eval().everySteps()))) {
          Map<String, Double> m = source.evaluate();
          log.logEval(state.step(), m);
          state = state.withEval(m.getOrDefault("eval/loss", Double.NaN));
          run.setState(state);
        }
        if (last || stop || crossed(stepBefore, state.step(), r.checkpoint().everySteps())) {
          log.note("checkpoint " + checkpoint(state, true));
          lastCheckpoint = state.step();
        }
      }
      if (state.iteration() == source.iterations()) {
        console.print(source.finalReport());
      } else if (stop) {
        Path ckpt =
            state.step() == lastCheckpoint
                ? Checkpoints.findLatest(run.runDir(), new ArrayList<>())
                : checkpoint(state, true);
        console.printf(
            "tilt train: stopped at step %d of %d (iteration %d of %d); checkpoint %s. Resume"
                + " with: tilt train %s --resume%n",
            state.step(),
            total,
            state.iteration(),
            source.iterations(),
            ckpt,
            run.recipeArgument());
        return EXIT_STOPPED;
      }
    }
    return 0;
  }

  /**
   * Too many non-finite steps in a row: the weights are those of the last applied update. They are
   * saved with a fresh streak (a resume continues with the next iteration), and the regular
   * checkpoint from before the streak is kept beside them.
   */
  private int diverged(TrainerState state, PrintStream console) throws IOException {
    Path before = Checkpoints.findLatest(run.runDir(), new ArrayList<>());
    TrainerState saved = state.withStreakCleared();
    run.setState(saved);
    Path ckpt = checkpoint(saved, false);
    Recipe.Train t = run.recipe().train();
    console.printf(
        "tilt train: stopped after %d consecutive steps with a NaN/Inf loss or gradient norm."
            + " The current weights are in %s%s. Lower the learning rate or clip harder, e.g.:%n"
            + "  tilt train %s --resume %s --set train.lr=%.1e --set train.max_grad_norm=1.0%n",
        state.badStreak(),
        ckpt,
        before == null ? "" : "; the last regular checkpoint before that is " + before,
        run.recipeArgument(),
        before == null ? ckpt : before,
        t.lr() / 10);
    return EXIT_DIVERGED;
  }

  /**
   * The sampling server failed after its retries: every finished iteration is saved (a checkpoint
   * of the current state unless the last one is it), so a resume repeats only the failed iteration.
   */
  private int samplerFailed(
      TrainerState state, long lastCheckpoint, SamplingServerException e, PrintStream console)
      throws IOException {
    Path ckpt =
        state.step() == lastCheckpoint
            ? Checkpoints.findLatest(run.runDir(), new ArrayList<>())
            : checkpoint(state, true);
    console.printf(
        "tilt train: the sampling server failed in iteration %d: %s%n  %s%n",
        state.iteration() + 1,
        e.getMessage(),
        ckpt == null
            ? "No iteration had finished: once the server is up, run the same command again."
            : "The finished iterations ("
                + state.iteration()
                + ") are in "
                + ckpt
                + ". Once the server is up, resume with: tilt train "
                + run.recipeArgument()
                + " --resume");
    return EXIT_SAMPLER_FAILED;
  }

  /** Whether (from, to] holds a multiple of {@code every} (0: never). */
  static boolean crossed(long from, long to, long every) {
    return every > 0 && to / every > from / every;
  }

  /**
   * Worker {@code rank}'s share of the minibatch of {@code minibatch} items starting at {@code
   * start}: its contiguous block of ceil(M / W) items (all of them for one worker). When a block is
   * a whole number of micro-batches, the workers' micro-batches are exactly one process's, so only
   * the order in which their gradients are summed differs.
   */
  static int[] share(int[] order, int start, int minibatch, int rank, int size) {
    int end = Math.min(order.length, start + minibatch);
    int[] block = RolloutShards.block(end - start, rank, size);
    return java.util.Arrays.copyOfRange(order, start + block[0], start + block[1]);
  }

  /** Every worker's metric sums of a step, merged in rank order (the worker's own when alone). */
  static MetricSums merged(Group group, MetricSums mine) {
    if (group.size() == 1) {
      return mine;
    }
    MetricSums all = new MetricSums();
    for (byte[] b : group.allGather(mine.encode())) {
      all.merge(MetricSums.decode(b));
    }
    return all;
  }

  /** The micro-batches (of {@code micro} items) of the minibatch starting at {@code start}. */
  static List<List<Integer>> micros(int[] order, int start, int minibatch, int micro) {
    int end = Math.min(order.length, start + minibatch);
    List<List<Integer>> out = new ArrayList<>();
    for (int i = start; i < end; i += micro) {
      List<Integer> m = new ArrayList<>();
      for (int j = i; j < Math.min(end, i + micro); j++) {
        m.add(order[j]);
      }
      out.add(m);
    }
    return out;
  }

  /** The iteration's row of metrics.jsonl: means over its steps, then what collection measured. */
  private Map<String, Double> metrics(
      TrainerState s, IterationPlan plan, StepMeans means, double trainS, double collectS) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("train/loss", means.loss());
    m.put("epoch", (double) s.samplesSeen() / run.source().epochSize());
    m.put("lr", s.lr());
    m.put("grad_norm", means.gradNorm());
    m.putAll(means.objectiveMetrics());
    m.putAll(plan.metrics());
    m.put("perf/tokens_per_s", means.tokens() / trainS);
    m.put("perf/step_s", (collectS + trainS) / Math.max(1, means.steps()));
    m.put("train/skipped_steps", (double) s.badSteps());
    if (means.emptySteps() > 0) {
      m.put("train/empty_steps", (double) means.emptySteps());
    }
    if (plan.collectSeconds() > 0) {
      m.put("timing/collect_s", collectS);
      m.put("timing/train_s", trainS);
      m.put("timing/iteration_s", collectS + trainS);
    }
    return m;
  }

  /**
   * Writes a checkpoint (rank 0 of a data-parallel job; the others wait before and after, so none
   * reads or prunes early) and returns its directory on every worker.
   */
  private Path checkpoint(TrainerState s, boolean prune) throws IOException {
    Recipe.Checkpoint c = run.recipe().checkpoint();
    Group group = run.group();
    group.barrier();
    run.optimizer().gather();
    Path dir = run.runDir().resolve(Checkpoints.dirName(s.step()));
    if (group.isMain()) {
      dir =
          Checkpoints.write(
              run.runDir(),
              run.policy(),
              run.modelSource(),
              run.optimizer(),
              s,
              run.recipe(),
              c.maxShardBytes(),
              run.source()::saveState);
      run.source().checkpointCommitted();
      if (prune) {
        Checkpoints.prune(run.runDir(), c.keepLast());
      }
    }
    group.barrier();
    return dir;
  }
}
