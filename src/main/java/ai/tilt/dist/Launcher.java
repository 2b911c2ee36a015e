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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import sun.misc.Signal;

/**
 * {@code tilt VERB ... --nproc N}: N workers on this machine, started as torchrun starts them. Each
 * is a fresh JVM of this Tilt with torchrun's variables ({@code RANK}, {@code WORLD_SIZE}, {@code
 * LOCAL_RANK}, {@code LOCAL_WORLD_SIZE}, {@code MASTER_ADDR=127.0.0.1}, a free {@code MASTER_PORT})
 * and its share of the CPU threads; its output comes back prefixed {@code [rN]}. A SIGTERM or
 * SIGINT to the launcher goes to every worker once (they checkpoint together and exit 75). When a
 * worker ends with an error the others are stopped and the launcher exits with that worker's code;
 * otherwise with theirs.
 */
public final class Launcher {
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
      env.put("TILT_LAUNCHER", "tilt --nproc");
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
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        Signal.handle(
            new Signal(name),
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
      } catch (IllegalArgumentException e) {
        // the platform does not let us handle it: the JVM's default applies
      }
    }
    int code = 0;
    List<Process> running = new ArrayList<>(workers);
    while (!running.isEmpty()) {
      for (Process p : new ArrayList<>(running)) {
        if (p.waitFor(200, TimeUnit.MILLISECONDS)) {
          running.remove(p);
          int rank = workers.indexOf(p);
          int exit = p.exitValue();
          if (exit != 0 && code == 0) {
            code = exit;
            if (!running.isEmpty() && !stopping[0]) {
              out.printf(
                  "tilt: worker %d (rank %d of %d) exited with %d; stopping the others%n",
                  rank, rank, nproc, exit);
              running.forEach(w -> w.toHandle().destroy());
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

  /** This JVM's -D and -X flags, so that workers run as the launcher was asked to. */
  private static List<String> inheritedFlags() {
    List<String> out = new ArrayList<>();
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("-D") || a.startsWith("-X")) {
        out.add(a);
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
