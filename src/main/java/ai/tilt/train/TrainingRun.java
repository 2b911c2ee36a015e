package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Head;
import ai.tilt.model.Lora;
import ai.tilt.model.LoraFiles;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.model.Presets;
import ai.tilt.runtime.Devices;
import ai.tilt.runtime.FileTrees;
import ai.tilt.runtime.RuntimeInfo;
import ai.tilt.tokenizer.ByteLevelBpe;
import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What a run is made of once set up, each piece from its own place: the model's source ({@link
 * ModelSource}: model.path, a fresh model, or the checkpoint resumed from), the model and its
 * tokenizer, the experience ({@link DatasetSource} or {@link RolloutSource}, which own the data,
 * the objective and the reference), which weights train, the optimizer and the trainer state.
 * {@link #prepare} is the one place that puts them together, so resuming and starting share one
 * path.
 */
public final class TrainingRun implements AutoCloseable {
  private final Recipe recipe;
  private final String recipeArgument;
  private final Path runDir;
  private final ModelSource modelSource;
  private final CausalLM model;
  private final TextTokenizer tokenizer; // null for id-only models
  private final ValueHead valueHead; // PPO only
  private final ExperienceSource source;
  private final Map<String, NDArray> trainable;
  private final AdamW optimizer;
  private final boolean resumed;
  private final List<AutoCloseable> owned; // closed in reverse order, before the model
  private TrainerState state;

  private TrainingRun(
      Recipe recipe,
      String recipeArgument,
      Path runDir,
      ModelSource modelSource,
      CausalLM model,
      TextTokenizer tokenizer,
      ValueHead valueHead,
      ExperienceSource source,
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
    this.valueHead = valueHead;
    this.source = source;
    this.trainable = trainable;
    this.optimizer = optimizer;
    this.state = state.withIterationFromSteps(source.stepsPerIteration());
    this.resumed = resumed;
    this.owned = owned;
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
    TrainerState state = TrainerState.fresh(recipe.seed());
    if (checkpoint != null) {
      checkResume(recipe, checkpoint, console);
      state = TrainerState.read(checkpoint.resolve("trainer_state.json"));
    }
    ModelSource source = ModelSource.resolve(recipe, runDir, checkpoint, console);
    checkMemory(recipe, source, console);
    boolean score = recipe.loss().trainsRewardModel();
    CausalLM model =
        score
            ? ModelFiles.load(source.weights(), Devices.current(), Head.SCORE, recipe.seed())
            : ModelFiles.load(source.weights(), Devices.current());
    List<AutoCloseable> owned = new ArrayList<>();
    try {
      Recipe.Train t = recipe.train();
      Map<String, NDArray> trainable;
      if (recipe.model().lora() != null) {
        Lora lora =
            source.adapter() != null
                ? LoraFiles.load(model, source.adapter(), source.weights().toString())
                : Lora.create(model, recipe.model().lora().spec(), recipe.seed());
        model.setLora(lora);
        trainable = new LinkedHashMap<>(lora.parameters());
        // the frozen base is held in bf16 when the run computes in bf16: half its memory
        model.setPrecision(t.precision() == Precision.FP32 ? Precision.FP32 : Precision.BF16);
      } else {
        model.setPrecision(t.precision());
        trainable = new LinkedHashMap<>(select(model, recipe.model().trainable()));
      }
      model.setGradientCheckpointing(t.gradientCheckpointing());
      model.setLogitsChunkTokens(t.logitsChunkTokens());
      // a model without tokenizer files trains on token ids only (the bandits); text data then
      // fails
      TextTokenizer tokenizer = TextTokenizer.loadIfPresent(tokenizerDir(source));
      if (tokenizer != null) {
        owned.add(tokenizer);
      }
      ValueHead valueHead = null;
      if (recipe.loss().needsValues()) {
        valueHead = new ValueHead(model.config().hiddenSize(), recipe.seed(), model.manager());
        owned.add(valueHead);
        if (checkpoint != null) {
          valueHead.load(checkpoint);
        }
        trainable.putAll(valueHead.parameters()); // trained with the policy, by the same AdamW
      }
      ExperienceSource experience =
          recipe.online() != null
              ? RolloutSource.open(
                  recipe, runDir, source, model, tokenizer, valueHead, checkpoint != null, console)
              : DatasetSource.open(recipe, runDir, source, model, tokenizer, console);
      owned.add(experience);
      for (NDArray p : trainable.values()) {
        p.setRequiresGradient(true);
      }
      AdamW optimizer = new AdamW(trainable, t.beta1(), t.beta2(), t.eps(), t.weightDecay());
      owned.add(optimizer);
      if (checkpoint != null) {
        optimizer.load(checkpoint.resolve("optimizer.safetensors"));
      }
      return new TrainingRun(
          recipe,
          recipeArgument,
          runDir,
          source,
          model,
          tokenizer,
          valueHead,
          experience,
          trainable,
          optimizer,
          state,
          checkpoint != null,
          owned);
    } catch (RuntimeException | IOException e) {
      DatasetSource.closeAll(owned);
      model.close();
      throw e;
    }
  }

  /**
   * Prints the predicted peak memory and refuses to start when the device cannot hold it, naming
   * what would make it fit; {@code -Dtilt.memory_check=false} starts anyway.
   */
  static MemoryEstimate checkMemory(Recipe recipe, ModelSource source, PrintStream console)
      throws IOException {
    ModelConfig config = ModelConfig.load(source.weights());
    MemoryEstimate.Work work;
    try (TextTokenizer tok = TextTokenizer.loadIfPresent(tokenizerDir(source))) {
      work = WorkShapes.of(recipe, tok, config);
    }
    boolean gpu = Devices.current().isGpu();
    long available = available(gpu);
    MemoryEstimate estimate = MemoryEstimate.of(config, recipe, work, gpu, available);
    console.println(estimate.line());
    if (!estimate.fits() && !"false".equals(System.getProperty("tilt.memory_check"))) {
      throw new IllegalStateException(
          "the run needs about "
              + MemoryEstimate.gb(estimate.total())
              + " but "
              + estimate.device()
              + " has "
              + MemoryEstimate.gb(available)
              + " free. Each of these alone is predicted at: "
              + String.join("; ", MemoryEstimate.remedies(config, recipe, work, gpu, available))
              + " (start anyway with TILT_JAVA_OPTS=-Dtilt.memory_check=false)");
    }
    return estimate;
  }

  /**
   * The estimate of a recipe without setting anything up: the model's config.json (or the preset a
   * fresh model would get) and the data read with its tokenizer; nothing is written.
   */
  public static MemoryEstimate estimate(Recipe recipe) throws IOException {
    validate(recipe);
    ModelConfig config;
    TextTokenizer tok;
    Path tmp = null;
    if (recipe.model().path() != null) {
      Path dir = Path.of(recipe.model().path());
      config = ModelConfig.load(dir);
      tok = TextTokenizer.loadIfPresent(dir);
    } else {
      Recipe.Init init = recipe.model().init();
      ModelConfig.Family family = ModelConfig.Family.of(init.arch());
      if (init.vocabSize() != null) {
        config = Presets.config(family, init.preset(), init.vocabSize(), null, new long[0], null);
        tok = null;
      } else {
        Path dir = init.tokenizer() != null ? Path.of(init.tokenizer()) : null;
        if (dir == null) {
          tmp = Files.createTempDirectory("tilt-estimate");
          ByteLevelBpe.write(tmp);
          dir = tmp;
        }
        tok = TextTokenizer.load(dir);
        config =
            Presets.config(
                family, init.preset(), tok.vocabSize(), tok.bosId(), tok.eosIds(), tok.padId());
      }
    }
    try {
      MemoryEstimate.Work work = WorkShapes.of(recipe, tok, config);
      boolean gpu = Devices.current().isGpu();
      return MemoryEstimate.of(config, recipe, work, gpu, available(gpu));
    } finally {
      if (tok != null) {
        tok.close();
      }
      if (tmp != null) {
        FileTrees.deleteTree(tmp);
      }
    }
  }

  /**
   * The memory a run may use: {@code -Dtilt.memory_available=BYTES} (to leave room for other jobs),
   * else the GPU's free memory or the machine's available memory (a container's limit counted).
   */
  static long available(boolean gpu) {
    String set = System.getProperty("tilt.memory_available");
    if (set != null) {
      return Long.parseLong(set.trim());
    }
    return gpu ? Devices.gpuFreeBytes() : RuntimeInfo.memAvailable();
  }

  /** Where the tokenizer files are: the checkpoint's (also a LoRA one's), else the weights'. */
  private static Path tokenizerDir(ModelSource source) {
    return source.adapter() != null ? source.adapter() : source.weights();
  }

  /** Refuses a resume from an incomplete checkpoint or with a recipe that changes what it is. */
  private static void checkResume(Recipe recipe, Path checkpoint, PrintStream console)
      throws IOException {
    String why = Checkpoints.incompleteReason(checkpoint);
    if (why != null) {
      throw new IllegalArgumentException("checkpoint " + checkpoint + " is incomplete: " + why);
    }
    Recipe saved = RecipeLoader.loadSaved(checkpoint.resolve("recipe.yaml"));
    RecipeLoader.Diff diff = RecipeLoader.diff(saved, recipe);
    if (!diff.refused().isEmpty()) {
      throw new IllegalArgumentException(
          "cannot resume "
              + checkpoint
              + " with a recipe that changes "
              + String.join("; ", diff.refused())
              + " (only "
              + String.join(", ", RecipeLoader.MUTABLE)
              + " may change)");
    }
    for (String change : diff.allowed()) {
      console.println("tilt train: resuming with " + change);
    }
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
      if (r.online().reward() == null) {
        throw new IllegalArgumentException("recipe: online.reward is required");
      }
      if (!r.loss().learnsFromRollouts()) {
        throw RolloutSource.notOnPolicy(r.loss());
      }
      if (t.maxSteps() > 0 || t.epochs() != null) {
        throw new IllegalArgumentException(
            "recipe: train.max_steps and train.epochs do not apply to an on-policy run, whose"
                + " length is online.iterations (each makes online.reuse x ceil(B / M) steps)");
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
    if (t.precision() == Precision.BF16 && r.model().lora() == null) {
      throw new IllegalArgumentException(
          "recipe: train.precision bf16 holds the weights in bf16, which cannot train; use"
              + " bf16-mixed (or LoRA, whose frozen base may be held in bf16)");
    }
    if (t.maxSteps() < 0 || (t.maxSteps() == 0 && t.epochs() != null && !(t.epochs() > 0))) {
      throw new IllegalArgumentException(
          "recipe: train.max_steps must be > 0, or train.epochs > 0");
    }
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
    String batches =
        recipe.online() != null
            ? String.format("micro-batches of %d prompts", t.microBatchSize())
            : String.format(
                "%d steps of %d examples (%d x %d accumulated)",
                totalSteps(),
                t.batchSize(),
                t.batchSize() / t.microBatchSize(),
                t.microBatchSize());
    return String.format(
        "%s %s with %s: %,d trainable weights in %d tensors; %s; %s; lr %.2e %s",
        resumed ? "resuming at step " + state.step() + " of" : "training",
        model.config().family().modelType,
        recipe.loss().type(),
        params,
        trainable.size(),
        source.describe(),
        batches,
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

  public ModelSource modelSource() {
    return modelSource;
  }

  public CausalLM model() {
    return model;
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  ExperienceSource source() {
    return source;
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

  /** Optimizer steps of the whole run (the schedule's length). */
  public long totalSteps() {
    return source.iterations() * source.stepsPerIteration();
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
    DatasetSource.closeAll(owned);
    model.close();
  }
}
