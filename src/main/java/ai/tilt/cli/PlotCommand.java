package ai.tilt.cli;

import ai.tilt.report.MetricsLog;
import ai.tilt.report.Plots;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tilt plot}: rebuilds a run's {@code summary.json} and {@code plots/*.png} from its {@code
 * metrics.jsonl}, for a run that was killed before it could write them or whose plots are wanted
 * again. Prints the paths written, one a line.
 */
@Command(
    name = "plot",
    mixinStandardHelpOptions = true,
    description = {
      "Rebuild summary.json and plots/*.png of a run directory from its metrics.jsonl.",
      "train/X and eval/X share the chart plots/X.png; other keys get plots/<key, / as _>.png."
    })
public final class PlotCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "RUN_DIR",
      description = "Run directory holding metrics.jsonl.")
  Path runDir;

  @Option(
      names = "--key",
      paramLabel = "K",
      description =
          "Only the chart holding metric K (e.g. train/loss) or named K (e.g. loss); repeatable.")
  List<String> keys = new ArrayList<>();

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Path metrics = runDir.resolve(MetricsLog.METRICS_FILE);
    if (!Files.isRegularFile(metrics)) {
      err.println(
          "tilt plot: " + metrics + ": not found (RUN_DIR must be a training run's directory)");
      return 1;
    }
    try {
      // The summary reads every line first, so a bad line fails before any plot is replaced.
      out.println(Plots.rewriteSummary(runDir));
      for (Path png : Plots.write(runDir, keys)) {
        out.println(png);
      }
      out.flush();
      return 0;
    } catch (IllegalArgumentException e) {
      err.println("tilt plot: " + e.getMessage());
    } catch (IOException | UncheckedIOException e) {
      err.println("tilt plot: " + e);
    }
    return 1;
  }
}
