package ai.tilt.lab;

import ai.tilt.runtime.FileTrees;
import ai.tilt.train.Checkpoints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Runs the lab's jobs, each a {@code tilt} command, in {@link LabWorker} JVMs that run one job at a
 * time: DJL allows one gradient collector per JVM, and separate processes also let the jobs share
 * the cores (each worker gets cores / workers libtorch threads) without sharing a heap.
 *
 * <p>Resumable at two levels. A job that finished left {@code .lab-done.json} holding its resolved
 * command line and the hashes of the files it names: it is skipped while the command, those files
 * (an edited recipe) and the steps it depends on (none finished after it) are unchanged, and rerun
 * from scratch otherwise. A training job that was interrupted (the lab was stopped: children get
 * SIGTERM and write a checkpoint) continues from its latest complete checkpoint with {@code
 * --resume auto}; any other unfinished job starts over. A failed job is reported with the tail of
 * its log, the jobs that need it are skipped, and every other job still runs.
 */
public final class LabRunner {
  public static final String DONE = ".lab-done.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<LabJobs.Job> jobs;
  private final Path planDir;
  private final int workers;
  private final int threadsPerJob;
  private final boolean keepCheckpoints;
  private final PrintStream console;
  private final Set<Process> live = ConcurrentHashMap.newKeySet();
  private final Set<LabWorker> pool = ConcurrentHashMap.newKeySet();
  private final ThreadLocal<LabWorker> mine = new ThreadLocal<>(); // each pool thread's worker
  private final Map<String, LabJobs.Job> byId = new HashMap<>();
  private volatile boolean stopping;

  /** How a job ended. */
  public enum Outcome {
    RAN,
    CACHED,
    FAILED,
    SKIPPED
  }

  public LabRunner(
      List<LabJobs.Job> jobs,
      Path planDir,
      int workers,
      int threadsPerJob,
      boolean keepCheckpoints,
      PrintStream console) {
    this.jobs = jobs;
    this.planDir = planDir;
    this.workers = Math.max(1, workers);
    this.threadsPerJob = Math.max(1, threadsPerJob);
    this.keepCheckpoints = keepCheckpoints;
    this.console = console;
    for (LabJobs.Job j : jobs) {
      byId.put(j.id(), j);
    }
  }

