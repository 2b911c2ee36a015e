package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.tilt.data.DataOptions;
import ai.tilt.data.PreferenceDataset;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftDataset;
import ai.tilt.data.SftExample;
import ai.tilt.loss.GroupLoss;
import ai.tilt.loss.Kto;
import ai.tilt.loss.RewardModelLoss;
import ai.tilt.loss.Sft;
import ai.tilt.model.ByteLevelBpe;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Head;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Presets;
import ai.tilt.model.TextTokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Everything a run is made of once set up: the model (fresh, from a HF directory, or from a
 * checkpoint when resuming), its tokenizer, the tokenised data, which weights train, the optimizer
 * and the trainer state. {@link #prepare} is the only place that decides where each comes from, so
 * resuming and starting share one path.
 */
public final class TrainingRun implements AutoCloseable {
  private final Recipe recipe;
  private final String recipeArgument;
  private final Path runDir;
  private final Path modelSource; // the HF directory the weights and tokenizer came from
  private final CausalLM model;
  private final TextTokenizer tokenizer;
  private final Objective objective;
  private final Map<String, NDArray> trainable;
  private final AdamW optimizer;
  private final long totalSteps;
  private final boolean resumed;
  private final List<AutoCloseable> owned; // tokenizer, objective (and its reference), optimizer
  private TrainerState state;
  private ValueHead valueHead; // PPO only

  private TrainingRun(
      Recipe recipe,
      String recipeArgument,
      Path runDir,
      Path modelSource,
      CausalLM model,
      TextTokenizer tokenizer,
      Objective objective,
      Map<String, NDArray> trainable,
      AdamW optimizer,
      TrainerState state,
      boolean resumed,
      List<AutoCloseable> owned) {
    this.recipe = recipe;
    this.recipeArgument = recipeArgument;
    this.runDir = runDir;
    this.modelSource = modelSource;
    this.model = model;
    this.tokenizer = tokenizer;
    this.objective = objective;
    this.trainable = trainable;
    this.optimizer = optimizer;
    this.state = state;
    this.resumed = resumed;
    this.owned = owned;
    Recipe.Train t = recipe.train();
    if (recipe.online() != null) {
      this.totalSteps = (long) recipe.online().iterations() * recipe.online().stepsPerIteration();
    } else {
      this.totalSteps =
          t.maxSteps() > 0
              ? t.maxSteps()
              : (long)
                  Math.ceil(
                      (t.epochs() == null ? 1.0 : t.epochs())
                          * objective.trainSize()
                          / t.batchSize());
    }
  }

  /**
   * Sets a run up.
   *
   * @param checkpoint the checkpoint to continue from, or null for a fresh start
   * @param recipeArgument how the user named the recipe, for the resume hint
   */
  public static TrainingRun prepare(
      Recipe recipe, String recipeArgument, Path runDir, Path checkpoint, PrintStream console)
      throws IOException {
    validate(recipe);
    Path source;
    TrainerState state;
    if (checkpoint != null) {
      String why = Checkpoints.incompleteReason(checkpoint);
      if (why != null) {
        throw new IllegalArgumentException("checkpoint " + checkpoint + " is incomplete: " + why);
      }
      Recipe saved = RecipeLoader.load(checkpoint.resolve("recipe.yaml"), List.of());
      RecipeLoader.Diff diff = RecipeLoader.diff(saved, recipe);
      if (!diff.refused().isEmpty()) {
        throw new IllegalArgumentException(
            "cannot resume "
                + checkpoint
                + " with a recipe that changes "
                + String.join("; ", diff.refused())
                + " (only train.max_steps, epochs, lr, min_lr, max_grad_norm,"
                + " max_bad_steps, log.* and checkpoint.* may change)");
      }
      for (String change : diff.allowed()) {
        console.println("tilt train: resuming with " + change);
      }
      source = checkpoint;
      state = TrainerState.read(checkpoint.resolve("trainer_state.json"));
    } else {
      source = modelSource(recipe, runDir, console);
      state = TrainerState.fresh(recipe.seed());
    }
    boolean rewardModel = recipe.loss() instanceof RewardModelLoss;
    CausalLM model =
        rewardModel
            ? ModelFiles.load(source, ai.tilt.model.Devices.current(), Head.SCORE, recipe.seed())
            : ModelFiles.load(source, ai.tilt.model.Devices.current());
    List<AutoCloseable> owned = new ArrayList<>();
    try {
      model.setPrecision(recipe.train().precision());
      // a model without tokenizer files trains on token ids only (the bandits); text data then
      // fails
      TextTokenizer tokenizer = TextTokenizer.loadIfPresent(source);
      if (tokenizer != null) {
        owned.add(tokenizer);
      }
      // on-policy runs collect their data every iteration (OnlineTrainer); the rest train on a file
      Objective objective =
          recipe.online() != null
              ? null
              : objective(recipe, runDir, model, tokenizer, console, owned);
      if (objective != null) {
        owned.add(objective);
      }
      Map<String, NDArray> trainable = select(model, recipe.model().trainable());
      ValueHead valueHead = null;
      if (recipe.loss() instanceof ai.tilt.loss.PolicyGradientLoss pg && pg.needsValues()) {
        valueHead = new ValueHead(model.config().hiddenSize(), recipe.seed(), model.manager());
        owned.add(valueHead);
        if (checkpoint != null) {
          valueHead.load(checkpoint);
        }
        trainable = new java.util.LinkedHashMap<>(trainable);
        trainable.putAll(valueHead.parameters()); // trained with the policy, by the same AdamW
      }
      for (NDArray p : trainable.values()) {
        p.setRequiresGradient(true);
      }
      Recipe.Train t = recipe.train();
      AdamW optimizer = new AdamW(trainable, t.beta1(), t.beta2(), t.eps(), t.weightDecay());
      owned.add(optimizer);
      if (checkpoint != null) {
        optimizer.load(checkpoint.resolve("optimizer.safetensors"));
      }
      TrainingRun run =
          new TrainingRun(
              recipe,
              recipeArgument,
              runDir,
              source,
              model,
              tokenizer,
              objective,
              trainable,
              optimizer,
              state,
              checkpoint != null,
              owned);
      run.valueHead = valueHead;
      return run;
    } catch (RuntimeException | IOException e) {
      for (AutoCloseable c : owned) {
        try {
          c.close();
        } catch (Exception ignored) {
          // closing what was opened; the original error is the one to report
        }
      }
      model.close();
      throw e;
    }
  }

  /**
   * The method's objective with its data: SFT examples, preference groups, or pairs for a reward
   * model.
   */
  private static Objective objective(
      Recipe recipe,
      Path runDir,
      CausalLM model,
      TextTokenizer tokenizer,
      PrintStream console,
      List<AutoCloseable> owned)
      throws IOException {
    Recipe.Data d = recipe.data();
    long padId = padId(tokenizer);
    if (recipe.loss() instanceof Sft) {
      DataOptions options =
          new DataOptions(d.maxLength(), d.maxPromptLength(), d.skipInvalid(), d.appendEos());
      SftDataset trainSet = SftDataset.load(Path.of(d.train()), tokenizer, options);
      List<SftExample> evalSet =
          d.eval() == null
              ? List.of()
              : SftDataset.load(Path.of(d.eval()), tokenizer, options).examples();
      return new SftObjective(
          model,
          padId,
          recipe.train().lossNormalization(),
          trainSet.examples(),
          evalSet,
          trainSet.stats().summary());
    }
    DataOptions options =
        new DataOptions(d.maxLength(), d.maxPromptLength(), d.skipInvalid(), d.appendEos());
    PreferenceDataset trainSet = PreferenceDataset.load(Path.of(d.train()), tokenizer, options);
    List<ResponseGroup> evalSet =
        d.eval() == null
            ? List.of()
            : PreferenceDataset.load(Path.of(d.eval()), tokenizer, options).groups();
    if (recipe.loss() instanceof RewardModelLoss rm) {
      return new RewardObjective(
          model, rm, padId, trainSet.groups(), evalSet, trainSet.stats().summary());
    }
    GroupLoss loss = (GroupLoss) recipe.loss();
    ReferenceModel reference = null;
    float[][] trainRef = null;
    float[][] evalRef = null;
    if (loss.needsReference()) {
      Path initial = initialSource(recipe, runDir);
      if (recipe.model().precomputeReference()) {
        if (loss instanceof Kto) {
          throw new IllegalArgumentException(
              "recipe: model.precompute_reference does not work with kto, whose KL"
                  + " estimate pairs prompts with other prompts' responses at random");
        }
        ReferenceCache cache =
            ReferenceCache.open(runDir, initial, d, recipe.train().microBatchSize());
        cache.precision = referencePrecision(recipe);
        trainRef = cache.logps("train", trainSet.groups(), padId, console);
        evalRef = cache.logps("eval", evalSet, padId, console);
      } else {
        reference =
            ReferenceModel.load(
                initial, ai.tilt.model.Devices.current(), referencePrecision(recipe));
        owned.add(reference);
      }
    }
    return new PreferenceObjective(
        model,
        reference,
        loss,
        padId,
        trainSet.groups(),
        evalSet,
        trainRef,
        evalRef,
        trainSet.stats().summary());
  }

  /** The reference's precision: as the recipe says, else bf16 weights for a bf16-mixed run. */
  public static ai.tilt.model.Precision referencePrecision(Recipe r) {
    if (r.model().referencePrecision() != null) {
      return r.model().referencePrecision();
    }
    return r.train().precision() == ai.tilt.model.Precision.BF16_MIXED
        ? ai.tilt.model.Precision.BF16
        : ai.tilt.model.Precision.FP32;
  }

  /**
   * The model the run started from: the reference of every loss that has one, also after resuming.
   */
  static Path initialSource(Recipe r, Path runDir) {
    return r.model().path() != null ? Path.of(r.model().path()) : runDir.resolve("init-model");
  }

  static void validate(Recipe r) {
    Recipe.Train t = r.train();
    if ((r.model().path() == null) == (r.model().init() == null)) {
      throw new IllegalArgumentException("recipe: set exactly one of model.path and model.init");
    }
    if (r.data().train() == null) {
      throw new IllegalArgumentException(
          "recipe: data.train is required"
              + (r.online() != null ? " (the prompts of an on-policy run)" : ""));
    }
    if (r.online() != null) {
      if (!(r.loss() instanceof GroupLoss)
          && !(r.loss() instanceof ai.tilt.loss.PolicyGradientLoss)) {
        throw new IllegalArgumentException(
            "recipe: an on-policy run trains a preference or policy-gradient loss,"
                + " not "
                + r.loss().type());
      }
      if (r.online().reward() == null) {
        throw new IllegalArgumentException("recipe: online.reward is required");
      }
    }
    if (t.batchSize() < 1 || t.microBatchSize() < 1 || t.batchSize() % t.microBatchSize() != 0) {
      throw new IllegalArgumentException(
          "recipe: train.batch_size ("
              + t.batchSize()
              + ") must be a positive multiple of train.micro_batch_size ("
              + t.microBatchSize()
              + ")");
    }
    if (t.maxSteps() < 0 || (t.maxSteps() == 0 && t.epochs() != null && !(t.epochs() > 0))) {
      throw new IllegalArgumentException(
          "recipe: train.max_steps must be > 0, or train.epochs > 0");
    }
  }

  /** model.path as given, or model.init written once into RUN/init-model (kept for resumes). */
  private static Path modelSource(Recipe r, Path runDir, PrintStream console) throws IOException {
    if (r.model().path() != null) {
      return Path.of(r.model().path());
    }
    // A fresh start always writes it anew (a run killed before its first checkpoint may have left
    // one made from other settings); a resumed run reads the one its checkpoints started from.
    Recipe.Init init = r.model().init();
    Path dir = runDir.resolve("init-model");
    Path tmp = runDir.resolve(".init-model.tmp");
    Checkpoints.deleteTree(tmp);
    Files.createDirectories(tmp);
    ModelConfig config = null;
    if (init.vocabSize() != null) {
      config =
          Presets.config(
              ModelConfig.Family.of(init.arch()),
              init.preset(),
              init.vocabSize(),
              null,
              new long[0],
              null);
    } else if (init.tokenizer() != null) {
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
    if (init.vocabSize() == null) {
      try (TextTokenizer tok = TextTokenizer.load(tmp)) {
        config =
            Presets.config(
                ModelConfig.Family.of(init.arch()),
                init.preset(),
                tok.vocabSize(),
                tok.bosId(),
                tok.eosIds(),
                tok.padId());
      }
    }
    long seed = init.seed() == null ? r.seed() : init.seed();
    try (CausalLM m = ModelFiles.random(config, seed, 0.02f, ai.tilt.model.Devices.current())) {
      ModelFiles.save(m, tmp, "F32", Long.MAX_VALUE);
    }
    if (init.sft() != null) {
      warmUp(init.sft(), tmp, runDir.resolve("warmup-sft"), seed, console);
    }
    Checkpoints.deleteTree(dir);
    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    return dir;
  }

  /**
   * Trains {@code modelDir} in place with a short SFT run (its own run directory, kept for
   * inspection).
   */
  private static void warmUp(
      Recipe.WarmUp w, Path modelDir, Path warmDir, long seed, PrintStream console)
      throws IOException {
    com.fasterxml.jackson.databind.node.ObjectNode tree =
        new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
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
    tree.putObject("checkpoint").put("every", 0).put("keep_last", 1);
    tree.putObject("log").put("every", Math.max(1, (int) (w.steps() / 4)));
    Recipe sft = RecipeLoader.bind(tree, List.of(), "model.init.sft");
    Checkpoints.deleteTree(warmDir);
    console.println("warm-up: SFT of the fresh model for " + w.steps() + " steps on " + w.data());
    try (TrainingRun run = prepare(sft, "warm-up", warmDir, null, console)) {
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

  private static Map<String, NDArray> select(CausalLM model, List<String> patterns) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    List<Pattern> compiled = new ArrayList<>();
    if (patterns != null && !(patterns.size() == 1 && patterns.get(0).equals("all"))) {
      for (String p : patterns) {
        compiled.add(Pattern.compile(p));
      }
    }
    for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
      if (compiled.isEmpty() || compiled.stream().anyMatch(p -> p.matcher(e.getKey()).find())) {
        out.put(e.getKey(), e.getValue());
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(
          "recipe: model.trainable "
              + patterns
              + " matches no weight (names look like "
              + model.parameters().keySet().iterator().next()
              + ")");
    }
    return out;
  }

  /** One line for the log: what trains on what. */
  String describe() {
    long params = 0;
    for (NDArray p : trainable.values()) {
      params += p.getShape().size();
    }
    Recipe.Train t = recipe.train();
    return String.format(
        "%s %s with %s: %,d trainable weights in %d tensors; %s; %d steps of %d examples"
            + " (%d x %d accumulated); lr %.2e %s",
        resumed ? "resuming at step " + state.step() + " of" : "training",
        model.config().family().modelType,
        recipe.loss().type(),
        params,
        trainable.size(),
        objective == null ? "on-policy" : objective.describe(),
        totalSteps,
        t.batchSize(),
        t.batchSize() / t.microBatchSize(),
        t.microBatchSize(),
        t.lr(),
        t.schedule().name().toLowerCase());
  }

  public Recipe recipe() {
    return recipe;
  }

  public String recipeArgument() {
    return recipeArgument;
  }

  public Path runDir() {
    return runDir;
  }

  public Path modelSource() {
    return modelSource;
  }

  public CausalLM model() {
    return model;
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  public Objective objective() {
    return objective;
  }

  ValueHead valueHead() {
    return valueHead;
  }

  public Map<String, NDArray> trainable() {
    return trainable;
  }

  public AdamW optimizer() {
    return optimizer;
  }

  public long totalSteps() {
    return totalSteps;
  }

  public boolean resumed() {
    return resumed;
  }

  public TrainerState state() {
    return state;
  }

  void setState(TrainerState s) {
    state = s;
  }

  /** Padding id for batches: the tokenizer's, else its EOS (masked either way), else 0. */
  static long padId(TextTokenizer tokenizer) {
    if (tokenizer == null) {
      return 0; // masked everywhere, so any id in the vocabulary does
    }
    if (tokenizer.padId() != null) {
      return tokenizer.padId();
    }
    return tokenizer.eosIds().length > 0 ? tokenizer.eosIds()[0] : 0;
  }

  @Override
  public void close() {
    for (int i = owned.size() - 1; i >= 0; i--) {
      try {
        owned.get(i).close();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
    model.close();
  }
}
