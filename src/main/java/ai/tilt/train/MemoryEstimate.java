package ai.tilt.train;

import ai.tilt.dist.Group;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Lora;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.Precision;
import ai.tilt.model.Presets;
import ai.tilt.model.WeightNames;
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
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The peak memory a training run will need, predicted from the model's shape, the recipe and the
 * longest micro-batch of its data, by part: weights (the policy, with LoRA the frozen base and its
 * adapters), gradients and AdamW moments of what trains, a frozen reference copy, the activations
 * the backward needs (all blocks', or with checkpointing each block's input plus one block being
 * recomputed), the head's logits (one chunk of them) and the runtime itself (JVM, libtorch, the
 * allocator's slack). The per-token constants were measured on this implementation (README, "Fit
 * real models").
 *
 * @param weights bytes of the policy's weights (and adapters)
 * @param gradients bytes of the trainable weights' gradients
 * @param optimizer bytes of AdamW's two moments
 * @param reference bytes of a separate frozen reference (0 with LoRA or precomputed log-probs)
 * @param activations bytes kept for the backward of one micro-batch, and a rollout's KV cache
 * @param logits bytes of the head's logits at once
 * @param runtime the JVM, libtorch and allocator overhead
 * @param device where the run computes
 * @param available bytes free there (-1: unknown)
 */
