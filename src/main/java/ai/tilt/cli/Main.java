package ai.tilt.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Tilt's command line: one subcommand per verb. */
@Command(
    name = "tilt",
    mixinStandardHelpOptions = true,
    version = "tilt 0.1.0",
    description = "Preference fine-tuning of causal LMs on the JVM.",
    subcommands = {CommandLine.HelpCommand.class, TokenizeCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(new CommandLine(new Main()).execute(args));
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