  /** Runs every job; returns each job's outcome, in the jobs' order. */
  public Map<String, Outcome> run() throws InterruptedException {
    Thread hook = new Thread(this::stopChildren, "lab-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    ExecutorService threads = Executors.newFixedThreadPool(workers);
    Map<String, Outcome> outcomes = new LinkedHashMap<>();
    Map<String, Path> results = new HashMap<>(); // step id -> its result
    List<LabJobs.Job> pending = new ArrayList<>(jobs);
    ExecutorCompletionService<Object[]> done = new ExecutorCompletionService<>(threads);
    int running = 0;
    long start = System.nanoTime();
    double ranSeconds = 0;
    int ran = 0;
    try {
      while (!pending.isEmpty() || running > 0) {
        // steps first: each unlocks a whole experiment's runs
        pending.sort(Comparator.comparing(j -> !j.step()));
        for (var it = pending.iterator(); it.hasNext() && running < workers && !stopping; ) {
          LabJobs.Job job = it.next();
          String failedDep =
              job.deps().stream()
                  .filter(
                      d ->
                          outcomes.containsKey(d)
                              && (outcomes.get(d) == Outcome.FAILED
                                  || outcomes.get(d) == Outcome.SKIPPED))
                  .findFirst()
                  .orElse(null);
          if (failedDep != null) {
            it.remove();
            outcomes.put(job.id(), Outcome.SKIPPED);
            console.printf(
                "[%d/%d] skipped %s (%s did not finish)%n",
                outcomes.size(), jobs.size(), job.id(), failedDep);
            continue;
          }
          if (!job.deps().stream().allMatch(outcomes::containsKey)) {
            continue;
          }
          it.remove();
          Map<String, Path> stepResults = LabJobs.stepResults(job, results);
          done.submit(() -> new Object[] {job, execute(job, stepResults)});
          running++;
        }
        if (running == 0) {
          if (stopping || pending.isEmpty()) {
            break;
          }
          boolean skippable =
              pending.stream()
                  .anyMatch(
                      j ->
                          j.deps().stream()
                              .anyMatch(
                                  d ->
                                      outcomes.get(d) == Outcome.FAILED
                                          || outcomes.get(d) == Outcome.SKIPPED));
          if (!skippable) {
            throw new IllegalStateException(
                "lab runner: " + pending.get(0).id() + " waits for a job that never runs");
          }
          continue; // the next pass skips them
        }
        Future<Object[]> f = done.take();
        running--;
        Object[] r;
        try {
          r = f.get();
        } catch (ExecutionException e) {
          throw new IllegalStateException("lab runner: " + e.getCause(), e.getCause());
        }
        LabJobs.Job job = (LabJobs.Job) r[0];
        JobResult jr = (JobResult) r[1];
        outcomes.put(job.id(), jr.outcome());
        if (jr.outcome() != Outcome.FAILED && job.step()) {
          results.put(job.id(), result(job));
        }
        if (jr.outcome() == Outcome.RAN) {
          ran++;
          ranSeconds += jr.seconds();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        long left = jobs.size() - outcomes.size();
        String eta = ran == 0 ? "?" : clock(ranSeconds / ran * left / workers);
        console.printf(
            "[%d/%d] %-7s %s%s (elapsed %s, eta %s)%n",
            outcomes.size(),
            jobs.size(),
            jr.outcome().name().toLowerCase(),
            job.id(),
            jr.outcome() == Outcome.RAN ? String.format(" %.1f s", jr.seconds()) : "",
            clock(elapsed),
            eta);
        if (jr.outcome() == Outcome.FAILED) {
          console.println(jr.message());
        }
      }
    } finally {
      threads.shutdownNow();
      for (LabWorker w : List.copyOf(pool)) {
        retire(w);
      }
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // already shutting down: the hook is running
      }
    }
    return outcomes;
  }

  /**
   * What a finished step hands to later ones: its latest checkpoint if it trained, else its
   * directory.
   */
  static Path result(LabJobs.Job job) {
    if (!job.trains()) {
      return job.dir();
    }
    try {
      Path latest = Checkpoints.findLatest(job.dir(), new ArrayList<>());
      return latest == null ? job.dir() : latest;
    } catch (IOException e) {
      return job.dir();
    }
  }

  private record JobResult(Outcome outcome, double seconds, String message) {}

  private JobResult execute(LabJobs.Job job, Map<String, Path> stepResults)
      throws IOException, InterruptedException {
    List<String> argv;
    try {
      argv = LabJobs.resolve(job, planDir, stepResults);
    } catch (IllegalArgumentException e) {
      return new JobResult(Outcome.FAILED, 0, "  " + e.getMessage());
    }
    Path marker = job.dir().resolve(DONE);
    ObjectNode files = JobFiles.hashes(argv, job.dir());
    if (Files.exists(marker)) {
      JsonNode m = JSON.readTree(marker.toFile());
      if (JSON.valueToTree(argv).equals(m.get("argv"))
          && !depsFinishedAfter(job, m.path("finished_at").asText())
          && (!m.has("files") || files.equals(m.get("files")))) {
        return new JobResult(Outcome.CACHED, m.path("seconds").asDouble(), "");
      }
    }
    List<String> cmd = new ArrayList<>(argv);
    if (job.trains()
        && Files.isDirectory(job.dir())
        && !Files.exists(marker)
        && Checkpoints.findLatest(job.dir(), new ArrayList<>()) != null) {
      cmd.add("--resume");
      cmd.add("auto");
    } else {
      FileTrees.deleteTree(job.dir());
    }
    Files.createDirectories(job.dir());
    Path log = job.dir().resolve("lab.log");
    long t0 = System.nanoTime();
    Run run = runOnce(cmd, log);
    if (run.exit() != 0 && run.reused() && !stopping) {
      // what earlier jobs left in that JVM (memory, say) must not fail this one: once more, from
      // the start, in a fresh JVM
      appendLog(
          log,
          "lab: exit "
              + run.exit()
              + " in a JVM that had run other jobs; once more in a fresh one");
      try (var left = Files.list(job.dir())) {
        for (Path f : left.filter(f -> !f.equals(log)).toList()) {
          FileTrees.deleteTree(f);
        }
      }
      run = runOnce(argv, log); // no --resume: its checkpoints are gone
    }
    int exit = run.exit();
    double seconds = (System.nanoTime() - t0) / 1e9;
    if (exit != 0) {
      return new JobResult(
          Outcome.FAILED,
          seconds,
          "  exit " + exit + "; the end of " + log + ":\n" + JobFiles.tail(log, 8));
    }
    if (!job.step() && !keepCheckpoints) {
      for (Path d : Checkpoints.stepDirs(job.dir())) {
        FileTrees.deleteTree(
            d); // the metrics are the result; a run's weights are 10-100x their size
      }
    }
    ObjectNode m = JSON.createObjectNode();
    m.set("argv", JSON.valueToTree(argv));
    m.put("seconds", seconds);
    m.put("finished_at", Instant.now().toString());
    m.set("files", files);
    Path tmp = job.dir().resolve(DONE + ".tmp");
    Files.writeString(tmp, JSON.writeValueAsString(m));
    Files.move(tmp, marker, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return new JobResult(Outcome.RAN, seconds, "");
  }

  /**
   * Whether a job this one depends on finished after it did: a step that reran (its plan or its
   * inputs changed) makes every job that read its result stale, though their command lines, which
   * name the step's directory, are the same.
   */
  private boolean depsFinishedAfter(LabJobs.Job job, String finishedAt) throws IOException {
    if (finishedAt.isEmpty()) {
      return true;
    }
    Instant own = Instant.parse(finishedAt);
    for (String d : job.deps()) {
      LabJobs.Job dep = byId.get(d);
      Path depMarker = dep == null ? null : dep.dir().resolve(DONE);
      if (depMarker != null && Files.exists(depMarker)) {
        String t = JSON.readTree(depMarker.toFile()).path("finished_at").asText();
        if (!t.isEmpty() && Instant.parse(t).isAfter(own)) {
          return true;
        }
      }
    }
    return false;
  }

  /** A job's JVM flags (the rest is ChildJvm's): its libtorch threads, heap, and this device. */
  private List<String> jvmFlags() {
    List<String> f =
        new ArrayList<>(List.of("-Dtilt.threads=" + threadsPerJob, "-XX:+UseSerialGC", "-Xmx2g"));
    String device = System.getProperty("tilt.device");
    if (device != null) {
      f.add("-Dtilt.device=" + device);
    }
    return f;
  }

  /** How a job's one try ended, and whether its worker had run other jobs before it. */
  private record Run(int exit, boolean reused) {}

  /** Runs {@code cmd} in this pool thread's worker, logging the command line first. */
  private Run runOnce(List<String> cmd, Path log) throws IOException, InterruptedException {
    appendLog(log, "$ tilt " + String.join(" ", cmd));
    LabWorker worker = worker();
    int exit = worker.run(cmd, log);
    if (exit != 0) {
      retire(worker); // a job that failed may have left anything behind in its JVM
      mine.remove();
    }
    return new Run(exit, worker.jobs() > 1);
  }

  private static void appendLog(Path log, String line) throws IOException {
    Files.writeString(
        log,
        line + "\n",
        StandardCharsets.UTF_8,
        StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
  }

  /** This pool thread's worker, started (or replaced after {@link LabWorker#JOBS} jobs) here. */
  private LabWorker worker() throws IOException {
    LabWorker worker = mine.get();
    if (worker == null || !worker.fresh()) {
      retire(worker);
      worker = LabWorker.start(jvmFlags());
      mine.set(worker);
      pool.add(worker);
      live.add(worker.process());
    }
    return worker;
  }

  /** Ends a worker (null: none) once its job is over. */
  private void retire(LabWorker w) {
    if (w != null) {
      pool.remove(w);
      w.close();
      live.remove(w.process());
    }
  }

  /** SIGTERM to every child (training ones checkpoint and exit 75), then wait for them. */
  private void stopChildren() {
    stopping = true;
    for (Process p : live) {
      p.destroy();
    }
    for (Process p : live) {
      try {
        p.waitFor(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  static String clock(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600
        ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format("%d:%02d", s / 60, s % 60);
  }
}
