package ai.tilt.train;

import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Presets;
import ai.tilt.runtime.Devices;
import ai.tilt.runtime.FileTrees;
import ai.tilt.tokenizer.ByteLevelBpe;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a run's model comes from: {@code model.path}, a fresh model written once into {@code
 * RUN/init-model} (warmed up with SFT when the recipe asks), or the checkpoint a resumed run
 * continues from. Also the files every checkpoint carries beside the weights (config.json, the
 * tokenizer and generation files), read once when the run starts, so that no checkpoint depends on
 * a directory that may be gone by the time it is written (the pruned checkpoint a run resumed from,
 * say).
 */
public final class ModelSource {
  /** The HF files beside the weights that make a checkpoint usable on its own. */
  static final List<String> SIDE_FILES =
      List.of(
          "config.json",
          "tokenizer.json",
          "tokenizer_config.json",
          "special_tokens_map.json",
          "generation_config.json",
          "chat_template.jinja");

  private final Path weights;
  private final Path initial;
  private final Path adapter; // a LoRA run's adapters to resume from, else null
  private final Map<String, byte[]> sideFiles;

  private ModelSource(Path weights, Path initial, Path adapter, Map<String, byte[]> sideFiles) {
    this.weights = weights;
    this.initial = initial;
    this.adapter = adapter;
    this.sideFiles = sideFiles;
  }

  /**
   * The source of a run: the checkpoint when resuming, else model.path or a fresh init-model.
   *
   * @param checkpoint the checkpoint to continue from, or null for a fresh start
   */
  static ModelSource resolve(Recipe r, Path runDir, Path checkpoint, PrintStream console)
      throws IOException {
    return of(r, runDir, checkpoint, console, true);
  }

  /**
   * The source another worker of a data-parallel run resolved: the same, with the init-model rank 0
   * wrote read, not written again.
   */
  static ModelSource read(Recipe r, Path runDir, Path checkpoint) throws IOException {
    return of(r, runDir, checkpoint, null, false);
  }

  private static ModelSource of(
      Recipe r, Path runDir, Path checkpoint, PrintStream console, boolean write)
      throws IOException {
    Path initial = initialDir(r, runDir);
    if (console != null && r.model().path() != null && !initial.equals(Path.of(r.model().path()))) {
      console.println("model " + r.model().path() + " from the hub cache: " + initial);
    }
    boolean lora = r.model().lora() != null;
    Path weights;
    if (checkpoint != null) {
      // a LoRA checkpoint holds the adapters only: the base is the run's start
      weights = lora ? initial : checkpoint;
    } else if (r.model().path() != null) {
      weights = initial;
    } else if (write) {
      weights = writeInitModel(r, runDir, console);
    } else {
      weights = initial;
      if (!Files.isRegularFile(weights.resolve("config.json"))) {
        throw new IOException(
            "rank 0 did not write " + weights + " (its error, in its log, says why)");
      }
    }
    // a checkpoint written before checkpoints were self-contained may lack some: the start has them
    Map<String, byte[]> files = new LinkedHashMap<>();
    for (String f : SIDE_FILES) {
      if (lora && (f.equals("config.json") || f.equals("generation_config.json"))) {
        continue; // an adapter directory is no model directory: PEFT and transformers read it so
      }
      for (Path dir : List.of(checkpoint == null ? weights : checkpoint, initial)) {
        if (!files.containsKey(f) && Files.isRegularFile(dir.resolve(f))) {
          files.put(f, Files.readAllBytes(dir.resolve(f)));
        }
      }
    }
    Path adapter = lora && checkpoint != null ? checkpoint : null;
    return new ModelSource(weights, initial, adapter, Collections.unmodifiableMap(files));
  }

  /** The adapters a resumed LoRA run continues from, or null. */
  public Path adapter() {
    return adapter;
  }

  /** Where the tokenizer files are: the checkpoint's (also a LoRA one's), else the weights'. */
  Path tokenizerDir() {
    return adapter != null ? adapter : weights;
  }

  /** The directory the run's weights load from. */
  public Path weights() {
    return weights;
  }

  /**
   * The model the run started from: the reference of every loss that has one, also after resuming.
   */
  public Path initial() {
    return initial;
  }

  /** File name -> content of the side files, as read when the run started. */
  public Map<String, byte[]> sideFiles() {
    return sideFiles;
  }

  static Path initialDir(Recipe r, Path runDir) throws IOException {
    return r.model().path() != null ? r.model().directory() : runDir.resolve("init-model");
  }

