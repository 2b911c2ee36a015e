package ai.tilt.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.report.MetricsLog.ProgressMode;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** metrics.jsonl content, resume truncation, summary numbers and console lines. */
class MetricsLogTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;
  final ByteArrayOutputStream captured = new ByteArrayOutputStream();
  final PrintStream console = new PrintStream(captured, true, StandardCharsets.UTF_8);

  /** An insertion-ordered map from alternating key, value arguments. */
  static Map<String, Double> m(Object... kv) {
    Map<String, Double> map = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      map.put((String) kv[i], ((Number) kv[i + 1]).doubleValue());
    }
    return map;
  }

  MetricsLog open(Path run, long total, int every, long resume) throws IOException {
    return new MetricsLog(run, total, every, resume, console, ProgressMode.LINES);
  }

  String consoleText() {
    return captured.toString(StandardCharsets.UTF_8);
  }

  @Test
  void writesStepFirstThenMetricsInCallerOrder() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = open(run, 10, 1, -1)) {
      log.logStep(
          1,
          m(
              "epoch",
              0.5,
              "lr",
              0.001,
              "train/loss",
              2.5,
              "grad_norm",
              1.25,
              "perf/tokens_per_s",
              100,
              "perf/step_s",
              0.5,
              "dpo/reward_margin",
              -0.25));
      log.logEval(1, m("eval/loss", 2.0));
      log.note("checkpoint written");
    }
    List<String> lines = Files.readAllLines(run.resolve("metrics.jsonl"));
    assertEquals(
        List.of(
            "{\"step\":1,\"epoch\":0.5,\"lr\":0.001,\"train/loss\":2.5,\"grad_norm\":1.25,"
                + "\"perf/tokens_per_s\":100.0,\"perf/step_s\":0.5,\"dpo/reward_margin\":-0.25}",
            "{\"step\":1,\"eval/loss\":2.0}"),
        lines);
    assertFalse(
        Files.readString(run.resolve("metrics.jsonl")).contains("checkpoint"),
        "notes stay off the file");
  }

  @Test
  void nonFiniteValuesAreJsonStrings() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = open(run, 10, 1, -1)) {
      log.logStep(
          3, m("a", Double.NaN, "b", Double.POSITIVE_INFINITY, "c", Double.NEGATIVE_INFINITY));
    }
    String line = Files.readAllLines(run.resolve("metrics.jsonl")).get(0);
    assertEquals("{\"step\":3,\"a\":\"NaN\",\"b\":\"Infinity\",\"c\":\"-Infinity\"}", line);
    JsonNode parsed = JSON.readTree(line); // a default ObjectMapper rejects bare NaN
    assertEquals("NaN", parsed.get("a").asText());
  }

  @Test
  void aStepKeyInTheMetricsIsRejected() throws IOException {
    try (MetricsLog log = open(tmp.resolve("run"), 10, 1, -1)) {
      assertThrows(IllegalArgumentException.class, () -> log.logStep(1, m("step", 1)));
    }
  }

  @Test
  void freshRunReplacesAnOldFile() throws IOException {
    Path run = tmp.resolve("run");
    Files.createDirectories(run);
    Files.writeString(run.resolve("metrics.jsonl"), "{\"step\":9,\"old\":1}\n");
    try (MetricsLog log = open(run, 10, 1, -1)) {
      log.logStep(1, m("x", 1));
    }
    assertEquals(
        List.of("{\"step\":1,\"x\":1.0}"), Files.readAllLines(run.resolve("metrics.jsonl")));
  }

  @Test
  void resumeDropsStepsPastTheCheckpointAndAppends() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = open(run, 6, 1, -1)) {
      for (int s = 1; s <= 5; s++) {
        log.logStep(s, m("train/loss", 10 + s));
        if (s % 2 == 0) {
          log.logEval(s, m("eval/loss", 20 + s));
        }
      }
    }
    List<String> before = Files.readAllLines(run.resolve("metrics.jsonl"));
    assertEquals(7, before.size());
    Files.writeString(run.resolve("summary.json"), "{\"wall_time_s\": 100.0}");
    // The "crash": a checkpoint at step 3, steps 4 and 5 (and the eval at 4) were logged after it.
    try (MetricsLog log = open(run, 6, 1, 3)) {
      log.logStep(4, m("train/loss", 40));
      log.logStep(5, m("train/loss", 50));
    }
    List<String> after = Files.readAllLines(run.resolve("metrics.jsonl"));
    assertEquals(before.subList(0, 4), after.subList(0, 4), "lines up to step 3 kept verbatim");
    assertEquals(
        List.of("{\"step\":4,\"train/loss\":40.0}", "{\"step\":5,\"train/loss\":50.0}"),
        after.subList(4, after.size()));
    assertTrue(consoleText().contains("removed 3 metrics lines"), consoleText());
    assertFalse(Files.exists(run.resolve("metrics.jsonl.tmp")));
    double wall = JSON.readTree(run.resolve("summary.json").toFile()).get("wall_time_s").asDouble();
    assertTrue(wall > 100 && wall < 200, "the first session's wall time carries over: " + wall);
  }

  @Test
  void resumeDropsAnInterruptedLastLineButRejectsABadLineInside() throws IOException {
    Path run = tmp.resolve("run");
    Files.createDirectories(run);
    Path file = run.resolve("metrics.jsonl");
    Files.writeString(file, "{\"step\":1,\"x\":1.0}\n{\"step\":2,\"x\":2.0}\n{\"step\":3,\"x\"");
    try (MetricsLog log = open(run, 5, 1, 2)) {
      log.logStep(3, m("x", 3));
    }
    assertEquals(
        List.of("{\"step\":1,\"x\":1.0}", "{\"step\":2,\"x\":2.0}", "{\"step\":3,\"x\":3.0}"),
        Files.readAllLines(file));

    Files.writeString(file, "{\"step\":1,\"x\":1.0}\n{\"step\":2,\"x\":\n{\"step\":3,\"x\":3.0}\n");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> open(run, 5, 1, 2));
    assertTrue(e.getMessage().startsWith(file + ":2: "), e.getMessage());
    Files.writeString(file, "{\"x\":1.0}\n");
    e = assertThrows(IllegalArgumentException.class, () -> open(run, 5, 1, 2));
    assertTrue(e.getMessage().equals(file + ":1: no integer \"step\""), e.getMessage());
  }

  @Test
  void summaryHoldsHandComputedStatistics() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = open(run, 4, 1, -1)) {
      log.logStep(1, m("train/loss", 4.0, "lr", 0.1));
      log.logStep(2, m("train/loss", 2.0, "lr", 0.2));
      log.logEval(2, m("eval/loss", 2.5));
      log.logStep(3, m("train/loss", Double.NaN, "lr", 0.3));
      log.logStep(4, m("train/loss", 3.0, "lr", 0.4));
      log.logEval(4, m("eval/loss", 1.5));
    }
    JsonNode s = JSON.readTree(run.resolve("summary.json").toFile());
    assertEquals(4, s.get("total_steps").asLong());
    assertEquals(4, s.get("last_step").asLong());
    assertEquals(4, s.get("logged_steps").asInt(), "eval lines share steps 2 and 4");
    assertTrue(s.get("wall_time_s").asDouble() > 0);
    // train/loss finite values 4, 2, 3: mean 9/3 = 3; the NaN is counted apart.
    JsonNode loss = s.get("metrics").get("train/loss");
    assertEquals(3, loss.get("points").asInt());
    assertEquals(1, loss.get("non_finite").asInt());
    assertEquals(4.0, loss.get("first").asDouble());
    assertEquals(3.0, loss.get("last").asDouble());
    assertEquals(2.0, loss.get("min").asDouble());
    assertEquals(4.0, loss.get("max").asDouble());
    assertEquals(3.0, loss.get("mean").asDouble(), 1e-12);
    // lr: (0.1 + 0.2 + 0.3 + 0.4) / 4 = 0.25.
    assertEquals(0.25, s.get("metrics").get("lr").get("mean").asDouble(), 1e-12);
    assertEquals(4, s.get("metrics").get("lr").get("points").asInt());
    // eval/loss: (2.5 + 1.5) / 2 = 2.
    JsonNode eval = s.get("metrics").get("eval/loss");
    assertEquals(2, eval.get("points").asInt());
    assertEquals(2.0, eval.get("mean").asDouble(), 1e-12);
    assertEquals(1.5, eval.get("min").asDouble());
    assertEquals(List.of("train/loss", "lr", "eval/loss"), fieldNames(s.get("metrics")));
  }

  static List<String> fieldNames(JsonNode o) {
    List<String> names = new ArrayList<>();
    o.fieldNames().forEachRemaining(names::add);
    return names;
  }

  @Test
  void consoleLinesEveryLogEveryStepsAndAtTheLastStep() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = open(run, 5, 2, -1)) {
      for (int s = 1; s <= 3; s++) {
        log.logStep(
            s,
            m(
                "train/loss",
                2.34564,
                "lr",
                0.001,
                "grad_norm",
                0.8321,
                "perf/tokens_per_s",
                1234.4,
                "perf/step_s",
                2.0));
      }
      log.logEval(4, m("eval/loss", 2.1, "eval/reward_acc", 0.625));
      log.logStep(4, m("train/loss", 1.0, "perf/step_s", 2.0));
      log.note("checkpoint written: step-000004");
      log.logStep(5, m("train/loss", Double.NaN, "perf/step_s", 2.0));
    }
    String text = consoleText();
    assertFalse(text.contains("\r"), "no carriage returns in line mode");
    List<String> lines = text.lines().toList();
    // eta = mean step time 2 s x steps left.
    assertEquals(
        "step 2/5 | loss 2.3456 | lr 1.00e-03 | grad_norm 0.832 | 1,234 tok/s | eta 0:06",
        lines.get(0));
    assertEquals("eval @ step 4 | loss 2.1 | reward_acc 0.625", lines.get(1));
    assertEquals("step 4/5 | loss 1.0000 | eta 0:02", lines.get(2));
    assertEquals("checkpoint written: step-000004", lines.get(3));
    assertEquals("step 5/5 | loss NaN | eta 0:00", lines.get(4));
    assertTrue(lines.get(5).startsWith("summary: "), lines.get(5));
    assertTrue(lines.get(6).startsWith("plots: "), lines.get(6));
    assertEquals(7, lines.size(), text);
  }

  /** A step with nothing to learn from (every pair tied) says so instead of "loss NaN". */
  @Test
  void anEmptyStepSaysWhyItHasNoLoss() throws IOException {
    try (MetricsLog log = open(tmp.resolve("empty"), 2, 1, -1)) {
      log.logStep(
          1, m("train/loss", Double.NaN, "grad_norm", Double.NaN, "train/empty_steps", 1.0));
      log.logStep(2, m("train/loss", Double.NaN, "grad_norm", Double.NaN));
    }
    List<String> lines = consoleText().lines().toList();
    assertTrue(
        lines.get(0).startsWith("step 1/2 | no update: no pair passed online.pair_threshold"),
        lines.get(0));
    assertFalse(lines.get(0).contains("NaN"), lines.get(0));
    // a NaN loss of a step that ran stays visible
    assertTrue(lines.get(1).startsWith("step 2/2 | loss NaN | grad_norm NaN"), lines.get(1));
  }

  @Test
  void formatsClockAndNumbers() {
    assertEquals("0:42", ConsoleNumbers.clock(42.4));
    assertEquals("1:02:03", ConsoleNumbers.clock(3723));
    assertEquals("1.000e-05", ConsoleNumbers.fixed(1e-5, 4));
    assertEquals("-Infinity", ConsoleNumbers.fixed(Double.NEGATIVE_INFINITY, 4));
    assertEquals("3", ConsoleNumbers.compact(3.0));
  }

  @Test
  void barModeDrawsABarAndKeepsTheFileClean() throws IOException {
    Path run = tmp.resolve("run");
    try (MetricsLog log = new MetricsLog(run, 4, 2, -1, console, ProgressMode.BAR)) {
      for (int s = 1; s <= 4; s++) {
        log.logStep(s, m("train/loss", 1.0 / s, "perf/step_s", 0.01));
      }
    }
    assertTrue(consoleText().contains("\r"), "the bar redraws in place");
    assertTrue(consoleText().contains("step 4/4 | loss 0.2500"), consoleText());
    assertEquals(4, Files.readAllLines(run.resolve("metrics.jsonl")).size());
  }

  @Test
  void autoModeOnACapturedStreamPrintsPlainLines() throws IOException {
    try (MetricsLog log = new MetricsLog(tmp.resolve("run"), 2, 1, -1, console)) {
      log.logStep(1, m("train/loss", 1.0));
    }
    assertFalse(consoleText().contains("\r"));
  }

  @Test
  void aPlotFailureDoesNotFailTheRun() throws IOException {
    Path run = tmp.resolve("run");
    Files.createDirectories(run);
    Files.writeString(run.resolve("plots"), "a file where the plots directory should be");
    try (MetricsLog log = open(run, 2, 1, -1)) {
      log.logStep(1, m("train/loss", 1.0));
    }
    assertTrue(consoleText().contains("warning: no plots: "), consoleText());
    assertTrue(Files.exists(run.resolve("summary.json")));
  }
}
