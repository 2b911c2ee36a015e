package ai.tilt.cli;

import ai.tilt.train.MemoryEstimate;
import ai.tilt.train.Recipe;
import ai.tilt.train.RecipeLoader;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tilt estimate}: a recipe's predicted peak memory, before anything runs. */
@Command(
    name = "estimate",
    mixinStandardHelpOptions = true,
    description = {
      "Predicts a recipe's peak memory on the device it would use, by part (weights, gradients,"
          + " optimizer, reference, activations, logits, runtime), from the model's config.json and"
          + " the data; loads no weights and writes nothing. tilt train prints the same line and"
          + " refuses to start when it does not fit."
    })
public final class EstimateCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "recipe YAML")
  Path recipeFile;

  @Option(names = "--set", description = "override a recipe key (repeatable)")
  List<String> overrides = new ArrayList<>();

  @Option(names = "--json", description = "one JSON object instead of the line")
  boolean json;

  @Option(
      names = "--nproc",
      defaultValue = "1",
      description =
          "per worker of a data-parallel run of N workers (train.zero: 1 shards the optimizer's"
              + " moments across them)")
  int nproc;

  @Override
  public Integer call() throws Exception {
    Recipe recipe = RecipeLoader.load(recipeFile, overrides);
    TrainCommand.useDevice(recipe);
    MemoryEstimate e = MemoryEstimate.forRecipe(recipe, nproc);
    if (json) {
      System.out.println(new ObjectMapper().writeValueAsString(e));
    } else {
      System.out.println(e.line());
      if (!e.fits()) {
        System.out.println("does not fit: tilt train would refuse to start");
      }
    }
    return e.fits() ? 0 : 1;
  }
}
