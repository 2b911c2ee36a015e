package ai.tilt.cli;

import ai.tilt.cli.bench.BenchCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Tilt's command line: one subcommand per verb. */
@Command(
    name = "tilt",
    mixinStandardHelpOptions = true,
    version = "tilt " + Main.VERSION,
    description = "Preference fine-tuning of causal LMs on the JVM.",
    subcommands = {
      TrainCommand.class,
      RecipeCommand.class,
      PlotCommand.class,
      DataCommand.class,
      InitModelCommand.class,
      GenerateCommand.class,
      ServeCommand.class,
      LogprobsCommand.class,
      ScoreCommand.class,
      EvalCommand.class,
      TokenizeCommand.class,
      ExportCommand.class,
      EstimateCommand.class,
      BenchCommand.class,
      LabCommand.class,
      DoctorCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  /** Tilt's version, as {@code --version} and {@code doctor} print it. */
  public static final String VERSION = "0.1.0";

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Option(
      names = "--device",
      scope = CommandLine.ScopeType.INHERIT,
      description =
          "auto (default: a GPU when libtorch sees one), cpu, cuda or cuda:N; a recipe's device key wins for train")
  void device(String spec) {
    System.setProperty("tilt.device", spec);
  }

  @CommandLine.Option(
      names = {"-v", "--verbose"},
      scope = CommandLine.ScopeType.INHERIT,
      description = "debug logs from Tilt and DJL (default: Tilt's info, DJL's warnings)")
  void verbose(boolean on) {
    if (on) {
      // slf4j-simple reads these when the first logger is made, which is after parsing
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "debug");
      System.setProperty("org.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils", "debug");
      System.setProperty("org.slf4j.simpleLogger.log.ai.tilt", "debug");
    }
  }

  public static void main(String[] args) {
    quietLogging();
    System.exit(commandLine().execute(args));
  }

  /** The root command with Tilt's error reporting: one line naming the verb, exit code 1. */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler(
        (e, line, parsed) -> {
          String message = e.getMessage() == null ? e.toString() : e.getMessage();
          line.getErr().println(line.getCommandSpec().qualifiedName() + ": " + message);
          if (Boolean.getBoolean("tilt.stacktrace")) {
            e.printStackTrace(line.getErr());
          }
          return 1;
        });
    return cl;
  }

  /**
   * Quiet by default: Tilt's own info lines (the run's environment summary), DJL's warnings only,
   * and not DJL's CUDA probe, which warns on every GPU-less host. Properties a user passes win.
   */
  static void quietLogging() {
    setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    setIfAbsent("org.slf4j.simpleLogger.log.ai.tilt", "info");
    setIfAbsent("org.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils", "error");
    setIfAbsent("org.slf4j.simpleLogger.logFile", "System.err");
    setIfAbsent("org.slf4j.simpleLogger.showThreadName", "false");
    setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
