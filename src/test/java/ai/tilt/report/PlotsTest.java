package ai.tilt.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.XYChart;

/** PNG charts from metrics.jsonl: grouping, skipped points, valid images, comparisons. */
class PlotsTest {
  @TempDir Path tmp;

  static final String METRICS =
      String.join(
              "\n",
              "{\"step\":1,\"epoch\":0.1,\"lr\":0.001,\"train/loss\":3.0,\"perf/tokens_per_s\":100.0,\"note\":\"warmup\"}",
              "{\"step\":2,\"epoch\":0.2,\"lr\":0.001,\"train/loss\":\"NaN\",\"perf/tokens_per_s\":110.0,\"all_nan\":\"NaN\"}",
              "{\"step\":2,\"eval/loss\":2.8,\"eval/win_rate\":0.4}",
              "{\"step\":3,\"epoch\":0.3,\"lr\":0.0005,\"train/loss\":2.0,\"perf/tokens_per_s\":120.0,\"all_nan\":\"Infinity\"}",
              "{\"step\":4,\"epoch\":0.4,\"lr\":0.0005,\"train/loss\":1.5,\"perf/tokens_per_s\":125.0}",
              "{\"step\":4,\"eval/loss\":2.2,\"eval/win_rate\":0.6}")
          + "\n";

  Path run(String name, String metrics) throws IOException {
    Path run = tmp.resolve(name);
    Files.createDirectories(run);
    Files.writeString(run.resolve("metrics.jsonl"), metrics);
    return run;
  }

  static BufferedImage png(Path file) throws IOException {
    BufferedImage img = ImageIO.read(file.toFile());
    assertNotNull(img, file + " is not a readable PNG");
    return img;
  }

  @Test
  void trainAndEvalOfOneMetricShareAChart() throws IOException {
    List<Plots.Row> rows = Plots.read(run("r", METRICS).resolve("metrics.jsonl")).rows();
    Map<String, XYChart> charts = Plots.charts(rows, null);
    assertEquals(
        List.of("epoch", "lr", "loss", "perf_tokens_per_s", "win_rate"),
        List.copyOf(charts.keySet()));
    assertEquals(
        List.of("train/loss", "eval/loss"),
        List.copyOf(charts.get("loss").getSeriesMap().keySet()));
    // The NaN at step 2 is left out of train/loss: steps 1, 3, 4 remain.
    double[] x = charts.get("loss").getSeriesMap().get("train/loss").getXData();
    assertEquals(List.of(1.0, 3.0, 4.0), java.util.Arrays.stream(x).boxed().toList());
    assertEquals(List.of("lr"), List.copyOf(charts.get("lr").getSeriesMap().keySet()));
  }

  @Test
  void writesOneValidPngPerChart() throws IOException {
    Path run = run("r", METRICS);
    List<Path> written = Plots.write(run);
    assertEquals(
        new TreeSet<>(
            List.of("epoch.png", "loss.png", "lr.png", "perf_tokens_per_s.png", "win_rate.png")),
        written.stream()
            .map(p -> p.getFileName().toString())
            .collect(Collectors.toCollection(TreeSet::new)));
    for (Path p : written) {
      assertEquals(run.resolve("plots"), p.getParent());
      BufferedImage img = png(p);
      assertTrue(
          img.getWidth() > 300 && img.getHeight() > 200,
          p + " " + img.getWidth() + "x" + img.getHeight());
      assertTrue(Files.size(p) > 2000, p + " is suspiciously small");
    }
    assertFalse(
        Files.exists(run.resolve("plots/all_nan.png")),
        "a metric without finite points gets no chart");
    assertFalse(Files.exists(run.resolve("plots/train_loss.png")));
  }

  @Test
  void keysSelectChartsByMetricOrChartName() throws IOException {
    Path run = run("r", METRICS);
    List<Path> written = Plots.write(run, List.of("eval/win_rate", "lr"));
    assertEquals(List.of(run.resolve("plots/lr.png"), run.resolve("plots/win_rate.png")), written);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Plots.write(run, List.of("nope")));
    assertTrue(e.getMessage().contains("nope"), e.getMessage());
  }

  @Test
  void comparisonDrawsOneSeriesPerRun() throws IOException {
    Path a = run("dpo", METRICS);
    Path b = run("pg", METRICS.replace("\"train/loss\":3.0", "\"train/loss\":3.5"));
    Path out = Plots.writeComparison(List.of(a, b), "train/loss", tmp.resolve("cmp/loss.png"));
    assertEquals(tmp.resolve("cmp/loss.png"), out);
    assertTrue(png(out).getWidth() > 300);
    Path c = run("no-loss", "{\"step\":1,\"lr\":0.1}\n");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> Plots.writeComparison(List.of(a, c), "train/loss", tmp.resolve("x.png")));
    assertTrue(e.getMessage().contains(c.resolve("metrics.jsonl").toString()), e.getMessage());
  }

  @Test
  void aSinglePointStillDraws() throws IOException {
    Path run = run("one", "{\"step\":1,\"train/loss\":0.7}\n");
    assertTrue(png(Plots.write(run).get(0)).getWidth() > 300);
  }

  @Test
  void invalidLineIsNamedByFileAndLine() throws IOException {
    Path run = run("bad", "{\"step\":1,\"x\":1}\n[1, 2]\n{\"step\":3,\"x\":1}\n");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Plots.write(run));
    assertEquals(run.resolve("metrics.jsonl") + ":2: expected a JSON object", e.getMessage());
    // A bad last line that ends with its newline was written whole: an error, not a cut-short
    // write.
    Path last = run("bad-last", "{\"step\":1,\"x\":1}\n{\"step\":2,\"x\":\n");
    e = assertThrows(IllegalArgumentException.class, () -> Plots.write(last));
    assertTrue(
        e.getMessage().startsWith(last.resolve("metrics.jsonl") + ":2: not valid JSON"),
        e.getMessage());
  }
}
