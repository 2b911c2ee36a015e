package ai.tilt.report;

import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.TRUNCATE_EXISTING;
import static java.nio.file.StandardOpenOption.WRITE;

import ai.tilt.report.Plots.Row;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.Console;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * What a training run's user sees and keeps. Each {@link #logStep}/{@link #logEval} call appends
 * one JSON object to {@code runDir/metrics.jsonl} ({@code step} first, then the metrics in the
 * caller's order; NaN and infinities as the strings {@code "NaN"}, {@code "Infinity"}, {@code
 * "-Infinity"}), flushed at once so a killed run keeps its lines. Every {@code logEvery} steps and
 * at the last step the console gets one line such as {@code step 40/200 | loss 2.3456 | lr 1.00e-03
 * | grad_norm 0.832 | 1,234 tok/s | eta 0:42}; on an interactive terminal a progress bar sits below
 * the lines. {@link #close} writes {@code summary.json} and {@code plots/*.png}. With {@link
 * #tensorboard} the same points also go to TensorBoard event files ({@link TensorBoardLog}).
 *
 * <p>Not for concurrent training loops sharing one file: one run directory, one writer.
 */
public final class MetricsLog implements RunLog {
  public static final String METRICS_FILE = "metrics.jsonl";
  public static final String SUMMARY_FILE = "summary.json";

  /** Steps averaged for the ETA: long enough to smooth noise, short enough to follow a slowdown. */
  private static final int ETA_WINDOW = 20;

  private static final ObjectMapper JSON = new ObjectMapper();

  /** How progress is shown on the console. */
  public enum ProgressMode {
    /**
     * A bar when the console is System.out/err on an interactive terminal and the system property
     * {@code tilt.progress} is not {@code false}; otherwise {@link #LINES}.
     */
    AUTO,
    /** The periodic lines with a progress bar below them (carriage returns and ANSI clears). */
    BAR,
    /** The periodic lines only, no carriage returns: for CI logs and redirected output. */
    LINES
  }

  private final Path runDir;
  private final long totalSteps;
  private final int logEvery;
  private final PrintStream console;
  private final BufferedWriter out;
  private final ProgressBar bar;
  private final long startNanos = System.nanoTime();
  private final double priorWallSeconds;
  private final ArrayDeque<Double> stepSeconds = new ArrayDeque<>();
  private final long resumeFromStep;
  private boolean plots = true;
  private TensorBoardLog tensorboard;
  // Read by the bar's refresh thread; a lock there could deadlock against bar.refresh().
  private volatile double meanStepSeconds = Double.NaN;
  private long lastStep;
  private long lastNanos;
  private boolean closed;

  /** As {@link #MetricsLog(Path, long, int, long, PrintStream, ProgressMode)} with AUTO. */
  public MetricsLog(
      Path runDir, long totalSteps, int logEvery, long resumeFromStep, PrintStream console)
      throws IOException {
    this(runDir, totalSteps, logEvery, resumeFromStep, console, ProgressMode.AUTO);
  }

  /**
   * Opens {@code runDir/metrics.jsonl} (creating runDir). A fresh run ({@code resumeFromStep} = -1)
   * replaces an existing file; a resumed run keeps only the lines with {@code step <=
   * resumeFromStep}, because steps logged after the last checkpoint will be run and logged again.
   *
   * @throws IllegalArgumentException for bad arguments, or an invalid line in the file to resume
   */
  public MetricsLog(
      Path runDir,
      long totalSteps,
      int logEvery,
      long resumeFromStep,
      PrintStream console,
      ProgressMode mode)
      throws IOException {
    if (totalSteps < 1 || logEvery < 1 || resumeFromStep < -1) {
      throw new IllegalArgumentException(
          "MetricsLog needs totalSteps >= 1, logEvery >= 1, resumeFromStep >= -1;"
              + " got "
              + totalSteps
              + ", "
              + logEvery
              + ", "
              + resumeFromStep);
    }
    this.runDir = runDir;
    this.totalSteps = totalSteps;
    this.logEvery = logEvery;
    this.console = console;
    this.resumeFromStep = resumeFromStep;
    Files.createDirectories(runDir);
    Path file = runDir.resolve(METRICS_FILE);
    Path summary = runDir.resolve(SUMMARY_FILE);
    if (resumeFromStep >= 0) {
      // close() runs even when a run crashes, so the interrupted session usually left its time
      // here.
      JsonNode prior = Plots.readJson(summary);
      priorWallSeconds =
          prior != null && prior.path("wall_time_s").isNumber()
              ? prior.get("wall_time_s").asDouble()
              : 0;
      if (Files.exists(file)) {
        truncate(file, resumeFromStep, console);
      }
      out = Files.newBufferedWriter(file, CREATE, APPEND, WRITE);
    } else {
      priorWallSeconds = 0;
      out = Files.newBufferedWriter(file, CREATE, TRUNCATE_EXISTING, WRITE);
    }
    Files.deleteIfExists(summary);
    lastStep = Math.max(resumeFromStep, 0);
    lastNanos = startNanos;
    bar = showBar(mode, console) ? newBar(lastStep) : null;
  }

  private static boolean showBar(ProgressMode mode, PrintStream console) {
    if (mode != ProgressMode.AUTO) {
      return mode == ProgressMode.BAR;
    }
    if ("false".equalsIgnoreCase(System.getProperty("tilt.progress"))
        || (console != System.out && console != System.err)) {
      return false;
    }
    Console c = System.console();
    if (c == null) {
      return false;
    }
    // From Java 22 System.console() exists even when redirected; Console.isTerminal() tells.
    try {
      Method isTerminal = Console.class.getMethod("isTerminal");
      return (Boolean) isTerminal.invoke(c);
    } catch (ReflectiveOperationException e) {
      return true;
    }
  }

  private ProgressBar newBar(long start) {
    return new ProgressBarBuilder()
        .setTaskName("train")
        .setInitialMax(totalSteps)
        .startsFrom(start, Duration.ZERO)
        .setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(500)
        .setConsumer(new ConsoleProgressBarConsumer(console))
        .setEtaFunction(
            state -> {
              double s = meanStepSeconds * Math.max(0, state.getMax() - state.getCurrent());
              return Double.isFinite(s)
                  ? Optional.of(Duration.ofMillis(Math.round(s * 1000)))
                  : Optional.empty();
            })
        .build();
  }

  private static void truncate(Path file, long resumeFromStep, PrintStream console)
      throws IOException {
    Plots.Metrics old = Plots.read(file);
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    int removed = 0;
    try (BufferedWriter w = Files.newBufferedWriter(tmp)) {
      for (Row r : old.rows()) {
        if (r.step() <= resumeFromStep) {
          w.write(r.text());
          w.write('\n');
        } else {
          removed++;
        }
      }
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    if (removed > 0) {
      console.println(
          "resume @ step "
              + resumeFromStep
              + " | removed "
              + removed
              + " metrics lines past it from "
              + file);
    }
    if (old.droppedLine() > 0) {
      console.println(
          "resume | dropped the interrupted last line " + old.droppedLine() + " of " + file);
    }
  }

  /** Appends one training step's metrics; prints a console line every {@code logEvery} steps. */
  @Override
  public synchronized void logStep(long step, Map<String, Double> metrics) {
    append(step, metrics);
    updateEta(step, metrics.get("perf/step_s"));
    if (bar != null) {
      Double loss = metrics.get("train/loss");
      bar.setExtraMessage(loss == null ? "" : "loss " + ConsoleNumbers.fixed(loss, 4));
      bar.stepTo(step);
    }
    if (step % logEvery == 0 || step == totalSteps) {
      println(stepLine(step, metrics));
    }
  }

  /** Appends evaluation metrics (keys already prefixed, e.g. {@code eval/loss}) and prints them. */
  @Override
  public synchronized void logEval(long step, Map<String, Double> metrics) {
    append(step, metrics);
    StringBuilder line = new StringBuilder("eval @ step ").append(step);
    for (Map.Entry<String, Double> e : metrics.entrySet()) {
      String key = e.getKey().startsWith("eval/") ? e.getKey().substring(5) : e.getKey();
      line.append(" | ").append(key).append(' ').append(ConsoleNumbers.compact(e.getValue()));
    }
    println(line.toString());
  }

  /** A console line for an event (a skipped step, a checkpoint); not written to metrics.jsonl. */
  @Override
  public synchronized void note(String message) {
    println(message);
  }

  private void append(long step, Map<String, Double> metrics) {
    ObjectNode o = JSON.createObjectNode();
    o.put("step", step);
    for (Map.Entry<String, Double> e : metrics.entrySet()) {
      String k = e.getKey();
      Double v = e.getValue();
      if (k.equals("step")) {
        throw new IllegalArgumentException("\"step\" is MetricsLog's own key, not a metric");
      } else if (v == null) {
        o.putNull(k);
      } else if (Double.isFinite(v)) {
        o.put(k, v.doubleValue());
      } else {
        // JSON has no NaN/Infinity literals; strings keep each line parseable by any reader.
        o.put(k, v.isNaN() ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
      }
    }
    try {
      out.write(JSON.writeValueAsString(o));
      out.write('\n');
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + runDir.resolve(METRICS_FILE), e);
    }
    if (tensorboard != null) {
      tensorboard.scalars(step, metrics);
    }
  }

  private void updateEta(long step, Double stepS) {
    long now = System.nanoTime();
    double perStep = Double.NaN;
    if (stepS != null && Double.isFinite(stepS) && stepS >= 0) {
      perStep = stepS;
    } else if (step > lastStep) {
      perStep = (now - lastNanos) / 1e9 / (step - lastStep);
    }
    if (step > lastStep) {
      lastStep = step;
      lastNanos = now;
    }
    if (Double.isFinite(perStep)) {
      stepSeconds.addLast(perStep);
      if (stepSeconds.size() > ETA_WINDOW) {
        stepSeconds.removeFirst();
      }
      meanStepSeconds =
          stepSeconds.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }
  }

  String stepLine(long step, Map<String, Double> m) {
    StringBuilder s = new StringBuilder("step ").append(step).append('/').append(totalSteps);
    Double v;
    // an iteration whose steps all had nothing to learn from has no loss: say why, not "NaN"
    boolean nothing =
        m.getOrDefault("train/empty_steps", 0.0) > 0
            && !Double.isFinite(m.getOrDefault("train/loss", 0.0));
    if (nothing) {
      s.append(" | no update: no pair passed online.pair_threshold");
    } else if ((v = m.get("train/loss")) != null) {
      s.append(" | loss ").append(ConsoleNumbers.fixed(v, 4));
    }
    if ((v = m.get("lr")) != null) {
      s.append(" | lr ").append(String.format(Locale.ROOT, "%.2e", v));
    }
    if (!nothing && (v = m.get("grad_norm")) != null) {
      s.append(" | grad_norm ").append(ConsoleNumbers.fixed(v, 3));
    }
    if ((v = m.get("perf/tokens_per_s")) != null) {
      s.append(" | ").append(String.format(Locale.US, "%,.0f", v)).append(" tok/s");
    }
    double eta = meanStepSeconds * Math.max(0, totalSteps - step);
    if (Double.isFinite(eta)) {
      s.append(" | eta ").append(ConsoleNumbers.clock(eta));
    }
    return s.toString();
  }

  private void println(String line) {
    if (bar == null) {
      console.println(line);
    } else {
      // Clear the bar's line, print above it, and let the bar redraw underneath.
      console.print("\r\033[2K" + line + "\n");
      bar.refresh();
    }
  }

  /** Whether {@link #close} draws the PNG plots (the recipe's log.plots). */
  public MetricsLog plots(boolean draw) {
    this.plots = draw;
    return this;
  }

  /**
   * Also writes every step's metrics to TensorBoard event files in {@code runDir/tensorboard}, cut
   * to the resumed step as metrics.jsonl is, and {@code recipe} (the resolved recipe) as a text
   * summary under {@value TensorBoardLog#HPARAMS_TAG} at the session's first step.
   */
  public MetricsLog tensorboard(String recipe) throws IOException {
    if (tensorboard == null) {
      tensorboard = TensorBoardLog.open(runDir, resumeFromStep, console);
      // four backticks: a recipe's strings may hold three, which would end a ``` block early
      tensorboard.text(
          Math.max(resumeFromStep, 0), TensorBoardLog.HPARAMS_TAG, "````\n" + recipe + "\n````");
    }
    return this;
  }

  /**
   * Closes the file and the bar, then writes {@code summary.json} and the plots. Neither of those
   * can fail the run: a problem is reported as a warning line.
   */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try (TensorBoardLog tb = tensorboard) {
      out.close();
    } finally {
      if (bar != null) {
        bar.close();
      }
    }
    double wall = priorWallSeconds + (System.nanoTime() - startNanos) / 1e9;
    try {
      console.println("summary: " + Plots.writeSummary(runDir, totalSteps, wall));
    } catch (IOException | RuntimeException e) {
      console.println("warning: no " + SUMMARY_FILE + ": " + e.getMessage());
    }
    if (!plots) {
      return;
    }
    try {
      List<Path> written = Plots.write(runDir);
      console.println("plots: " + written.size() + " charts in " + runDir.resolve("plots"));
    } catch (Exception | LinkageError e) {
      // LinkageError: a JRE without AWT's native libraries cannot draw, which is no reason to fail.
      console.println("warning: no plots: " + e);
    }
  }
}
