package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.tilt.data.Batches;
import ai.tilt.model.CausalLM;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loop, top to bottom: take the next batch from the seeded epoch stream, split it into
 * micro-batches, run one {@link TrainStep}, log, evaluate, checkpoint; stop cleanly when asked
 * (SIGTERM/SIGINT) or when too many steps in a row were non-finite. Everything it needs to continue
 * exactly is in {@link TrainerState} plus the weights and optimizer moments.
 */
public final class Trainer {
  /** Exit code of a run stopped by a signal after writing its checkpoint: resume it. */
  public static final int EXIT_STOPPED = 75;

  /** Exit code of a run stopped because its loss or gradients kept being NaN/Inf. */
  public static final int EXIT_DIVERGED = 3;

  private final TrainingRun run;
  private final Map<Long, long[]> orders = new HashMap<>(); // epoch -> permutation
  private volatile boolean stopRequested;
  private final List<Double> losses = new ArrayList<>(); // per step, for tests and summaries

  public Trainer(TrainingRun run) {
    this.run = run;
  }

  private long stopAtStep = Long.MAX_VALUE;

  /** Asks the loop to stop after the current step (what the signal handler calls). */
  public void requestStop() {
    stopRequested = true;
  }

  /** Stops as a signal would once {@code step} steps are done (tests of preemption). */
  void requestStopAt(long step) {
    stopAtStep = step;
  }

  /** The window loss of every step this process ran. */
  public List<Double> losses() {
    return losses;
  }

  /** Runs to max_steps (or until stopped); returns the process exit code. */
  public int train(PrintStream console) throws IOException {
    Recipe r = run.recipe();
    Recipe.Train t = r.train();
    TrainerState state = run.state();
    LrSchedule schedule =
        new LrSchedule(t.schedule(), t.lr(), t.minLr(), t.warmupSteps(), run.totalSteps());
    Objective objective = run.objective();
    TrainStep stepper =
        new TrainStep(run.model().manager(), run.trainable(), run.optimizer(), t.maxGradNorm());
    long lastCheckpoint = state.step();
    try (MetricsLog log =
        new MetricsLog(
                run.runDir(),
                run.totalSteps(),
                r.log().every(),
                run.resumed() ? state.step() : -1,
                console)
            .plots(r.log().plots())) {
      log.note(run.describe());
      if (run.resumed()
          && state.step() > 0
          && Math.abs(schedule.at(state.step()) - state.lr()) > 1e-12 * t.lr()) {
        log.note(
            String.format(
                "the learning rate continues at %.3e (the last step used %.3e): the recipe's"
                    + " schedule settings differ from the checkpoint's",
                schedule.at(state.step()), state.lr()));
      }
      while (state.step() < run.totalSteps() && !stopRequested) {
        List<Integer> batch = nextBatch(state.samplesSeen(), t.batchSize());
        List<List<Integer>> micros = new ArrayList<>();
        for (int i = 0; i < batch.size(); i += t.microBatchSize()) {
          micros.add(batch.subList(i, Math.min(batch.size(), i + t.microBatchSize())));
        }
        Objective.Window window = objective.prepare(micros);
        double lr = schedule.at(state.step());
        long t0 = System.nanoTime();
        TrainStep.Result result =
            stepper.run(window.microBatches(), (m, i) -> objective.microLoss(m, window, i), lr);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long samples = state.samplesSeen() + batch.size();
        int streak = result.applied() ? 0 : state.badStreak() + 1;
        state =
            new TrainerState(
                state.step() + 1,
                samples,
                state.tokensSeen() + window.tokens(),
                samples / objective.trainSize(),
                samples % objective.trainSize(),
                state.seed(),
                lr,
                state.badSteps() + (result.applied() ? 0 : 1),
                streak,
                state.bestEval(),
                state.bestEvalStep(),
                state.extra());
        run.setState(state);
        losses.add(result.loss());
        if (state.step() >= stopAtStep) {
          stopRequested = true;
        }
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("epoch", (double) samples / objective.trainSize());
        metrics.put("lr", lr);
        metrics.put("train/loss", result.loss());
        metrics.put("grad_norm", result.gradNorm());
        metrics.putAll(objective.metrics(window));
        metrics.put("perf/tokens_per_s", window.tokens() / seconds);
        metrics.put("perf/step_s", seconds);
        metrics.put("train/skipped_steps", (double) state.badSteps());
        log.logStep(state.step(), metrics);
        if (!result.applied()) {
          log.note(
              String.format(
                  "step %d skipped: loss %s, grad_norm %s (%d in a row, limit %d)",
                  state.step(), result.loss(), result.gradNorm(), streak, t.maxBadSteps()));
          if (streak >= t.maxBadSteps()) {
            // the weights are those of the last applied update: a resume from here continues with a
            // fresh streak, and the regular checkpoint from before the streak is kept as well
            Path before = Checkpoints.findLatest(run.runDir(), new ArrayList<>());
            TrainerState saved =
                new TrainerState(
                    state.step(),
                    state.samplesSeen(),
                    state.tokensSeen(),
                    state.epoch(),
                    state.epochCursor(),
                    state.seed(),
                    state.lr(),
                    state.badSteps(),
                    0,
                    state.bestEval(),
                    state.bestEvalStep(),
                    state.extra());
            Path ckpt =
                Checkpoints.write(
                    run.runDir(),
                    run.model(),
                    run.modelSource(),
                    run.optimizer(),
                    saved,
                    run.recipe(),
                    run.recipe().checkpoint().maxShardBytes());
            console.printf(
                "tilt train: stopped after %d consecutive steps with a NaN/Inf loss or gradient norm."
                    + " The current weights are in %s%s. Lower the learning rate or clip harder, e.g.:%n"
                    + "  tilt train %s --resume %s --set train.lr=%.1e --set train.max_grad_norm=1.0%n",
                streak,
                ckpt,
                before == null ? "" : "; the last regular checkpoint before that is " + before,
                run.recipeArgument(),
                before == null ? ckpt : before,
                t.lr() / 10);
            return EXIT_DIVERGED;
          }
        }
        boolean last = state.step() == run.totalSteps();
        long evalEvery = r.log().evalEvery();
        if (objective.hasEval() && ((evalEvery > 0 && state.step() % evalEvery == 0) || last)) {
          state = evaluate(objective, state, log);
        }
        long every = r.checkpoint().every();
        if ((every > 0 && state.step() % every == 0) || last) {
          Path ckpt = checkpoint(state);
          lastCheckpoint = state.step();
          log.note("checkpoint " + ckpt);
        }
      }
      if (stopRequested && state.step() < run.totalSteps()) {
        Path ckpt =
            state.step() == lastCheckpoint
                ? Checkpoints.findLatest(run.runDir(), new ArrayList<>())
                : checkpoint(state);
        console.printf(
            "tilt train: stopped at step %d of %d; checkpoint %s. Resume with: tilt train %s --resume%n",
            state.step(), run.totalSteps(), ckpt, run.recipeArgument());
        return EXIT_STOPPED;
      }
    }
    return 0;
  }

