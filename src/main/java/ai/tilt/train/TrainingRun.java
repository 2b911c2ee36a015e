package ai.tilt.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.tilt.data.SftDataset;
import ai.tilt.data.SftExample;
import ai.tilt.data.SftOptions;
import ai.tilt.model.ByteLevelBpe;
import ai.tilt.model.CausalLM;
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
 * checkpoint when resuming), its tokenizer, the tokenised data, which weights train, the
 * optimizer and the trainer state. {@link #prepare} is the only place that decides where each
 * comes from, so resuming and starting share one path.
 */
public final class TrainingRun implements AutoCloseable {
  private final Recipe recipe;
  private final String recipeArgument;
  private final Path runDir;
  private final Path modelSource; // the HF directory the weights and tokenizer came from
  private final CausalLM model;
  private final TextTokenizer tokenizer;
  private final List<SftExample> train;
  private final List<SftExample> eval;
  private final Map<String, NDArray> trainable;
  private final AdamW optimizer;
  private final long totalSteps;
  private final boolean resumed;
  private final String dataSummary;
  private TrainerState state;

  private TrainingRun(Recipe recipe, String recipeArgument, Path runDir, Path modelSource, CausalLM model,
      TextTokenizer tokenizer, List<SftExample> train, List<SftExample> eval, Map<String, NDArray> trainable,
      AdamW optimizer, TrainerState state, boolean resumed, String dataSummary) {
    this.recipe = recipe;
    this.recipeArgument = recipeArgument;
    this.runDir = runDir;
    this.modelSource = modelSource;
    this.model = model;
    this.tokenizer = tokenizer;
    this.train = train;
    this.eval = eval;
    this.trainable = trainable;
    this.optimizer = optimizer;
    this.state = state;
    this.resumed = resumed;
    this.dataSummary = dataSummary;
    Recipe.Train t = recipe.train();
    this.totalSteps = t.maxSteps() > 0 ? t.maxSteps()
        : (long) Math.ceil((t.epochs() == null ? 1.0 : t.epochs()) * train.size() / t.batchSize());
  }

  /**
   * Sets a run up.
   *
   * @param checkpoint the checkpoint to continue from, or null for a fresh start
   * @param recipeArgument how the user named the recipe, for the resume hint
   */
  public static TrainingRun prepare(Recipe recipe, String recipeArgument, Path runDir, Path checkpoint,
      PrintStream console) throws IOException {
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
        throw new IllegalArgumentException("cannot resume " + checkpoint + " with a recipe that changes "
            + String.join("; ", diff.refused()) + " (only max_steps, epochs, log.* and checkpoint.* may change)");
      }
      for (String change : diff.allowed()) {
        console.println("tilt train: resuming with " + change);
      }
      source = checkpoint;
      state = TrainerState.read(checkpoint.resolve("trainer_state.json"));
    } else {
      source = modelSource(recipe, runDir);
      state = TrainerState.fresh(recipe.seed());
    }
    CausalLM model = ModelFiles.load(source, Device.cpu());
    try {
      TextTokenizer tokenizer = TextTokenizer.load(source);
      Recipe.Data d = recipe.data();
      SftOptions options = new SftOptions(d.maxLength(), d.maxPromptLength(), d.skipInvalid(), d.appendEos());
      SftDataset trainSet = SftDataset.load(Path.of(d.train()), tokenizer, options);
      List<SftExample> evalSet = d.eval() == null ? List.of()
          : SftDataset.load(Path.of(d.eval()), tokenizer, options).examples();
      Map<String, NDArray> trainable = select(model, recipe.model().trainable());
      for (NDArray p : trainable.values()) {
        p.setRequiresGradient(true);
      }
      Recipe.Train t = recipe.train();
      AdamW optimizer = new AdamW(trainable, t.beta1(), t.beta2(), t.eps(), t.weightDecay());
      if (checkpoint != null) {
        optimizer.load(checkpoint.resolve("optimizer.safetensors"));
      }
      return new TrainingRun(recipe, recipeArgument, runDir, source, model, tokenizer, trainSet.examples(), evalSet,
          trainable, optimizer, state, checkpoint != null, trainSet.stats().summary());
    } catch (RuntimeException | IOException e) {
      model.close();
      throw e;
    }
  }

  static void validate(Recipe r) {
    Recipe.Train t = r.train();
    if ((r.model().path() == null) == (r.model().init() == null)) {
      throw new IllegalArgumentException("recipe: set exactly one of model.path and model.init");
    }
    if (r.data().train() == null) {
      throw new IllegalArgumentException("recipe: data.train is required");
    }
    if (t.batchSize() < 1 || t.microBatchSize() < 1 || t.batchSize() % t.microBatchSize() != 0) {
      throw new IllegalArgumentException("recipe: train.batch_size (" + t.batchSize()
          + ") must be a positive multiple of train.micro_batch_size (" + t.microBatchSize() + ")");
    }
    if (t.maxSteps() < 0 || (t.maxSteps() == 0 && t.epochs() != null && !(t.epochs() > 0))) {
      throw new IllegalArgumentException("recipe: train.max_steps must be > 0, or train.epochs > 0");
    }
  }

  /** model.path as given, or model.init written once into RUN/init-model (kept for resumes). */
  private static Path modelSource(Recipe r, Path runDir) throws IOException {
    if (r.model().path() != null) {
      return Path.of(r.model().path());
    }
    Recipe.Init init = r.model().init();
    Path dir = runDir.resolve("init-model");
    if (Files.exists(dir.resolve("model.safetensors"))) {
      return dir;
    }
    Path tmp = runDir.resolve(".init-model.tmp");
    Checkpoints.deleteTree(tmp);
    Files.createDirectories(tmp);
    if (init.tokenizer() != null) {
      for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
        Path src = Path.of(init.tokenizer()).resolve(f);
        if (Files.exists(src)) {
          Files.copy(src, tmp.resolve(f));
        }
      }
    } else {
      ByteLevelBpe.write(tmp);
    }
    ModelConfig config;
    try (TextTokenizer tok = TextTokenizer.load(tmp)) {
      config = Presets.config(ModelConfig.Family.of(init.arch()), init.preset(), tok.vocabSize(), tok.bosId(),
          tok.eosIds(), tok.padId());
    }
    long seed = init.seed() == null ? r.seed() : init.seed();
    try (CausalLM m = ModelFiles.random(config, seed, 0.02f, Device.cpu())) {
      ModelFiles.save(m, tmp, "F32", Long.MAX_VALUE);
    }
    Checkpoints.deleteTree(dir);
    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    return dir;
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
      throw new IllegalArgumentException("recipe: model.trainable " + patterns + " matches no weight (names look like "
          + model.parameters().keySet().iterator().next() + ")");
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
    return String.format("%s %s: %,d trainable weights in %d tensors; %s; %d steps of %d sequences (%d x %d accumulated);"
        + " lr %.2e %s; %s%s", resumed ? "resuming at step " + state.step() + " of" : "training",
        model.config().family().modelType, params, trainable.size(), dataSummary, totalSteps, t.batchSize(),
        t.batchSize() / t.microBatchSize(), t.microBatchSize(), t.lr(),
        t.schedule().name().toLowerCase(), t.lossNormalization().name().toLowerCase(),
        eval.isEmpty() ? "" : "; " + eval.size() + " eval examples");
  }

  public Recipe recipe() { return recipe; }
  public String recipeArgument() { return recipeArgument; }
  public Path runDir() { return runDir; }
  public Path modelSource() { return modelSource; }
  public CausalLM model() { return model; }
  public TextTokenizer tokenizer() { return tokenizer; }
  public List<SftExample> train() { return train; }
  public List<SftExample> eval() { return eval; }
  public Map<String, NDArray> trainable() { return trainable; }
  public AdamW optimizer() { return optimizer; }
  public long totalSteps() { return totalSteps; }
  public boolean resumed() { return resumed; }
  public TrainerState state() { return state; }

  void setState(TrainerState s) {
    state = s;
  }

  /** Padding id for batches: the tokenizer's, else its EOS (masked either way), else 0. */
  public long padId() {
    if (tokenizer.padId() != null) {
      return tokenizer.padId();
    }
    return tokenizer.eosIds().length > 0 ? tokenizer.eosIds()[0] : 0;
  }

  @Override
  public void close() {
    optimizer.close();
    tokenizer.close();
    model.close();
  }
}
