package ai.tilt.cli;

import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import ai.tilt.runtime.RuntimeInfo;
import ai.tilt.train.Checkpoints;
import ai.tilt.train.Recipe;
import ai.tilt.train.RecipeLoader;
import ai.tilt.train.Trainer;
import ai.tilt.train.TrainingRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import sun.misc.Signal;

/** {@code tilt train}: runs a recipe, or resumes it. */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    description = {
      "Trains from a YAML recipe. Metrics go to RUN/metrics.jsonl, plots to RUN/plots/, checkpoints"
          + " to RUN/step-NNNNNN/. SIGTERM or Ctrl-C writes a checkpoint and exits with code 75;"
          + " --resume continues exactly where it stopped."
    })
public final class TrainCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(TrainCommand.class);

  @Parameters(index = "0", description = "recipe YAML")
  Path recipeFile;

  @Option(names = "--run-dir", description = "run directory (default: checkpoints/<recipe name>)")
  Path runDir;

  @Option(
      names = "--set",
      description = "override a recipe key, e.g. --set train.lr=1e-4 (repeatable)")
  List<String> overrides = new ArrayList<>();

  @Option(
      names = "--resume",
      arity = "0..1",
      fallbackValue = "latest",
      description =
          "continue from the latest complete checkpoint of the run directory, from a given checkpoint"
              + " directory, or 'auto' (resume if there is a checkpoint, start otherwise)")
  String resume;

  /** The recipe's device, or --device (tilt.device) when the recipe says auto. */
  static void useDevice(Recipe recipe) {
    Devices.use(
        recipe.device().equals("auto")
            ? System.getProperty("tilt.device", "auto")
            : recipe.device());
  }

  @Override
  public Integer call() throws Exception {
    Recipe recipe = RecipeLoader.load(recipeFile, overrides);
    useDevice(recipe);
    Path dir = runDir != null ? runDir : Path.of("checkpoints", recipe.name());
    RuntimeInfo env = RuntimeInfo.probe(dir);
    LOG.info("environment: {}", env.line());
    for (String w : env.warnings()) {
      LOG.warn(w.replace("\n  ", "; "));
    }
    if (recipe.train().precision() != Precision.FP32
        && RuntimeInfo.EMULATED_BF16.equals(env.bf16())
        && !Devices.parse(recipe.device()).isGpu()) {
      LOG.warn(
          "precision {} on a CPU without bf16 instructions: libtorch emulates bf16, far slower"
              + " than fp32 (20x on Llama-small DPO); set train.precision: fp32",
          recipe.train().precision().label);
    }
    if (!env.problems().isEmpty()) {
      throw new IllegalStateException(
          "not ready (tilt doctor explains): " + env.problems().get(0).replace("\n  ", "; "));
    }
    Path checkpoint = null;
    List<String> skipped = new ArrayList<>();
    if (resume != null && !resume.equals("latest") && !resume.equals("auto")) {
      checkpoint = Path.of(resume);
    } else if (resume != null) {
      checkpoint = Checkpoints.findLatest(dir, skipped);
      for (String s : skipped) {
        System.err.println("tilt train: skipping incomplete checkpoint " + s);
      }
      if (checkpoint == null && resume.equals("latest")) {
        throw new IllegalArgumentException("nothing to resume: no complete checkpoint in " + dir);
      }
    } else if (!Checkpoints.stepDirs(dir).isEmpty()) {
      throw new IllegalArgumentException(
          dir
              + " already holds checkpoints: continue it with --resume,"
              + " or start afresh with another --run-dir");
    }
    if (checkpoint != null) {
      System.err.println("tilt train: resuming from " + checkpoint);
      if (checkpoint.toAbsolutePath().getParent().equals(dir.toAbsolutePath())) {
        for (Path moved : Checkpoints.setAsideNewerThan(dir, checkpoint)) {
          System.err.println(
              "tilt train: set aside the later checkpoint of the abandoned branch as " + moved);
        }
      }
    }
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("recipe.yaml"), RecipeLoader.toYaml(recipe));
    System.err.print(
        "tilt train: resolved recipe (also in "
            + dir.resolve("recipe.yaml")
            + "):\n"
            + RecipeLoader.toYaml(recipe).replaceAll("(?m)^", "  "));
    String argument =
        recipeFile
            + (runDir != null ? " --run-dir " + runDir : "")
            + (overrides.isEmpty() ? "" : " --set " + String.join(" --set ", overrides));
    try (TrainingRun run = TrainingRun.prepare(recipe, argument, dir, checkpoint, System.err)) {
      Trainer trainer = new Trainer(run);
      onSignals(trainer::requestStop);
      return trainer.train(System.err);
    }
  }

  /**
   * First SIGTERM/SIGINT: finish the step, checkpoint, exit 75. A second one (of either): exit at
   * once.
   */
  private static void onSignals(Runnable requestStop) {
    boolean[] seen = {false};
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        Signal.handle(
            new Signal(name),
            sig -> {
              if (seen[0]) {
                System.err.println(
                    "tilt train: second SIG" + name + ", exiting without a checkpoint");
                Runtime.getRuntime().halt(130);
              }
              seen[0] = true;
              System.err.println(
                  "tilt train: SIG"
                      + name
                      + " received; finishing this step and writing a checkpoint");
              requestStop.run();
            });
      } catch (IllegalArgumentException e) {
        // the platform does not let us handle this signal: the JVM's default applies
      }
    }
  }
}
