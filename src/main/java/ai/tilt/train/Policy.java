package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Head;
import ai.tilt.model.Lora;
import ai.tilt.model.LoraFiles;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The model a run trains, as the loop, the objectives and checkpoints see it: the causal LM; the
 * weights that train (all, those {@code model.trainable} picks, or LoRA adapters on a frozen base);
 * PPO's value head when the loss learns values; how it is saved (HF weights, or PEFT adapters that
 * name their base, plus the value head); its reference; and what it needs before each optimizer
 * step. {@link #build} decides all of it once from the recipe, so nothing else asks whether the run
 * has adapters or a value head.
 */
public final class Policy implements AutoCloseable {
  private final CausalLM model;
  private final ValueHead valueHead; // null unless the loss learns values (PPO)
  private final Map<String, NDArray> trainable;
  private final Streams streams;
  private final String adapterBase; // PEFT's base_model_name_or_path; null without LoRA

  private Policy(
      CausalLM model,
      ValueHead valueHead,
      Map<String, NDArray> trainable,
      Streams streams,
      String adapterBase) {
    this.model = model;
    this.valueHead = valueHead;
    this.trainable = Collections.unmodifiableMap(trainable);
    this.streams = streams;
    this.adapterBase = adapterBase;
  }

  /**
   * Loads the policy of a run from its source: the weights (a reward model gets a fresh score
   * head), LoRA adapters (fresh, or the checkpoint's), the precision the weights are held in, PPO's
   * value head (fresh, or the checkpoint's), and which weights train.
   *
   * @param checkpoint the checkpoint resumed from, or null
   */
  static Policy build(Recipe recipe, ModelSource source, Path checkpoint, Streams streams)
      throws IOException {
    Recipe.Train t = recipe.train();
    CausalLM model =
        recipe.loss().trainsRewardModel()
            ? ModelFiles.load(
                source.weights(), Devices.current(), Head.SCORE, streams.scoreHeadInit())
            : ModelFiles.load(source.weights(), Devices.current());
    ValueHead valueHead = null;
    try {
      Map<String, NDArray> trainable;
      String adapterBase = null;
      if (recipe.model().lora() != null) {
        Lora lora =
            source.adapter() != null
                ? LoraFiles.load(model, source.adapter(), source.weights().toString())
                : Lora.create(model, recipe.model().lora().spec(), streams.loraInit());
        model.setLora(lora);
        trainable = new LinkedHashMap<>(lora.parameters());
        // the frozen base is held in bf16 when the run computes in bf16: half its memory
        model.setPrecision(t.precision() == Precision.FP32 ? Precision.FP32 : Precision.BF16);
        // a hub name, as PEFT writes it, when the base came from the cache: the adapters travel
        String named = recipe.model().path();
        adapterBase =
            named != null && !Files.exists(Path.of(named))
                ? named
                : source.initial().toAbsolutePath().normalize().toString();
      } else {
        model.setPrecision(t.precision());
        trainable = new LinkedHashMap<>(select(model, recipe.model().trainable()));
      }
      model.setGradientCheckpointing(t.gradientCheckpointing());
      model.setLogitsChunkTokens(t.logitsChunkTokens());
      if (recipe.loss().needsValues()) {
        valueHead =
            new ValueHead(model.config().hiddenSize(), streams.valueHeadInit(), model.manager());
        if (checkpoint != null) {
          valueHead.load(checkpoint);
        }
        trainable.putAll(valueHead.parameters()); // trained with the policy, by the same AdamW
      }
      for (NDArray p : trainable.values()) {
        p.setRequiresGradient(true);
      }
      return new Policy(model, valueHead, trainable, streams, adapterBase);
    } catch (RuntimeException | IOException e) {
      if (valueHead != null) {
        valueHead.close();
      }
      model.close();
      throw e;
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

  /** The causal LM (with its adapters, when it has them). */
  public CausalLM model() {
    return model;
  }

  /** Where a training step's arrays live (the model's manager). */
  NDManager manager() {
    return model.manager();
  }

  /** The weights the optimizer updates, by name (HF names; the value head's are value_head.*). */
  public Map<String, NDArray> trainable() {
    return trainable;
  }

  /** Whether the policy has a value head (the loss learns values: PPO). */
  boolean learnsValues() {
    return valueHead != null;
  }

  /**
   * The value head's prediction at each hidden state.
   *
   * @param states (..., d)
   * @return (...)
   */
  NDArray values(NDArray states) {
    if (valueHead == null) {
      throw new IllegalStateException("this policy has no value head (the loss learns none)");
    }
    return valueHead.values(states);
  }

  /**
   * Before each optimizer step: seeds LoRA's dropout with the step, and numbers this worker's
   * forwards from {@code firstForward} (the micro-batches the lower ranks hold), so that the
   * workers of a data-parallel step draw the masks one process would draw for the same
   * micro-batches, not all the same ones.
   */
  void beforeStep(long step, long firstForward) {
    if (model.lora() != null) {
      model.lora().setDropoutStream(streams.loraDropout(step), firstForward);
    }
  }

  /**
   * The frozen model the losses compare with: with LoRA, this policy's own base with its adapters
   * off (no second copy of the weights); otherwise the run's starting weights, in {@code
   * model.reference_precision} (default bf16 under bf16-mixed, else fp32).
   */
  ReferenceModel reference(Recipe recipe, Path initial) throws IOException {
    if (model.lora() != null) {
      return ReferenceModel.adaptersOff(model);
    }
    return ReferenceModel.load(initial, Devices.current(), ReferenceModel.precision(recipe));
  }

  /**
   * Writes the policy as a model others load: HF weights (fp32 shards of at most {@code
   * maxShardBytes}), or PEFT's adapter files naming the run's base. No tokenizer or config files:
   * the caller adds those it has.
   */
  public void saveModel(Path dir, long maxShardBytes) throws IOException {
    if (adapterBase != null) {
      LoraFiles.save(model, dir, adapterBase);
    } else {
      ModelFiles.save(model, dir, "F32", maxShardBytes);
    }
  }

  /** Writes what training adds to the model for a checkpoint: the value head, if any. */
  void saveTrainingState(Path dir) throws IOException {
    if (valueHead != null) {
      valueHead.save(dir);
    }
  }

  /**
   * The values of the weights that differ between runs, for tests comparing them: the adapters (and
   * value head) of a LoRA run, every weight otherwise.
   */
  public Map<String, float[]> weights() {
    Map<String, float[]> out = new LinkedHashMap<>();
    Map<String, NDArray> w = adapterBase != null ? trainable : model.parameters();
    for (Map.Entry<String, NDArray> e : w.entrySet()) {
      out.put(e.getKey(), e.getValue().toFloatArray());
    }
    return out;
  }

  @Override
  public void close() {
    if (valueHead != null) {
      valueHead.close();
    }
    model.close();
  }
}
