package ai.tilt.lab;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.BitmapEncoder.BitmapFormat;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The lab's PNG figures (XChart, headless). */
public final class LabFigures {
  static {
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
  }

  private LabFigures() {}

  /** A line per series: name -> {x[], y[]}; offline methods and rejected responses are dashed. */
  public static Path lines(
      String title, String xTitle, String yTitle, Map<String, double[][]> series, Path png)
      throws IOException {
    XYChart chart =
        new XYChartBuilder()
            .width(900)
            .height(560)
            .title(title)
            .xAxisTitle(xTitle)
            .yAxisTitle(yTitle)
            .build();
    chart.getStyler().setLegendVisible(true);
    for (Map.Entry<String, double[][]> e : series.entrySet()) {
      double[][] xy = e.getValue();
      if (xy[0].length == 0) {
        continue;
      }
      var s = chart.addSeries(e.getKey(), xy[0], xy[1]);
      s.setMarker(xy[0].length <= 12 ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
      if (e.getKey().endsWith("(rejected)") || e.getKey().startsWith("offline-")) {
        s.setLineStyle(SeriesLines.DASH_DASH);
      }
    }
    return save(chart, png);
  }

  /** Writes next to the target and renames, so a reader never sees half a PNG. */
  public static Path save(XYChart chart, Path png) throws IOException {
    Files.createDirectories(png.toAbsolutePath().getParent());
    Path tmp = png.resolveSibling(png.getFileName() + ".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      BitmapEncoder.saveBitmap(chart, out, BitmapFormat.PNG);
    }
    return Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING);
  }
}
