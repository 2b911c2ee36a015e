package ai.tilt.cli;

import ai.tilt.lab.LabWorker;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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
    exitOnTerm();
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
          exitOnTerm(); // train's handler (checkpoint, then exit 75) ends with its run
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

  /** SIGTERM ends the worker at once: between jobs, and during any but a training job's run. */
  private static void exitOnTerm() {
    Signal.handle(new Signal("TERM"), s -> Runtime.getRuntime().halt(143));
  }
}
