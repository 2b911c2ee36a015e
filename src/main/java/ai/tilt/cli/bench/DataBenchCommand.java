package ai.tilt.cli.bench;

import ai.tilt.bench.Rss;
import ai.tilt.data.DataSpec;
import ai.tilt.data.RowScan;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tilt bench data}: rows per second and peak memory of reading a data set. */
@Command(
    name = "data",
    mixinStandardHelpOptions = true,
    description =
        "Reads a data set (JSONL, Parquet, a shard or save_to_disk folder, a hub name) row by row"
            + " into JSON objects as training does, without tokenising; prints rows/s and peak"
            + " memory.")
final class DataBenchCommand implements Callable<Integer> {
  @Option(names = "--file", required = true, paramLabel = "FILE|DIR|NAME")
  String file;

  @Option(names = "--split", paramLabel = "NAME", description = "(default: train)")
  String split;

  @Option(names = "--config", paramLabel = "NAME")
  String config;

  @Option(
      names = "--columns",
      paramLabel = "TRL=FILE",
      description = "TRL's column name = the data's, as data.columns")
  Map<String, String> columns;

  @Option(names = "--rounds", defaultValue = "1", description = "passes (default: 1)")
  int rounds;

  @Override
  public Integer call() throws Exception {
    DataSpec spec = new DataSpec(file, split, config, null, columns);
    long before = Rss.currentMb();
    double best = 0;
    RowScan.Counts counts = null;
    for (int i = 0; i < rounds; i++) {
      long t0 = System.nanoTime();
      counts = RowScan.scan(spec);
      double s = (System.nanoTime() - t0) / 1e9;
      best = Math.max(best, counts.rows() / s);
      System.err.printf(
          "pass %d: %d rows in %.2f s: %.0f rows/s, %.1f MB/s%n",
          i + 1, counts.rows(), s, counts.rows() / s, counts.bytes() / s / 1e6);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", "data");
    out.put("data", spec.describe());
    out.put("files", counts.files());
    out.put("bytes", counts.bytes());
    out.put("rows", counts.rows());
    out.put("invalid_rows", counts.invalid());
    out.put("rounds", rounds);
    out.put("rows_per_s", Math.round(best));
    out.put("mb_per_s", Math.round(best * counts.bytes() / counts.rows() / 1e5) / 10.0);
    out.put("rss_before_mb", before);
    out.put("peak_rss_mb", Rss.peakMb());
    out.put("max_heap_mb", Runtime.getRuntime().maxMemory() >> 20);
    BenchOutput.print(out);
    return 0;
  }
}
