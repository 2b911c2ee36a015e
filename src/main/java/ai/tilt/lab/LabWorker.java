package ai.tilt.lab;

import ai.tilt.runtime.ChildJvm;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A JVM that runs lab jobs one after another ({@code tilt lab worker}), from the runner's side. A
 * lab job is 3-70 s, of which a fresh JVM spends about 1.5 s starting Java and libtorch and more
 * again compiling the hot paths; a worker pays that once per {@link #JOBS} jobs. Jobs still never
 * overlap in one JVM (DJL allows one gradient collector at a time), each job's Java output goes to
 * its own log, and every result is the one a fresh JVM gets to the last bit (LabRunTest: training
 * is deterministic once arithmetic with numbers keeps its operand alive, see Scalars).
 *
 * <p>The protocol: one job per line on the worker's stdin ({@code {"log": ..., "argv": [...]}}),
 * and a line {@link #EXIT} + code on its stdout when the job ends. Anything else the worker's
 * process prints (libtorch writes to the file descriptors, not to Java's streams) goes to the log
 * of the job that runs. A worker that dies mid-job reports its process's exit code.
 */
public final class LabWorker implements AutoCloseable {
  /** Marks the end of a job on the worker's stdout. */
  public static final String EXIT = "\u0001tilt-lab-exit ";

  /** Jobs before a worker is replaced: bounds what a job may leak into the next ones. */
  static final int JOBS = 40;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Process process;
  private final Writer in;
  private final BufferedReader out;
  private int jobs;

  private LabWorker(Process process) {
    this.process = process;
    this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    this.out =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
  }

  /** Starts {@code tilt lab worker} with the jobs' JVM flags. */
  static LabWorker start(List<String> jvmFlags) throws IOException {
    ProcessBuilder pb =
        ChildJvm.builder(jvmFlags, List.of("lab", "worker")).redirectErrorStream(true);
    pb.environment().putIfAbsent("OMP_WAIT_POLICY", "PASSIVE");
    return new LabWorker(pb.start());
  }

  Process process() {
    return process;
  }

  /** Whether this worker should take another job. */
  boolean fresh() {
    return process.isAlive() && jobs < JOBS;
  }

  /**
   * Runs one job to its end.
   *
   * @return its exit code, or the worker's own if it died first
   */
  int run(List<String> argv, Path log) throws IOException, InterruptedException {
    jobs++;
    var line = JSON.createObjectNode();
    line.put("log", log.toString());
    line.set("argv", JSON.valueToTree(argv));
    try {
      in.write(JSON.writeValueAsString(line) + "\n");
      in.flush();
    } catch (IOException e) {
      return process.waitFor(); // it died between jobs
    }
    List<String> stray = new ArrayList<>();
    try {
      for (String s = out.readLine(); s != null; s = out.readLine()) {
        int at = s.indexOf(EXIT);
        if (at >= 0) {
          if (at > 0) {
            stray.add(s.substring(0, at));
          }
          return Integer.parseInt(s.substring(at + EXIT.length()).trim());
        }
        stray.add(s);
      }
      return process.waitFor();
    } finally {
      if (!stray.isEmpty()) {
        Files.write(
            log,
            stray,
            StandardCharsets.UTF_8,
            StandardOpenOption.CREATE,
            StandardOpenOption.APPEND);
      }
    }
  }

  /** Jobs this worker has been given, the one running included. */
  int jobs() {
    return jobs;
  }

  /**
   * Ends the worker: no more jobs (an idle worker exits at the end of its input); one still busy
   * gets SIGTERM (a training job checkpoints first), and one that still runs a minute later is
   * killed.
   */
  @Override
  public void close() {
    try {
      try {
        in.close();
      } catch (IOException e) {
        // it is gone already
      }
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