  /**
   * model.init written into RUN/init-model. A fresh start always writes it anew (a run killed
   * before its first checkpoint may have left one made from other settings); resumed runs read the
   * one their checkpoints started from.
   */
  private static Path writeInitModel(Recipe r, Path runDir, PrintStream console)
      throws IOException {
    Recipe.Init init = r.model().init();
    Path dir = runDir.resolve("init-model");
    Path tmp = runDir.resolve(".init-model.tmp");
    FileTrees.deleteTree(tmp);
    Files.createDirectories(tmp);
    ModelConfig config;
    ModelConfig.Family family = ModelConfig.Family.of(init.arch());
    if (init.vocabSize() != null) {
      config = Presets.config(family, init.preset(), init.vocabSize(), null, new long[0], null);
    } else {
      if (init.tokenizer() != null) {
        for (String f :
            List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
          Path src = Path.of(init.tokenizer()).resolve(f);
          if (Files.exists(src)) {
            Files.copy(src, tmp.resolve(f));
          }
        }
      } else {
        ByteLevelBpe.write(tmp);
      }
      try (TextTokenizer tok = TextTokenizer.load(tmp)) {
        config =
            Presets.config(
                family, init.preset(), tok.vocabSize(), tok.bosId(), tok.eosIds(), tok.padId());
      }
    }
    long seed = new Streams(r.seed()).modelInit(init.seed());
    try (CausalLM m = ModelFiles.random(config, seed, 0.02f, Devices.current())) {
      ModelFiles.save(m, tmp, "F32", Long.MAX_VALUE);
    }
    if (init.sft() != null) {
      warmUp(init.sft(), tmp, runDir.resolve("warmup-sft"), seed, r.log().reportTo(), console);
    }
    FileTrees.deleteTree(dir);
    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    return dir;
  }

  /**
   * Trains {@code modelDir} in place with a short SFT run (its own run directory, kept for
   * inspection). The warm-up checkpoints as it goes, and a run killed during it continues from its
   * last complete checkpoint when started again, provided the checkpoint was made from the same
   * settings and the same fresh model ({@link #resumableWarmUp}); otherwise it starts over.
   */
  private static void warmUp(
      Recipe.WarmUp w,
      Path modelDir,
      Path warmDir,
      long seed,
      List<Recipe.ReportTo> reportTo,
      PrintStream console)
      throws IOException {
    ObjectNode tree = new ObjectMapper().createObjectNode();
    tree.put("name", "warmup-sft").put("seed", seed);
    tree.putObject("model").put("path", modelDir.toString());
    tree.putObject("data").put("train", w.data()).put("max_length", w.maxLength());
    tree.putObject("train")
        .put("max_steps", w.steps())
        .put("batch_size", w.batchSize())
        .put("lr", w.lr())
        .put("min_lr", w.lr() / 10)
        .put("warmup_steps", Math.min(20, w.steps() / 10));
    tree.put("loss", "sft");
    tree.putObject("checkpoint")
        .put("every_steps", Math.max(1, w.steps() / 10))
        .put("keep_last", 2);
    ObjectNode log = tree.putObject("log").put("every", Math.max(1, (int) (w.steps() / 4)));
    if (reportTo.contains(Recipe.ReportTo.TENSORBOARD)) { // the run's curves, the warm-up's too
      log.putArray("report_to").add("tensorboard");
    }
    Recipe sft = RecipeLoader.bind(tree, List.of(), "model.init.sft");
    Path resume = resumableWarmUp(sft, modelDir, warmDir, console);
    if (resume == null) {
      FileTrees.deleteTree(warmDir);
      console.println("warm-up: SFT of the fresh model for " + w.steps() + " steps on " + w.data());
    } else {
      console.println("warm-up: continuing from " + resume + " (a run stopped during its warm-up)");
    }
    try (TrainingRun run = TrainingRun.prepare(sft, "warm-up", warmDir, resume, console)) {
      if (new Trainer(run).train(console) != 0) {
        throw new IllegalStateException("the warm-up SFT did not finish; see " + warmDir);
      }
    }
    Path done = Checkpoints.findLatest(warmDir, new ArrayList<>());
    Files.copy(
        done.resolve("model.safetensors"),
        modelDir.resolve("model.safetensors"),
        StandardCopyOption.REPLACE_EXISTING);
  }

  /**
   * The warm-up checkpoint to continue from: the latest complete one in {@code warmDir}, when it
   * was written by this warm-up recipe (no key differs but those a resume may change) from a fresh
   * model of this config; else null, saying why when there was one.
   */
  static Path resumableWarmUp(Recipe sft, Path modelDir, Path warmDir, PrintStream console)
      throws IOException {
    Path latest = Checkpoints.findLatest(warmDir, new ArrayList<>());
    if (latest == null) {
      return null;
    }
    String why = null;
    try {
      RecipeLoader.Diff diff =
          RecipeLoader.diff(RecipeLoader.loadSaved(latest.resolve("recipe.yaml")), sft);
      if (!diff.refused().isEmpty() || !diff.allowed().isEmpty()) {
        why =
            "its settings differ: "
                + String.join("; ", diff.refused())
                + String.join("; ", diff.allowed());
      } else if (!java.util.Arrays.equals(
          Files.readAllBytes(latest.resolve("config.json")),
          Files.readAllBytes(modelDir.resolve("config.json")))) {
        why = "it was made from another model config";
      }
    } catch (IOException | IllegalArgumentException e) {
      why = "it cannot be read: " + e.getMessage();
    }
    if (why != null) {
      console.println("warm-up: not continuing " + latest + ": " + why);
      return null;
    }
    return latest;
  }
}
