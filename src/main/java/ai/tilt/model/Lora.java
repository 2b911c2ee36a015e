package ai.tilt.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.runtime.Scalars;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * LoRA: Hu, Shen, Wallis, Allen-Zhu, Li, Wang, Wang and Chen, 2021, "LoRA: Low-Rank Adaptation of
 * Large Language Models", arXiv:2106.09685. A frozen linear layer W gets a trainable low-rank
 * update, y = W x + s B A dropout(x) with A (r, in), B (out, r) and s = alpha / r (alpha / sqrt(r)
 * with rsLoRA): only r (in + out) numbers train per layer, and B starts at zero, so training starts
 * exactly from the base model.
 *
 * <p>Held as PEFT holds them (its {@code LoraLayer}: A kaiming-uniform with a = sqrt(5), i.e.
 * U(-1/sqrt(in), 1/sqrt(in)); B zeros; dropout on the layer's input) and named as PEFT saves them
 * ({@code base_model.model.<HF module>.lora_A.weight}), so {@link LoraFiles} reads and writes
 * PEFT's own {@code adapter_config.json} + {@code adapter_model.safetensors}. Switching the
 * adapters off gives the base model back: the reference of the DPO family and of KL penalties, with
 * no second copy of the weights.
 */
public final class Lora implements AutoCloseable {
  /**
   * What to adapt and how.
   *
   * @param rank r
   * @param alpha the update's scale is alpha / r
   * @param dropout probability of zeroing an input feature of the update (training only)
   * @param targetModules {@code all-linear}, or module names matched as PEFT matches them: a module
   *     is adapted when its name equals a target or ends with "." + target
   * @param rslora scale alpha / sqrt(r) (Kalajdzievski, 2023, arXiv:2312.03732)
   */
  public record Spec(
      int rank, double alpha, double dropout, List<String> targetModules, boolean rslora) {
    public Spec {
      if (rank < 1) {
        throw new IllegalArgumentException("model.lora.rank must be >= 1, got " + rank);
      }
      if (!(alpha > 0)) {
        throw new IllegalArgumentException("model.lora.alpha must be > 0, got " + alpha);
      }
      if (!(dropout >= 0 && dropout < 1)) {
        throw new IllegalArgumentException("model.lora.dropout must be in [0, 1), got " + dropout);
      }
      targetModules = targetModules == null ? List.of("all-linear") : List.copyOf(targetModules);
    }

    double scale() {
      return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
    }
  }

  /** PEFT's prefix of every adapter tensor name. */
  static final String PREFIX = "base_model.model.";

  private final Spec spec;
  private final NDManager manager; // owns the adapters
  private final Map<String, NDArray> a = new LinkedHashMap<>(); // module -> (r, in)
  private final Map<String, NDArray> b = new LinkedHashMap<>(); // module -> (out, r)
  private final float scale;
  private boolean enabled = true;
  private long dropoutStream; // seeds this step's dropout draws (see beginForward)
  private long forwards; // forwards since the stream was set: each draws its own masks

  private Lora(Spec spec, NDManager manager) {
    this.spec = spec;
    this.manager = manager;
    this.scale = (float) spec.scale();
  }

  /**
   * The modules a spec adapts, in layer order, with their {in, out} features.
   *
   * @throws IllegalArgumentException naming model.lora.target_modules and listing the model's own
   *     linear modules when a target matches nothing
   */
  static Map<String, long[]> select(WeightNames names, List<String> targets) {
    Map<String, long[]> all = names.linearModules();
    if (targets.size() == 1 && targets.get(0).equals("all-linear")) {
      return all;
    }
    Map<String, long[]> out = new LinkedHashMap<>();
    for (String t : targets) {
      boolean found = false;
      for (Map.Entry<String, long[]> e : all.entrySet()) {
        if (e.getKey().equals(t) || e.getKey().endsWith("." + t)) {
          out.put(e.getKey(), e.getValue());
          found = true;
        }
      }
      if (!found) {
        TreeSet<String> known = new TreeSet<>();
        for (String m : all.keySet()) {
          known.add(names.withinBlock(m));
        }
        throw new IllegalArgumentException(
            "model.lora.target_modules: no module named '"
                + t
                + "' in this model (its linear modules: "
                + String.join(", ", known)
                + "; or all-linear)");
      }
    }
    Map<String, long[]> ordered = new LinkedHashMap<>(); // the model's order, not the list's
    for (Map.Entry<String, long[]> e : all.entrySet()) {
      if (out.containsKey(e.getKey())) {
        ordered.put(e.getKey(), e.getValue());
      }
    }
    return ordered;
  }

  /** Fresh adapters on the spec's modules: A from a seeded kaiming-uniform draw, B zeros. */
  public static Lora create(CausalLM model, Spec spec, long seed) {
    Lora lora = new Lora(spec, model.manager().newSubManager());
    SplittableRandom rnd = new SplittableRandom(seed);
    for (Map.Entry<String, long[]> e : select(model.names(), spec.targetModules()).entrySet()) {
      int in = (int) e.getValue()[0];
      int out = (int) e.getValue()[1];
      float bound = (float) (1 / Math.sqrt(in));
      float[] init = new float[spec.rank() * in];
      for (int i = 0; i < init.length; i++) {
        init[i] = (float) (rnd.nextDouble(-1, 1) * bound);
      }
      lora.put(
          e.getKey(),
          lora.manager.create(init, new Shape(spec.rank(), in)),
          lora.manager.zeros(new Shape(out, spec.rank()), DataType.FLOAT32));
    }
    return lora;
  }

  /** An empty set of adapters to be filled by {@link LoraFiles#load}. */
  static Lora empty(CausalLM model, Spec spec) {
    return new Lora(spec, model.manager().newSubManager());
  }

  NDManager manager() {
    return manager;
  }

  void put(String module, NDArray loraA, NDArray loraB) {
    a.put(module, loraA);
    b.put(module, loraB);
  }

  public Spec spec() {
    return spec;
  }

  /** The adapters under PEFT's names, A then B per module (live arrays: training updates them). */
  public Map<String, NDArray> parameters() {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (String m : a.keySet()) {
      out.put(PREFIX + m + ".lora_A.weight", a.get(m));
      out.put(PREFIX + m + ".lora_B.weight", b.get(m));
    }
    return out;
  }

  /** The adapted modules, in layer order. */
  public List<String> modules() {
    return new ArrayList<>(a.keySet());
  }

  boolean adapts(String module) {
    return enabled && a.containsKey(module);
  }

  /** Whether the adapters are applied (off: the model computes its base). */
  public boolean enabled() {
    return enabled;
  }

  public void setEnabled(boolean on) {
    enabled = on;
  }

  /**
   * Seeds the dropout draws of the forwards that follow (the trainer calls it per step with a
   * function of the seed and the step, so a resumed run draws the same masks), numbering them from
   * {@code firstForward}.
   */
  public void setDropoutStream(long seed, long firstForward) {
    dropoutStream = seed;
    forwards = firstForward;
  }

  /** A key for one forward's dropout masks; a checkpointed block recomputes with the same key. */
  long beginForward() {
    return forwards++;
  }

  /**
   * The update s B A dropout(x) of one module.
   *
   * @param x (..., in)
   * @param forwardKey from {@link #beginForward}, so a recomputation draws the same masks
   * @return (..., out)
   */
  NDArray delta(CausalLM model, NDArray x, String module, long forwardKey) {
    NDArray in = x;
    if (spec.dropout() > 0 && JniUtils.isGradMode()) {
      long seed = (dropoutStream * 0x9E3779B97F4A7C15L + forwardKey) * 0xC2B2AE3D27D4EB4FL;
      seed ^= module.hashCode();
      Engine.getInstance().setRandomSeed((int) (seed ^ (seed >>> 32)));
      float keep = (float) (1 - spec.dropout());
      NDArray u = x.getManager().randomUniform(0f, 1f, x.getShape()); // in x's manager
      in = Scalars.div(x.mul(u.lt(keep).toType(DataType.FLOAT32, false)), keep);
    }
    NDArray low = model.linear(in, a.get(module), null); // (..., r)
    return Scalars.mul(model.linear(low, b.get(module), null), scale); // (..., out)
  }

  /**
   * Folds the adapters into the base weights, W + s B A (transposed for weights stored [in, out]),
   * in place; the model then computes the adapted function without them.
   */
  void mergeInto(Map<String, NDArray> params, boolean inputFirst) {
    for (String m : a.keySet()) {
      NDArray w = params.get(m + ".weight");
      try (NDManager scope = manager.newSubManager()) {
        NDArray loraB = b.get(m);
        loraB.tempAttach(scope);
        NDArray update = Scalars.mul(loraB.matMul(a.get(m)), scale); // (out, in)
        w.addi(inputFirst ? update.transpose() : update);
      }
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}
