package ai.tilt.cli;

import ai.tilt.dist.Group;
import ai.tilt.dist.Launcher;
import ai.tilt.dist.World;
import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import ai.tilt.runtime.RuntimeInfo;
import ai.tilt.train.Checkpoints;
import ai.tilt.train.Recipe;
import ai.tilt.train.RecipeLoader;
import ai.tilt.train.Trainer;
import ai.tilt.train.TrainingRun;
import ai.tilt.train.Workers;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
import sun.misc.SignalHandler;

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

  @Option(
      names = "--nproc",
      description =
          "train data-parallel on N workers on this machine (as torchrun --nproc-per-node N):"
              + " needs libtilt_dist.so (scripts/build-jni.sh); torchrun, SLURM and PyTorchJob"
              + " workers are recognised without it")
  Integer nproc;

  /** What the workers run: this command as given, less --nproc. */
  private List<String> workerArgs() {
    List<String> a = new ArrayList<>(List.of("train", recipeFile.toString()));
    if (runDir != null) {
      a.addAll(List.of("--run-dir", runDir.toString()));
    }
    for (String o : overrides) {
      a.addAll(List.of("--set", o));
    }
    if (resume != null) {
      a.add("--resume=" + resume);
    }
    return a;
  }

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
    if (nproc != null) {
      return Launcher.run(nproc, workerArgs(), System.err);
    }
    useDevice(recipe);
    World world = World.fromEnvironment();
    try (Group group = Workers.join(world, recipe)) {
      // the other workers print errors only: rank 0 speaks for the job
      PrintStream console =
          group.isMain() ? System.err : new PrintStream(OutputStream.nullOutputStream());
      return train(recipe, world, group, console);
    }
  }

  private int train(Recipe recipe, World world, Group group, PrintStream console) throws Exception {
    Path dir = runDir != null ? runDir : Path.of("checkpoints", recipe.name());
    RuntimeInfo env = RuntimeInfo.probe(dir);
    if (group.isMain()) {
      LOG.info("environment: {}", env.line());
      if (world.distributed()) {
        LOG.info("data-parallel: {} workers, {}", group.size(), world.describe());
      }
      for (String w : env.warnings()) {
        LOG.warn(w.replace("\n  ", "; "));
      }
    }
    if (group.isMain()
        && recipe.train().precision() != Precision.FP32
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
    Path checkpoint = agreedCheckpoint(dir, group, console);
    if (group.isMain()) {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("recipe.yaml"), RecipeLoader.toYaml(recipe));
    }
    group.barrier(); // every worker sees the directory as rank 0 left it
    console.print(
        "tilt train: resolved recipe (also in "
            + dir.resolve("recipe.yaml")
            + "):\n"
            + RecipeLoader.toYaml(recipe).replaceAll("(?m)^", "  "));
    String argument =
        recipeFile
            + (runDir != null ? " --run-dir " + runDir : "")
            + (overrides.isEmpty() ? "" : " --set " + String.join(" --set ", overrides));
    try (TrainingRun run = TrainingRun.prepare(recipe, argument, dir, checkpoint, console, group)) {
      Trainer trainer = new Trainer(run);
      // under tilt --nproc the launcher turns Ctrl-C into one SIGTERM per worker
      boolean launched = Launcher.NAME.equals(world.launcher());
      onSignals(trainer::requestStop, !launched);
      if (launched) {
        // a launcher killed outright (kill -9, OOM) leaves no one to stop the workers: they stop
        // themselves at their next step, with a checkpoint, rather than train on headless
        ProcessHandle.current()
            .parent()
            .ifPresent(
                launcher ->
                    launcher
                        .onExit()
                        .thenRun(
                            () -> {
                              System.err.println(
                                  "tilt train: the launcher is gone; stopping at the next step");
                              trainer.requestStop();
                            }));
      }
      return trainer.train(console);
    }
  }

  /**
   * Which checkpoint the run starts from, decided by rank 0 alone (it also sets aside the later
   * checkpoints of an abandoned branch) and sent to the others, so no worker reads the directory
   * while rank 0 changes it; a refusal is every worker's.
   */
  private Path agreedCheckpoint(Path dir, Group group, PrintStream console) throws IOException {
    String decision = ""; // a path, "" to start afresh, or "!" and why not
    if (group.isMain()) {
      try {
        Path c = checkpoint(dir, console);
        decision = c == null ? "" : c.toString();
      } catch (IllegalArgumentException e) {
        decision = "!" + e.getMessage();
      }
    }
    if (group.size() > 1) {
      decision =
          new String(
              group.allGather(decision.getBytes(StandardCharsets.UTF_8)).get(0),
              StandardCharsets.UTF_8);
    }
    if (decision.startsWith("!")) {
      throw new IllegalArgumentException(decision.substring(1));
    }
    return decision.isEmpty() ? null : Path.of(decision);
  }

  /** Rank 0's choice: --resume's checkpoint, the latest complete one, or none. */
  private Path checkpoint(Path dir, PrintStream console) throws IOException {
    Path checkpoint = null;
    List<String> skipped = new ArrayList<>();
    if (resume != null && !resume.equals("latest") && !resume.equals("auto")) {
      checkpoint = Path.of(resume);
    } else if (resume != null) {
      checkpoint = Checkpoints.findLatest(dir, skipped);
      for (String s : skipped) {
        console.println("tilt train: skipping incomplete checkpoint " + s);
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
      console.println("tilt train: resuming from " + checkpoint);
      if (checkpoint.toAbsolutePath().getParent().equals(dir.toAbsolutePath())) {
        for (Path moved : Checkpoints.setAsideNewerThan(dir, checkpoint)) {
          console.println(
              "tilt train: set aside the later checkpoint of the abandoned branch as " + moved);
        }
      }
    }
    return checkpoint;
  }

  /**
   * First SIGTERM/SIGINT: finish the step, checkpoint, exit 75. A second one (of either) at least
   * two seconds later: exit at once. One within two seconds is the same request twice: under
   * torchrun a Ctrl-C reaches a worker both from the terminal and from the agent's SIGTERM.
   */
  private static void onSignals(Runnable requestStop, boolean interrupt) {
    long[] first = {0}; // nanoTime of the first signal, 0 before it
    if (!interrupt) {
      Signal.handle(new Signal("INT"), SignalHandler.SIG_IGN);
    }
    for (String name : interrupt ? new String[] {"TERM", "INT"} : new String[] {"TERM"}) {
      try {
        Signal.handle(
            new Signal(name),
            sig -> {
              long now = System.nanoTime();
              if (first[0] != 0) {
                if (now - first[0] < 2_000_000_000L) {
                  return;
                }
                System.err.println(
                    "tilt train: second SIG" + name + ", exiting without a checkpoint");
                Runtime.getRuntime().halt(130);
              }
              first[0] = now;
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
