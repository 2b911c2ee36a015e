package ai.tilt.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.BitmapEncoder.BitmapFormat;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Reads a run's {@code metrics.jsonl} back: {@code summary.json} and PNG line charts, one per
 * metric, x = step. A {@code train/X} and an {@code eval/X} metric share the chart {@code X.png},
 * as do {@code X/chosen} and {@code X/rejected} (the likelihood analysis of chosen vs rejected), so
 * the file names of a run do not depend on whether it evaluated. Non-finite and non-numeric points
 * are left out of charts and statistics.
 *
 * <p>Over 400 lines because the summary, the chart grouping rules and the chart styling are one
 * reading of the same rows; PlotsTest checks them together.
 */
public final class Plots {
  static {
    // Charts are drawn on servers and in CI: without this AWT may look for a display.
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  static final int WIDTH = 800;
  static final int HEIGHT = 500;

  private Plots() {}

  /**
   * One line of metrics.jsonl: its line number, step, values (NaN/±Infinity kept, non-numeric
   * fields left out) and the text as written.
   */
  public record Row(int line, long step, Map<String, Double> values, String text) {}

  /** The rows of a metrics file; {@code droppedLine} > 0 names an interrupted last line. */
  public record Metrics(List<Row> rows, int droppedLine) {}

  /**
   * Reads a metrics.jsonl. An invalid line is an error naming {@code file:line}, except a last line
   * without its newline: that is a write cut short by a kill, and is dropped.
   *
   * @throws IllegalArgumentException naming file and line of an invalid line
   */
  public static Metrics read(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file);
    boolean terminated = endsWithNewline(file);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String text = lines.get(i);
      if (text.isBlank()) {
        continue;
      }
      try {
        rows.add(parse(text, i + 1));
      } catch (IllegalArgumentException e) {
        if (i == lines.size() - 1 && !terminated) {
          return new Metrics(rows, i + 1);
        }
        throw new IllegalArgumentException(file + ":" + (i + 1) + ": " + e.getMessage(), e);
      }
    }
    return new Metrics(rows, 0);
  }

  private static boolean endsWithNewline(Path file) throws IOException {
    try (SeekableByteChannel ch = Files.newByteChannel(file)) {
      if (ch.size() == 0) {
        return true;
      }
      ByteBuffer last = ByteBuffer.allocate(1);
      ch.position(ch.size() - 1).read(last);
      return last.get(0) == '\n';
    }
  }

  private static Row parse(String text, int lineNo) {
    JsonNode node;
    try {
      node = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      throw new IllegalArgumentException("expected a JSON object");
    }
    JsonNode step = node.get("step");
    if (step == null || !step.isIntegralNumber() || !step.canConvertToLong()) {
      throw new IllegalArgumentException("no integer \"step\"");
    }
    Map<String, Double> values = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      Double v = numeric(f.getValue());
      if (!f.getKey().equals("step") && v != null) {
        values.put(f.getKey(), v);
      }
    }
    return new Row(lineNo, step.asLong(), values, text);
  }

  /** A JSON number, or one of the strings MetricsLog writes for non-finite values; else null. */
  private static Double numeric(JsonNode v) {
    if (v.isNumber()) {
      return v.asDouble();
    }
    if (v.isTextual()) {
      switch (v.asText()) {
        case "NaN":
          return Double.NaN;
        case "Infinity":
          return Double.POSITIVE_INFINITY;
        case "-Infinity":
          return Double.NEGATIVE_INFINITY;
        default:
          return null;
      }
    }
    return null;
  }

  /** The chart (file name without .png) that a metric key is drawn on. */
  static String chartName(String key) {
    String base = key;
    if (key.startsWith("train/") && key.length() > 6) {
      base = key.substring(6);
    } else if (key.startsWith("eval/") && key.length() > 5) {
      base = key.substring(5);
    }
    // chosen and rejected of one quantity share a chart: the paper's likelihood analysis reads
    // logps/chosen against logps/rejected over training
    if (base.endsWith("/chosen")) {
      base = base.substring(0, base.length() - "/chosen".length());
    } else if (base.endsWith("/rejected")) {
      base = base.substring(0, base.length() - "/rejected".length());
    }
    return base.replace('/', '_');
  }

  /** Writes {@code runDir/plots/*.png} for every numeric metric; returns the files written. */
  public static List<Path> write(Path runDir) throws IOException {
    return write(runDir, List.of());
  }

  /**
   * Writes the charts of {@code runDir/metrics.jsonl} that hold one of {@code keys} (a metric key
   * such as {@code train/loss} or a chart name such as {@code loss}); all charts when empty.
   *
   * @throws IllegalArgumentException for an invalid metrics line or a key the run never logged
   */
  public static List<Path> write(Path runDir, Collection<String> keys) throws IOException {
    Path file = runDir.resolve(MetricsLog.METRICS_FILE);
    Map<String, XYChart> charts = charts(read(file).rows(), runDir.toAbsolutePath().getFileName());
    Set<String> wanted = new HashSet<>(keys);
    Set<String> matched = new HashSet<>();
    List<Path> written = new ArrayList<>();
    Path dir = runDir.resolve("plots");
    for (Map.Entry<String, XYChart> c : charts.entrySet()) {
      Set<String> names = new LinkedHashSet<>(c.getValue().getSeriesMap().keySet());
      names.add(c.getKey());
      names.retainAll(wanted);
      matched.addAll(names);
      if (wanted.isEmpty() || !names.isEmpty()) {
        Files.createDirectories(dir);
        written.add(save(c.getValue(), dir.resolve(c.getKey() + ".png")));
      }
    }
    wanted.removeAll(matched);
    if (!wanted.isEmpty()) {
      throw new IllegalArgumentException(
          file + " has no finite values of " + wanted + " (charts: " + charts.keySet() + ")");
    }
    return written;
  }

  /** One chart per chart name, each with one series per metric key that has a finite point. */
  static Map<String, XYChart> charts(List<Row> rows, Path runName) {
    Map<String, Map<String, Series>> grouped = new LinkedHashMap<>();
    for (Row r : rows) {
      for (Map.Entry<String, Double> v : r.values().entrySet()) {
        if (Double.isFinite(v.getValue())) {
          grouped
              .computeIfAbsent(chartName(v.getKey()), k -> new LinkedHashMap<>())
              .computeIfAbsent(v.getKey(), k -> new Series())
              .add(r.step(), v.getValue());
        }
      }
    }
    Map<String, XYChart> charts = new LinkedHashMap<>();
    for (Map.Entry<String, Map<String, Series>> g : grouped.entrySet()) {
      String title = runName == null ? g.getKey() : runName + ": " + g.getKey();
      XYChart chart = newChart(title, g.getKey());
      for (Map.Entry<String, Series> s : g.getValue().entrySet()) {
        addSeries(chart, s.getKey(), s.getValue());
      }
      chart.getStyler().setLegendVisible(g.getValue().size() > 1);
      charts.put(g.getKey(), chart);
    }
    return charts;
  }

  /**
   * Draws one metric of several runs on one chart (legend = run directory name) and writes it to
   * {@code outPng}.
   *
   * @throws IllegalArgumentException when a run has no finite value of {@code key}
   */
  public static Path writeComparison(List<Path> runDirs, String key, Path outPng)
      throws IOException {
    XYChart chart = newChart(key, chartName(key));
    Set<String> names = new HashSet<>();
    for (Path run : runDirs) {
      Path file = run.resolve(MetricsLog.METRICS_FILE);
      Series s = new Series();
      for (Row r : read(file).rows()) {
        Double v = r.values().get(key);
        if (v != null && Double.isFinite(v)) {
          s.add(r.step(), v);
        }
      }
      if (s.size() == 0) {
        throw new IllegalArgumentException(file + " has no finite values of \"" + key + "\"");
      }
      // Runs from different parents may share a directory name; XChart needs unique series names.
      String name = String.valueOf(run.toAbsolutePath().normalize().getFileName());
      for (int n = 2; !names.add(name); n++) {
        name = run.toAbsolutePath().normalize().getFileName() + " (" + n + ")";
      }
      addSeries(chart, name, s);
    }
    Path parent = outPng.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    return save(chart, outPng);
  }

  private static XYChart newChart(String title, String yTitle) {
    XYChart chart =
        new XYChartBuilder()
            .width(WIDTH)
            .height(HEIGHT)
            .title(title)
            .xAxisTitle("step")
            .yAxisTitle(yTitle)
            .build();
    chart.getStyler().setLegendVisible(true);
    return chart;
  }

  private static void addSeries(XYChart chart, String name, Series s) {
    XYSeries series = chart.addSeries(name, s.x(), s.y());
    // Dense training curves read best as bare lines; a handful of eval points need markers.
    series.setMarker(s.size() <= 50 ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
  }

  /** Writes next to the target and renames, so a reader never sees half a PNG. */
  private static Path save(XYChart chart, Path png) throws IOException {
    Path tmp = png.resolveSibling(png.getFileName() + ".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      BitmapEncoder.saveBitmap(chart, out, BitmapFormat.PNG);
    }
    return Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING);
  }

  /**
   * Recomputes {@code summary.json} from metrics.jsonl for {@code tilt plot}, keeping the {@code
   * total_steps} and {@code wall_time_s} of an existing summary (only the run itself knows them).
   */
  public static Path rewriteSummary(Path runDir) throws IOException {
    JsonNode prior = readJson(runDir.resolve(MetricsLog.SUMMARY_FILE));
    Long total =
        prior != null
                && prior.path("total_steps").canConvertToLong()
                && prior.path("total_steps").isIntegralNumber()
            ? prior.get("total_steps").asLong()
            : null;
    Double wall =
        prior != null && prior.path("wall_time_s").isNumber()
            ? prior.get("wall_time_s").asDouble()
            : null;
    return writeSummary(runDir, total, wall);
  }

  static JsonNode readJson(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      return null;
    }
    try {
      return JSON.readTree(file.toFile());
    } catch (JsonProcessingException e) {
      return null; // a summary cut short by a kill: it is about to be rewritten
    }
  }

  /**
   * Writes {@code summary.json}: {@code total_steps} and {@code wall_time_s} (null when unknown),
   * {@code last_step}, {@code logged_steps} (distinct steps in the file) and, per metric key in
   * order of first appearance, {@code points} (finite values), {@code non_finite}, and {@code
   * first}, {@code last}, {@code min}, {@code max}, {@code mean} of the finite values.
   */
  public static Path writeSummary(Path runDir, Long totalSteps, Double wallTimeSeconds)
      throws IOException {
    Path file = runDir.resolve(MetricsLog.METRICS_FILE);
    List<Row> rows = Files.exists(file) ? Plots.read(file).rows() : List.of();
    Map<String, Stats> stats = new LinkedHashMap<>();
    Set<Long> steps = new HashSet<>();
    Long last = null;
    for (Row r : rows) {
      steps.add(r.step());
      last = last == null ? r.step() : Math.max(last, r.step());
      r.values().forEach((k, v) -> stats.computeIfAbsent(k, x -> new Stats()).add(v));
    }
    ObjectNode root = JSON.createObjectNode();
    root.put("total_steps", totalSteps);
    root.put("last_step", last);
    root.put("logged_steps", steps.size());
    root.put("wall_time_s", wallTimeSeconds);
    ObjectNode metrics = root.putObject("metrics");
    stats.forEach((k, s) -> s.write(metrics.putObject(k)));
    Path summary = runDir.resolve(MetricsLog.SUMMARY_FILE);
    Path tmp = runDir.resolve(MetricsLog.SUMMARY_FILE + ".tmp");
    JSON.writer(SerializationFeature.INDENT_OUTPUT).writeValue(tmp.toFile(), root);
    return Files.move(tmp, summary, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Running statistics of one metric's finite values. */
  private static final class Stats {
    int points;
    int nonFinite;
    double first;
    double last;
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    double sum;

    void add(double v) {
      if (!Double.isFinite(v)) {
        nonFinite++;
        return;
      }
      if (points++ == 0) {
        first = v;
      }
      last = v;
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }

    void write(ObjectNode o) {
      o.put("points", points);
      o.put("non_finite", nonFinite);
      // Nulls rather than absent keys keep one schema for readers of many summaries.
      o.put("first", points > 0 ? first : null);
      o.put("last", points > 0 ? last : null);
      o.put("min", points > 0 ? min : null);
      o.put("max", points > 0 ? max : null);
      o.put("mean", points > 0 ? sum / points : null);
    }
  }

  /** Points of one series, grown as rows are read. */
  private static final class Series {
    private double[] x = new double[16];
    private double[] y = new double[16];
    private int n;

    void add(double step, double value) {
      if (n == x.length) {
        x = Arrays.copyOf(x, 2 * n);
        y = Arrays.copyOf(y, 2 * n);
      }
      x[n] = step;
      y[n++] = value;
    }

    int size() {
      return n;
    }

    double[] x() {
      return Arrays.copyOf(x, n);
    }

    double[] y() {
      return Arrays.copyOf(y, n);
    }
  }
}
