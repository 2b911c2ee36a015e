package ai.tilt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code tilt plot} on a killed run's directory, and its errors. */
class PlotCommandTest {
  @TempDir Path tmp;

  record Run(int code, String out, String err) {}

  static Run plot(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new PlotCommand());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return new Run(cl.execute(args), out.toString(), err.toString());
  }

  Path killedRun() throws IOException {
    Path run = Files.createDirectories(tmp.resolve("run"));
    // No summary.json and no plots: the run died before MetricsLog.close(); its last write was cut
    // short.
    Files.writeString(
        run.resolve("metrics.jsonl"),
        "{\"step\":1,\"lr\":0.01,\"train/loss\":2.0}\n"
            + "{\"step\":2,\"lr\":0.01,\"train/loss\":1.0}\n"
            + "{\"step\":2,\"eval/loss\":1.5}\n"
            + "{\"step\":3,\"lr\":0.0");
    return run;
  }

  @Test
  void rebuildsSummaryAndPlotsOfAKilledRun() throws IOException {
    Path run = killedRun();
    Run r = plot(run.toString());
    assertEquals(0, r.code(), r.err());
    List<String> printed = r.out().lines().toList();
    assertEquals(
        List.of(
            run.resolve("summary.json").toString(),
            run.resolve("plots/lr.png").toString(),
            run.resolve("plots/loss.png").toString()),
        printed);
    for (String p : printed.subList(1, printed.size())) {
      assertTrue(ImageIO.read(Path.of(p).toFile()).getWidth() > 300, p);
    }
    JsonNode s = new ObjectMapper().readTree(run.resolve("summary.json").toFile());
    assertTrue(s.get("total_steps").isNull(), "a killed run never said how many steps it planned");
    assertEquals(2, s.get("last_step").asLong());
    assertEquals(1.5, s.get("metrics").get("train/loss").get("mean").asDouble(), 1e-12);
  }

  @Test
  void keepsWhatOnlyTheRunKnewFromAnEarlierSummary() throws IOException {
    Path run = killedRun();
    Files.writeString(
        run.resolve("summary.json"),
        "{\"total_steps\": 10, \"wall_time_s\": 5.5, \"metrics\": {}}");
    assertEquals(0, plot(run.toString()).code());
    JsonNode s = new ObjectMapper().readTree(run.resolve("summary.json").toFile());
    assertEquals(10, s.get("total_steps").asLong());
    assertEquals(5.5, s.get("wall_time_s").asDouble());
    assertEquals(2, s.get("metrics").get("train/loss").get("points").asInt());
  }

  @Test
  void keyOptionLimitsThePlots() throws IOException {
    Path run = killedRun();
    Run r = plot(run.toString(), "--key", "lr");
    assertEquals(0, r.code(), r.err());
    assertEquals(
        List.of(run.resolve("summary.json").toString(), run.resolve("plots/lr.png").toString()),
        r.out().lines().toList());
    Run bad = plot(run.toString(), "--key", "reward");
    assertEquals(1, bad.code());
    assertTrue(bad.err().startsWith("tilt plot: ") && bad.err().contains("reward"), bad.err());
  }

  @Test
  void missingMetricsFileIsNamed() {
    Run r = plot(tmp.toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains(tmp.resolve("metrics.jsonl") + ": not found"), r.err());
  }

  @Test
  void invalidLineIsNamedByFileAndLine() throws IOException {
    Path run = Files.createDirectories(tmp.resolve("bad"));
    Files.writeString(
        run.resolve("metrics.jsonl"),
        "{\"step\":1,\"x\":1.0}\n{\"step\":2,\"x\":}\n{\"step\":3,\"x\":1.0}\n");
    Run r = plot(run.toString());
    assertEquals(1, r.code());
    assertTrue(
        r.err().startsWith("tilt plot: " + run.resolve("metrics.jsonl") + ":2: not valid JSON"),
        r.err());
    assertTrue(Files.notExists(run.resolve("plots")), "nothing drawn from a bad file");
  }
}
