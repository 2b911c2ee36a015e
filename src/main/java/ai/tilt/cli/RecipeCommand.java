package ai.tilt.cli;

import ai.tilt.train.Recipe;
import ai.tilt.train.RecipeHelp;
import ai.tilt.train.RecipeLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tilt recipe explain FILE}: every key of a recipe, resolved, with its meaning. */
@Command(
    name = "recipe",
    mixinStandardHelpOptions = true,
    description = "Inspect recipes.",
    subcommands = {RecipeCommand.Explain.class})
public final class RecipeCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(
      name = "explain",
      mixinStandardHelpOptions = true,
      description =
          "Prints every key with its resolved value (defaults filled in) and what it means.")
  static final class Explain implements Callable<Integer> {
    @Parameters(index = "0", description = "recipe YAML")
    Path file;

    @Option(names = "--set", description = "override a key, as for train")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--yaml", description = "print the resolved recipe as YAML instead")
    boolean yaml;

    @Override
    public Integer call() throws Exception {
      Recipe r = RecipeLoader.load(file, overrides);
      System.out.print(yaml ? RecipeLoader.toYaml(r) : RecipeHelp.explain(r));
      return 0;
    }
  }
}
