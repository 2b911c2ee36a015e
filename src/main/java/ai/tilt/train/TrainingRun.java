package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.tilt.dist.Group;
import ai.tilt.dist.Solo;
import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a run is made of once set up, each piece from its own place: the model's source ({@link
 * ModelSource}: model.path, a fresh model, or the checkpoint resumed from), the {@link Policy}, its
 * tokenizer, the iterations' material ({@link DatasetSource} or {@link RolloutSource}, which own
 * the data, the objective and the reference), the optimizer and the trainer state. {@link #prepare}
 * is the one place that puts them together, so resuming and starting share one path; it decides
 * nothing itself: the recipe's rules are {@link Recipe#validate}'s, the memory check is {@link
 * MemoryEstimate}'s, what trains is the policy's.
 */
public final class TrainingRun implements AutoCloseable {
  private final Recipe recipe;
  private final String recipeArgument;
  private final Path runDir;
  private final ModelSource modelSource;
  private final Policy policy;
  private final TextTokenizer tokenizer; // null for id-only models
  private final IterationSource source;
  private final Optimizer optimizer;
  private final boolean resumed;
  private final List<AutoCloseable> owned; // closed in reverse order, before the policy
  private final Group group;
  private TrainerState state;

  private TrainingRun(
      Recipe recipe,
      String recipeArgument,
      Path runDir,
      ModelSource modelSource,
      Policy policy,
      TextTokenizer tokenizer,
      IterationSource source,
      Optimizer optimizer,
      TrainerState state,
      boolean resumed,
      List<AutoCloseable> owned,
      Group group) {
    this.recipe = recipe;
    this.recipeArgument = recipeArgument;
    this.runDir = runDir;
    this.modelSource = modelSource;
    this.policy = policy;
    this.tokenizer = tokenizer;
    this.source = source;
    this.optimizer = optimizer;
    this.state = state.withIterationFromSteps(source.stepsPerIteration());
    this.resumed = resumed;
    this.owned = owned;
    this.group = group;
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
    return prepare(recipe, recipeArgument, runDir, checkpoint, console, Solo.INSTANCE);
  }

  /**
   * Sets up one worker of a data-parallel run: rank 0 writes what is written (a fresh init-model),
   * the others read it, and every worker starts from rank 0's trainable weights.
   */
  public static TrainingRun prepare(
      Recipe recipe,
      String recipeArgument,
      Path runDir,
      Path checkpoint,
      PrintStream console,
      Group group)
      throws IOException {
    recipe.validate(group.size());
    TrainerState state = TrainerState.fresh(recipe.seed());
    if (checkpoint != null) {
      Checkpoints.checkResume(recipe, checkpoint, console);
      state = TrainerState.read(checkpoint.resolve("trainer_state.json"));
    }
    Streams streams = new Streams(recipe.seed());
    ModelSource source;
    if (group.isMain()) {
      source = ModelSource.resolve(recipe, runDir, checkpoint, console);
      group.barrier();
    } else {
      group.barrier(); // rank 0 has written RUN/init-model, when the recipe makes a fresh model
      source = ModelSource.read(recipe, runDir, checkpoint);
    }
    MemoryEstimate.check(recipe, source, console, group);
    Policy policy = Policy.build(recipe, source, checkpoint, streams);
    List<AutoCloseable> owned = new ArrayList<>();
    try {
      Recipe.Train t = recipe.train();
      // a model without tokenizer files trains on token ids only (the bandits); text data then
      // fails
      TextTokenizer tokenizer = TextTokenizer.loadIfPresent(source.tokenizerDir());
      if (tokenizer != null) {
        owned.add(tokenizer);
      }
      IterationSource material =
          recipe.online() != null
              ? RolloutSource.open(
                  recipe, runDir, source, policy, tokenizer, streams, group, checkpoint, console)
              : DatasetSource.open(
                  recipe, runDir, source, policy, tokenizer, streams, group, console);
      owned.add(material);
      Optimizer optimizer =
          t.zero() == 1
              ? ShardedAdamW.of(
                  policy.trainable(), group, t.beta1(), t.beta2(), t.eps(), t.weightDecay())
              : new AdamW(policy.trainable(), t.beta1(), t.beta2(), t.eps(), t.weightDecay());
      owned.add(optimizer);
      if (checkpoint != null) {
        optimizer.load(checkpoint.resolve("optimizer.safetensors"));
      }
      if (checkpoint != null) {
        WeightGuard.check(group, policy.trainable(), "after loading " + checkpoint);
      }
      // the same start on every worker, whatever each one's libtorch drew or read
      group.broadcast(new ArrayList<>(policy.trainable().values()), 0);
      return new TrainingRun(
          recipe,
          recipeArgument,
          runDir,
          source,
          policy,
          tokenizer,
          material,
          optimizer,
          state,
          checkpoint != null,
          owned,
          group);
    } catch (RuntimeException | IOException e) {
      DatasetSource.closeAll(owned);
      policy.close();
      throw e;
    }
  }

  /** One line for the log: what trains on what. */
  String describe() {
    long params = 0;
    for (NDArray p : policy.trainable().values()) {
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
        policy.model().config().family().modelType,
        recipe.loss().type(),
        params,
        policy.trainable().size(),
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

  public Policy policy() {
    return policy;
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  IterationSource source() {
    return source;
  }

  /** The workers this run trains on (one process: {@link Solo}). */
  public Group group() {
    return group;
  }

  public Optimizer optimizer() {
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

  @Override
  public void close() {
    DatasetSource.closeAll(owned);
    policy.close();
  }
}
