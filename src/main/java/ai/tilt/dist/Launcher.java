package ai.tilt.dist;

import ai.tilt.runtime.ChildJvm;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * {@code tilt VERB ... --nproc N}: N workers on this machine, started as torchrun starts them. Each
 * is a fresh JVM of this Tilt with torchrun's variables ({@code RANK}, {@code WORLD_SIZE}, {@code
 * LOCAL_RANK}, {@code LOCAL_WORLD_SIZE}, {@code MASTER_ADDR=127.0.0.1}, a free {@code MASTER_PORT})
 * and its share of the CPU threads; its output comes back prefixed {@code [rN]}. A SIGTERM or
 * SIGINT to the launcher goes to every worker once (they checkpoint together and exit 75). When a
 * worker ends with an error the others get a SIGTERM, and are killed if they have not exited {@link
 * #GRACE} later; the launcher exits with that worker's code, otherwise with theirs. Workers watch
 * the launcher in turn: one killed outright stops them at their next step (see {@code
 * TILT_LAUNCHER}).
 */
public final class Launcher {
  /** How long the other workers have to checkpoint and exit after one failed. */
  static final Duration GRACE = Duration.ofSeconds(30);

  /** What {@code TILT_LAUNCHER} says in the workers this launcher starts. */
  public static final String NAME = "tilt --nproc";

  private Launcher() {}

  /**
   * Runs the workers to the end and returns the exit code of the job.
   *
   * @param args the verb and its arguments, without --nproc
   */
  public static int run(int nproc, List<String> args, PrintStream out) throws InterruptedException {
    if (nproc < 1) {
      throw new IllegalArgumentException("--nproc must be >= 1, got " + nproc);
    }
    int port = freePort();
    List<String> jvmFlags = inheritedFlags();
    List<Process> workers = new ArrayList<>();
    List<Thread> pumps = new ArrayList<>();
    for (int r = 0; r < nproc; r++) {
      ProcessBuilder pb = ChildJvm.builder(jvmFlags, args);
      Map<String, String> env = pb.environment();
      env.put("RANK", Integer.toString(r));
      env.put("WORLD_SIZE", Integer.toString(nproc));
      env.put("LOCAL_RANK", Integer.toString(r));
      env.put("LOCAL_WORLD_SIZE", Integer.toString(nproc));
      env.put("MASTER_ADDR", "127.0.0.1");
      env.put("MASTER_PORT", Integer.toString(port));
      env.put("TILT_LAUNCHER", NAME);
      pb.redirectErrorStream(true);
      Process p;
      try {
        p = pb.start();
      } catch (IOException e) {
        workers.forEach(Process::destroyForcibly);
        throw new UncheckedIOException("starting worker " + r, e);
      }
      workers.add(p);
      pumps.add(pump(p, "[r" + r + "] ", out));
    }
    boolean[] stopping = {false};
    Map<Signal, SignalHandler> previous = new HashMap<>();
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        Signal signal = new Signal(name);
        SignalHandler old =
            Signal.handle(
                signal,
                sig -> {
                  synchronized (stopping) {
                    if (!stopping[0]) {
                      stopping[0] = true;
                      out.println("tilt: SIG" + name + ": stopping every worker at its next step");
                      // SIGTERM: checkpoint, exit 75 (the handle's destroy, not the Process's: that
                      // closes the output the workers still write)
                      workers.forEach(w -> w.toHandle().destroy());
                    }
                  }
                });
        previous.put(signal, old);
      } catch (IllegalArgumentException e) {
        // the platform does not let us handle it: the JVM's default applies
      }
    }
    try {
      return await(workers, pumps, nproc, stopping, out);
    } finally {
      previous.forEach(Signal::handle);
    }
  }

  /** Waits for every worker; the first to fail stops the others, by force after {@link #GRACE}. */
  private static int await(
      List<Process> workers, List<Thread> pumps, int nproc, boolean[] stopping, PrintStream out)
      throws InterruptedException {
    int code = 0;
    long killAt = Long.MAX_VALUE; // nanoTime after which the survivors of a failure are killed
    List<Process> running = new ArrayList<>(workers);
    while (!running.isEmpty()) {
      if (System.nanoTime() > killAt) {
        out.printf(
            "tilt: %d worker(s) still running %d s after the failure; killing them%n",
            running.size(), GRACE.toSeconds());
        running.forEach(Process::destroyForcibly);
        killAt = Long.MAX_VALUE;
      }
      for (Process p : new ArrayList<>(running)) {
        if (p.waitFor(200, TimeUnit.MILLISECONDS)) {
          running.remove(p);
          int rank = workers.indexOf(p);
          int exit = p.exitValue();
          if (exit != 0 && code == 0) {
            code = exit;
            if (!running.isEmpty() && !stopping[0]) {
              out.printf(
                  "tilt: rank %d of %d exited with %d; stopping the others%n", rank, nproc, exit);
              running.forEach(w -> w.toHandle().destroy());
              killAt = System.nanoTime() + GRACE.toNanos();
            }
          }
        }
      }
    }
    for (Thread t : pumps) {
      t.join(TimeUnit.SECONDS.toMillis(5));
    }
    return code;
  }

  private static Thread pump(Process p, String prefix, PrintStream out) {
    Thread t =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                  synchronized (out) {
                    out.println(prefix + line);
                  }
                }
              } catch (IOException e) {
                // the worker is gone; its exit code says how
              }
            },
            "tilt-worker-output");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /**
   * This JVM's -D and -X flags, and the {@code tilt.*} properties set since it started (a verb's
   * --device sets tilt.device), so that workers run as the launcher was asked to.
   */
  static List<String> inheritedFlags() {
    List<String> out = new ArrayList<>();
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("-D") || a.startsWith("-X")) {
        out.add(a);
      }
    }
    for (String key : new TreeSet<>(System.getProperties().stringPropertyNames())) {
      if (key.startsWith("tilt.")) {
        out.removeIf(a -> a.startsWith("-D" + key + "=") || a.equals("-D" + key));
        out.add("-D" + key + "=" + System.getProperty(key));
      }
    }
    return out;
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("no free port for the workers' rendezvous", e);
    }
  }
}
