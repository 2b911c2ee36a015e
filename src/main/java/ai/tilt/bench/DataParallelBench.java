package ai.tilt.bench;

import ai.tilt.dist.Launcher;
import ai.tilt.runtime.ChildJvm;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A benchmark run data-parallel on N local workers against one worker with one thread, in
 * alternating rounds on the same cores (the two never run at once), so that their ratio is the
 * scaling efficiency this machine gives. Each side is a fresh JVM of the same benchmark command;
 * their JSON lines are kept whole in the result.
 */
public final class DataParallelBench {
  private static final ObjectMapper JSON = new ObjectMapper();

  private DataParallelBench() {}

  /**
   * @param args the benchmark's command line (e.g. {@code bench dpo --model DIR}) without --nproc
   */
  public static Map<String, Object> compare(int nproc, int rounds, List<String> args)
      throws IOException, InterruptedException {
    List<JsonNode> one = new ArrayList<>();
    List<JsonNode> many = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      one.add(single(args));
      many.add(parallel(nproc, args));
      String unit = one.get(r).has("pairs_per_s") ? "pairs_per_s" : "tokens_per_s";
      System.err.printf(
          "round %d: 1 worker x 1 thread %s, %d workers %s %s%n",
          r + 1, one.get(r).path(unit), nproc, many.get(r).path(unit), unit.replace('_', ' '));
    }
    double[] ratio = new double[rounds];
    for (int r = 0; r < rounds; r++) {
      ratio[r] =
          many.get(r).get("step_s").asDouble() == 0
              ? Double.NaN
              : one.get(r).get("step_s").asDouble() / many.get(r).get("step_s").asDouble();
    }
    double[] sorted = ratio.clone();
    Arrays.sort(sorted);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", one.get(0).path("bench").asText() + "_data_parallel");
    out.put("workers", nproc);
    out.put("rounds", rounds);
    out.put("scaling_median", GenerateBench.round(sorted[rounds / 2]));
    out.put("scaling", Arrays.stream(ratio).map(GenerateBench::round).toArray());
    out.put("one_worker_one_thread", one);
    out.put("data_parallel", many);
    return out;
  }

  private static JsonNode single(List<String> args) throws IOException, InterruptedException {
    ProcessBuilder pb = ChildJvm.builder(List.of(), args);
    pb.environment().put("TILT_THREADS", "1");
    pb.environment().remove("LOCAL_WORLD_SIZE");
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("the one-worker run failed: " + out);
    }
    return lastJson(out, "");
  }

  private static JsonNode parallel(int nproc, List<String> args)
      throws IOException, InterruptedException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream capture = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    int code = Launcher.run(nproc, args, capture);
    String out = bytes.toString(StandardCharsets.UTF_8);
    if (code != 0) {
      throw new IllegalStateException("the " + nproc + "-worker run failed: " + out);
    }
    return lastJson(out, "[r0] ");
  }

  private static JsonNode lastJson(String output, String prefix) throws IOException {
    JsonNode last = null;
    for (String line : output.split("\n")) {
      String l = line.startsWith(prefix) ? line.substring(prefix.length()) : line;
      if (l.startsWith("{\"bench\"")) {
        last = JSON.readTree(l);
      }
    }
    if (last == null) {
      throw new IllegalStateException("no JSON line in: " + output);
    }
    return last;
  }
}
