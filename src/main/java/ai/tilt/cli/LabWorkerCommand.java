package ai.tilt.cli;

import ai.tilt.lab.LabWorker;
import ai.tilt.runtime.Devices;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import sun.misc.Signal;

/**
 * {@code tilt lab worker}, hidden: runs {@code lab run}'s jobs one after another in this JVM. Each
 * line of stdin is a job, {@code {"log": FILE, "argv": [...]}}: its Java output is appended to
 * FILE, and its exit code comes back on stdout after the marker {@code lab run} waits for (the
 * protocol's other side is {@link LabWorker}). The worker ends at the end of its input.
 */
@Command(name = "worker", hidden = true, description = "Runs lab jobs from stdin (for lab run).")
final class LabWorkerCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  public Integer call() throws Exception {
    PrintStream out = System.out;
    PrintStream err = System.err;
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    exitOnSignals();
    Map<String, String> settings = settings();
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      JsonNode job = JSON.readTree(line);
      List<String> argv = new ArrayList<>();
      job.get("argv").forEach(a -> argv.add(a.asText()));
      int code;
      try (PrintStream log =
          new PrintStream(
              new FileOutputStream(job.get("log").asText(), true), true, StandardCharsets.UTF_8)) {
        System.setOut(log);
        System.setErr(log);
        try {
          code = Main.commandLine().execute(argv.toArray(new String[0]));
        } catch (Throwable t) { // an Error (out of memory): report it, and end this worker
          t.printStackTrace(log);
          code = 70;
        } finally {
          System.setOut(out);
          System.setErr(err);
          exitOnSignals(); // train's handlers (checkpoint, then exit 75) end with its run
          restore(settings);
        }
      }
      out.println(LabWorker.EXIT + code);
      out.flush();
      if (code == 70 || code == 75) {
        return code; // broken, or stopped by SIGTERM mid-run: the lab is stopping
      }
    }
    return 0;
  }

  /**
   * SIGTERM and SIGINT end the worker at once, between jobs and during any but a training job's
   * run, as they end a fresh JVM's job (an unfinished job starts over).
   */
  private static void exitOnSignals() {
    Signal.handle(new Signal("TERM"), s -> Runtime.getRuntime().halt(143));
    Signal.handle(new Signal("INT"), s -> Runtime.getRuntime().halt(130));
  }

  /** The process-wide settings Tilt's commands may change: tilt.* and slf4j system properties. */
  private static Map<String, String> settings() {
    Map<String, String> out = new HashMap<>();
    for (String k : System.getProperties().stringPropertyNames()) {
      if (k.startsWith("tilt.") || k.startsWith("org.slf4j.")) {
        out.put(k, System.getProperty(k));
      }
    }
    return out;
  }

  /**
   * Puts back what the worker started with, so no job sees another's --device, -v or recipe device.
   */
  private static void restore(Map<String, String> settings) {
    for (String k : settings().keySet()) {
      if (!settings.containsKey(k)) {
        System.clearProperty(k);
      }
    }
    settings.forEach(System::setProperty);
    Devices.reset();
  }
}
