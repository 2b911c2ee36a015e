package ai.tilt.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Tilt's command line: one subcommand per verb. */
@Command(
    name = "tilt",
    mixinStandardHelpOptions = true,
    version = "tilt 0.1.0",
    description = "Preference fine-tuning of causal LMs on the JVM.",
    subcommands = {
      TrainCommand.class,
      RecipeCommand.class,
      PlotCommand.class,
      DataCommand.class,
      InitModelCommand.class,
      GenerateCommand.class,
      LogprobsCommand.class,
      ScoreCommand.class,
      EvalCommand.class,
      TokenizeCommand.class,
      BenchCommand.class,
      LabCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Option(names = "--device", scope = CommandLine.ScopeType.INHERIT,
      description = "auto (default: a GPU when libtorch sees one), cpu, cuda or cuda:N; a recipe's device key wins for train")
  void device(String spec) {
    System.setProperty("tilt.device", spec);
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
          line.getErr().println("tilt " + line.getCommandName() + ": " + message);
          if (Boolean.getBoolean("tilt.stacktrace")) {
            e.printStackTrace(line.getErr());
          }
          return 1;
        });
    return cl;
  }

  /** DJL logs a harmless CUDA probe warning on GPU-less hosts; keep start-up output to errors. */
  static void quietLogging() {
    setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    setIfAbsent("org.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils", "error");
    setIfAbsent("org.slf4j.simpleLogger.logFile", "System.err");
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