public record MemoryEstimate(
    long weights,
    long gradients,
    long optimizer,
    long reference,
    long activations,
    long logits,
    long runtime,
    String device,
    long available) {

  /** Runtime overhead on the CPU: JVM heap and code, libtorch, DJL, the tokenizer (measured). */
  static final long CPU_RUNTIME = 420L << 20;

  /**
   * Memory the allocator holds beyond live tensors grows with the matrices (glibc arenas, MKL's
   * packing buffers, the CUDA caching allocator's blocks): 1/20 of the weights, calibrated on the
   * 0.5B-shaped LoRA benchmark (-20% without it).
   */
  static final long ALLOCATOR_SLACK_DIVISOR = 20;

  /** Runtime overhead on a GPU: the CUDA context and libtorch's kernels. */
  static final long GPU_RUNTIME = 600L << 20;

  /**
   * The largest micro-batch's shape, as the model runs it.
   *
   * @param tokens tokens of the forward with a graph (a packed group counts its prompt once)
   * @param rows rows of it
   * @param longestRow tokens of its longest row (attention scores are rows x T x T)
   * @param headTokens positions whose log-probs are taken
   * @param generation bytes of a rollout's sampling (KV cache and logits), 0 without rollouts
   */
  public record Work(long tokens, long rows, long longestRow, long headTokens, long generation) {}

  public long total() {
    return weights + gradients + optimizer + reference + activations + logits + runtime;
  }

  /** Whether the device can hold it (true when its free memory is unknown). */
  public boolean fits() {
    return available < 0 || total() <= available;
  }

  /** The prediction for a recipe on a model of this shape, for one process. */
  public static MemoryEstimate of(ModelConfig c, Recipe r, Work w, boolean gpu, long available) {
    return of(c, r, w, gpu, available, 1);
  }

  /**
   * The prediction per worker of a data-parallel run of {@code workers}: the same, but with {@code
   * train.zero: 1} each worker keeps 1/W of AdamW's moments.
   */
  public static MemoryEstimate of(
      ModelConfig c, Recipe r, Work w, boolean gpu, long available, int workers) {
    WeightNames names = new WeightNames(c);
    long params = 0;
    for (var s : names.shapes().values()) {
      params += s.size();
    }
    Recipe.Train t = r.train();
    boolean bf16 = t.precision() != Precision.FP32;
    long trainable;
    long weights;
    boolean lora = r.model().lora() != null;
    if (lora) {
      Lora.Spec spec = r.model().lora().spec();
      long adapters = 0;
      for (Map.Entry<String, long[]> e : loraModules(names, spec.targetModules()).entrySet()) {
        adapters += (long) spec.rank() * (e.getValue()[0] + e.getValue()[1]);
      }
      trainable = adapters;
      weights = params * (bf16 ? 2 : 4) + adapters * 4; // the frozen base in bf16 when computing so
    } else {
      trainable = params; // model.trainable narrows this; the estimate stays an upper bound
      weights = params * 4;
    }
    boolean needsReference =
        r.loss().needsReference() || (r.online() != null && !r.loss().trainsRewardModel());
    long reference = 0;
    if (needsReference && !lora && !r.model().precomputeReference()) {
      boolean refBf16 =
          r.model().referencePrecision() != null
              ? r.model().referencePrecision() != Precision.FP32
              : bf16;
      reference = params * (refBf16 ? 2 : 4);
    }
    long d = c.hiddenSize();
    long layer = perTokenLayerBytes(c);
    // checkpointed: every block's input, plus the one block being recomputed, whose saved tensors
    // and their gradients in its backward coexist (so twice its activations and attention scores:
    // the 1B-shaped benchmark measured 30% above the estimate without the gradients)
    long acts =
        t.gradientCheckpointing()
            ? w.tokens() * (c.numLayers() * d * 4 + 2 * layer)
            : w.tokens() * c.numLayers() * layer;
    long scores = w.rows() * c.numHeads() * w.longestRow() * w.longestRow() * 4 * 2;
    acts += t.gradientCheckpointing() ? 2 * scores : scores * c.numLayers();
    long chunk =
        t.logitsChunkTokens() > 0
            ? t.logitsChunkTokens()
            : CausalLM.autoChunk(c.vocabSize(), w.headTokens(), !lora);
    long headAtOnce = Math.min(w.headTokens(), chunk);
    // logits, log-softmax and their gradient (or, with a frozen head, the softmax turned into
    // d log p / d logits): three (c, V) arrays; two in theory when chunked, but the allocator's
    // gaps between chunks made the measured peak match three (README, Memory)
    long logits = headAtOnce * c.vocabSize() * 4 * 3;
    return new MemoryEstimate(
        weights,
        trainable * 4,
        t.zero() == 1 ? (trainable * 8 + workers - 1) / workers : trainable * 8,
        reference,
        Math.max(acts, w.generation()),
        logits,
        (gpu ? GPU_RUNTIME : CPU_RUNTIME) + weights / ALLOCATOR_SLACK_DIVISOR,
        gpu ? "cuda" : "cpu",
        available);
  }

  /**
   * Bytes one decoder block keeps per token for its backward in fp32, from the tensors autograd
   * saves: the norms' inputs and outputs and the residual stream (about 8 d), the attention's
   * projections before and after rotary (4 (H + 2 KV) hd), the MLP's gate, up, activation and their
   * product (5 f).
   */
  static long perTokenLayerBytes(ModelConfig c) {
    long d = c.hiddenSize();
    long hd = c.headDim();
    long attn = (c.numHeads() + 2L * c.numKvHeads()) * hd;
    return 4 * (8 * d + 4 * attn + 5 * c.intermediateSize());
  }

  private static Map<String, long[]> loraModules(WeightNames names, List<String> targets) {
    Map<String, long[]> all = names.linearModules();
    if (targets.size() == 1 && targets.get(0).equals("all-linear")) {
      return all;
    }
    Map<String, long[]> out = new java.util.LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : all.entrySet()) {
      for (String t : targets) {
        if (e.getKey().equals(t) || e.getKey().endsWith("." + t)) {
          out.put(e.getKey(), e.getValue());
        }
      }
    }
    return out;
  }

  /** One line for the run's log. */
  public String line() {
    return String.format(
        Locale.ROOT,
        "memory: predicted peak %s = weights %s + gradients %s + optimizer %s + reference %s +"
            + " activations %s + logits %s + runtime %s, on %s%s",
        gb(total()),
        gb(weights),
        gb(gradients),
        gb(optimizer),
        gb(reference),
        gb(activations),
        gb(logits),
        gb(runtime),
        device,
        available < 0 ? "" : " with " + gb(available) + " available");
  }

  static String gb(long bytes) {
    return String.format(Locale.ROOT, "%.2f GB", bytes / (double) (1L << 30));
  }

  /** What would make a recipe fit: each remedy alone, with its predicted peak. */
  static List<String> remedies(ModelConfig c, Recipe r, Work w, boolean gpu, long available) {
    return remedies(c, r, w, gpu, available, 1);
  }

  /** {@link #remedies} per worker of {@code workers}. */
  static List<String> remedies(
      ModelConfig c, Recipe r, Work w, boolean gpu, long available, int workers) {
    List<String> out = new ArrayList<>();
    Recipe.Train t = r.train();
    if (r.model().lora() == null) {
      Recipe lora = r.withModel(r.model().withLora(Recipe.Lora.defaults()));
      out.add(
          "model.lora: {rank: 16} (" + gb(of(c, lora, w, gpu, available, workers).total()) + ")");
    }
    if (!t.gradientCheckpointing()) {
      Recipe ckpt = r.withTrain(t.withGradientCheckpointing(true));
      out.add(
          "train.gradient_checkpointing: true ("
              + gb(of(c, ckpt, w, gpu, available, workers).total())
              + ")");
    }
    if (workers > 1 && t.zero() == 0 && r.model().lora() == null) {
      Recipe zero = r.withTrain(t.withZero(1));
      out.add(
          "train.zero: 1 (" + gb(of(c, zero, w, gpu, available, workers).total()) + " per worker)");
    }
    if (t.precision() == Precision.FP32) {
      Recipe bf = r.withTrain(t.withPrecision(Precision.BF16_MIXED));
      out.add(
          "train.precision: bf16-mixed ("
              + gb(of(c, bf, w, gpu, available, workers).total())
              + ")");
    }
    if (t.microBatchSize() > 1) {
      int half = t.microBatchSize() / 2;
      Recipe micro = r.withTrain(t.withMicroBatchSize(half));
      double f = half / (double) t.microBatchSize();
      Work less =
          new Work(
              (long) (w.tokens() * f),
              Math.max(1, (long) (w.rows() * f)),
              w.longestRow(),
              (long) (w.headTokens() * f),
              w.generation());
      out.add(
          "train.micro_batch_size: "
              + half
              + " ("
              + gb(of(c, micro, less, gpu, available, workers).total())
              + ")");
    }
    return out;
  }

  /**
   * The estimate of a recipe without setting anything up ({@code tilt estimate}): the model's
   * config.json (or the preset a fresh model would get) and the data read with its tokenizer;
   * nothing is written.
   */
  public static MemoryEstimate forRecipe(Recipe recipe) throws IOException {
    return forRecipe(recipe, 1);
  }

  /** {@link #forRecipe(Recipe)} per worker of a data-parallel run of {@code workers}. */
  public static MemoryEstimate forRecipe(Recipe recipe, int workers) throws IOException {
    recipe.validate();
    ModelConfig config;
    TextTokenizer tok = null;
    Path tmp = null;
    try {
      if (recipe.model().path() != null) {
        Path dir = recipe.model().directory();
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
      Work work = WorkShapes.of(recipe, tok, config);
      boolean gpu = Devices.current().isGpu();
      return of(config, recipe, work, gpu, available(gpu), workers);
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
   * Before a run loads its weights: prints the predicted peak and refuses to start when the device
   * cannot hold it, naming what would make it fit; {@code -Dtilt.memory_check=false} starts anyway.
   * The workers of a data-parallel run on one machine share its memory, so each may count only its
   * share of what is available; and they decide together, so that none waits for a worker that
   * refused.
   */
  static MemoryEstimate check(Recipe recipe, ModelSource source, PrintStream console, Group group)
      throws IOException {
    ModelConfig config = ModelConfig.load(source.weights());
    Work work;
    try (TextTokenizer tok = TextTokenizer.loadIfPresent(source.tokenizerDir())) {
      work = WorkShapes.of(recipe, tok, config);
    }
    boolean gpu = Devices.current().isGpu();
    // every local worker holds its own copy on the CPU; on GPUs each has its own device
    long available = gpu ? available(true) : available(false) / group.localSize();
    int workers = group.size();
    MemoryEstimate estimate = of(config, recipe, work, gpu, available, workers);
    if (group.isMain()) {
      console.println(estimate.line());
    }
    boolean enforced = !"false".equals(System.getProperty("tilt.memory_check"));
    boolean refuse = enforced && !estimate.fits();
    if (group.any(refuse) && !refuse) {
      throw new IllegalStateException(
          "rank "
              + group.rank()
              + ": another worker's memory check refused the run (its log names what would fit)");
    }
    if (refuse) {
      throw new IllegalStateException(
          (group.size() > 1 ? "rank " + group.rank() + ": " : "")
              + "the run needs about "
              + gb(estimate.total())
              + " but "
              + estimate.device()
              + " has "
              + gb(available)
              + " free"
              + (!gpu && group.localSize() > 1
                  ? " (this worker's share of " + group.localSize() + " on the machine)"
                  : "")
              + ". Each of these alone is predicted at: "
              + String.join("; ", remedies(config, recipe, work, gpu, available, workers))
              + " (start anyway with TILT_JAVA_OPTS=-Dtilt.memory_check=false)");
    }
    return estimate;
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
}