  private TrainerState evaluate(Objective objective, TrainerState s, MetricsLog log) {
    Map<String, Double> m =
        objective.evaluate(run.model().manager(), run.recipe().train().microBatchSize());
    log.logEval(s.step(), m);
    double loss = m.getOrDefault("eval/loss", Double.NaN);
    if (!Double.isNaN(loss) && (s.bestEval() == null || loss < s.bestEval())) {
      s =
          new TrainerState(
              s.step(),
              s.samplesSeen(),
              s.tokensSeen(),
              s.epoch(),
              s.epochCursor(),
              s.seed(),
              s.lr(),
              s.badSteps(),
              s.badStreak(),
              loss,
              s.step(),
              s.extra());
      run.setState(s);
    }
    return s;
  }

  private Path checkpoint(TrainerState s) throws IOException {
    Path dir =
        Checkpoints.write(
            run.runDir(),
            run.model(),
            run.modelSource(),
            run.optimizer(),
            s,
            run.recipe(),
            run.recipe().checkpoint().maxShardBytes());
    Checkpoints.prune(run.runDir(), run.recipe().checkpoint().keepLast());
    return dir;
  }

  /**
   * Examples {@code k .. k+n-1} of the endless stream made of one seeded permutation per epoch: a
   * pure function of (seed, k), so a resumed run draws exactly what the uninterrupted one would.
   */
  List<Integer> nextBatch(long k, int n) {
    int size = run.objective().trainSize();
    List<Integer> out = new ArrayList<>(n);
    for (long i = k; i < k + n; i++) {
      long epoch = i / size;
      long[] order =
          orders.computeIfAbsent(
              epoch, e -> Batches.order(size, run.state().seed(), (int) (long) e));
      orders
          .keySet()
          .removeIf(e -> e < epoch); // one permutation per epoch in memory, not one per epoch run
      out.add((int) order[(int) (i % size)]);
    }
    return out;
  }

  /** The trainable weights' values, for tests comparing runs. */
  public Map<String, float[]> weights() {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray> e : run.model().parameters().entrySet()) {
      out.put(e.getKey(), e.getValue().toFloatArray());
    }
    return out;
  }

  public CausalLM model() {
    return run.model();
  }
}
