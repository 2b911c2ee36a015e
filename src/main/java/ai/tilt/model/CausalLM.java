package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.model.ModelConfig.Family;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.NativeMemory;
import ai.tilt.runtime.Scalars;
import ai.tilt.runtime.Torch;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * A decoder-only transformer LM written on raw NDArrays, with parameters kept in a map under their
 * HF names. One class runs every supported family; {@link ModelConfig} says which norm, MLP,
 * position scheme and biases apply.
 *
 * <p>Memory rule (shared/notes/djl.md section 3): an op's result belongs to the manager of its
 * receiver, so parameters are never receivers here; activations are. Callers run a forward pass
 * inside a short-lived manager that owns the input arrays and everything derived from them.
 *
 * <p>Over 600 lines because every family's forward, the one-call decode step and the precision
 * switch read the same parameter map and config; split, each part would need the whole of it.
 */
public final class CausalLM implements AutoCloseable {
  private static final float MASKED = -1e9f; // finite, so fully padded query rows stay NaN-free

  private final ModelConfig config;
  private final Head head;
  private final WeightNames names;
  private final NDManager manager; // owns the parameters
  private final Map<String, NDArray> params; // HF name -> weight, in HF layout
  private final Rotary rotary; // null for GPT-2's learned positions
  private final Kernels kernels; // null when the TorchScript kernels cannot load
  private final Set<NDArray> heldBf16 = Collections.newSetFromMap(new IdentityHashMap<>());
  private Precision precision = Precision.FP32;
  private boolean fusedAttention = true;
  private boolean fusedDecode = true;
  private Lora lora; // null: no adapters
  private boolean checkpointing; // recompute decoder blocks in backward instead of keeping them
  private long logitsChunkTokens; // 0: automatic (about 128 MB of fp32 logits per chunk)

  CausalLM(ModelConfig config, Head head, NDManager manager, Map<String, NDArray> params) {
    this.config = config;
    this.head = head;
    this.names = new WeightNames(config, head);
    this.manager = manager;
    this.params = params;
    this.rotary = config.rope() == null ? null : new Rotary(config.rope());
    this.kernels = Kernels.on(manager.getDevice());
  }

  public ModelConfig config() {
    return config;
  }

  public Head head() {
    return head;
  }

  public WeightNames names() {
    return names;
  }

  /** The parameters under their HF names (live arrays: training updates them in place). */
  public Map<String, NDArray> parameters() {
    return params;
  }

  public NDManager manager() {
    return manager;
  }

  /**
   * What the blocks of one forward share: the attention bias, the rotary tables, the KV cache and
   * the key of the forward's LoRA dropout draws (a recomputation reuses it).
   */
  record Forward(NDArray bias, NDList rope, KvCache cache, long loraKey) {}

  /**
   * Final hidden states (after the last norm).
   *
   * <p>With gradient checkpointing on (and a graph being recorded, no cache), only each block's
   * input is kept: the blocks run without a graph, the output comes back as a leaf, and {@link
   * DeferredBackward} recomputes block by block in backward ({@link ActivationCheckpoint}).
   *
   * @param ids (B, T) int64 token ids
   * @param mask (B, T) 1 for real tokens, 0 for padding (left or right)
   * @param positions (B, T) int64 position ids (see {@link #positionsFromMask})
   * @param cache keys/values of earlier positions, extended in place; null to attend within ids
   *     only
   * @return (B, T, d)
   */
  public NDArray hidden(NDArray ids, NDArray mask, NDArray positions, KvCache cache) {
    long past = cache == null ? 0 : cache.length();
    NDArray keyMask = cache == null ? mask : cache.extendMask(mask); // (B, S)
    NDArray bias =
        attentionBias(ids.getManager(), keyMask, past, ids.getShape().get(1)); // (B, 1, 1, T, S)
    return forward(ids, positions, bias, cache);
  }

  /**
   * Next-token logits after one new token per row, extending the cache: a sampling step.
   *
   * <p>Llama-style models in fp32 without adapters run the whole step as one TorchScript call
   * ({@link Kernels#decodeRms}): at batch 8 on llama-small the ~250 separate ops of a step cost 13
   * ms of dispatch for 0.5 ms of arithmetic. Everything else takes the general path.
   *
   * @param ids (B, 1) int64 the tokens fed at this step
   * @param positions (B, 1) int64 their position ids
   * @param cache filled by a prefill ({@link #hidden}); extended by one position
   * @return (B, V) fp32
   */
  public NDArray decodeLogits(NDArray ids, NDArray positions, KvCache cache) {
    NDManager m = ids.getManager();
    long b = ids.getShape().get(0);
    NDArray mask = m.ones(new Shape(b, 1), DataType.INT64);
    if (!fusedDecodeApplies(cache)) {
      return logits(hidden(ids, mask, positions, cache).get(":, -1"));
    }
    long past = cache.length();
    NDArray keyMask = cache.extendMask(mask); // (B, past + 1)
    NDArray empty = m.zeros(new Shape(0));
    NDArray[] layers = new NDArray[config.numLayers() * 18];
    String[] slots = {
      "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"
    };
    String[] mlp = {"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
    for (int i = 0; i < config.numLayers(); i++) {
      int at = i * 18;
      layers[at] = p(names.norm1(i, "weight"));
      for (int j = 0; j < slots.length; j++) {
        layers[at + 1 + 2 * j] = p(names.layer(i, slots[j] + ".weight"));
        layers[at + 2 + 2 * j] = orEmpty(names.layer(i, slots[j] + ".bias"), empty);
      }
      layers[at + 9] = orEmpty(names.layer(i, "self_attn.q_norm.weight"), empty);
      layers[at + 10] = orEmpty(names.layer(i, "self_attn.k_norm.weight"), empty);
      layers[at + 11] = p(names.norm2(i, "weight"));
      for (int j = 0; j < mlp.length; j++) {
        layers[at + 12 + 2 * j] = p(names.layer(i, mlp[j] + ".weight"));
        layers[at + 13 + 2 * j] = orEmpty(names.layer(i, mlp[j] + ".bias"), empty);
      }
    }
    // The body's matmuls are too small to share between threads: run it on one, so no worker is
    // woken ~40 times a step (each wake-up of a passively waiting OpenMP thread costs more than
    // the op), and give the head, the one large matmul, every thread. Measured on llama-small.
    int threads = Torch.oneThreadForDecode();
    NDArray h;
    try {
      h =
          kernels.decodeRms(
              ids,
              positions,
              keyMask,
              rotary.inverseFrequencies(m),
              p(names.embed()),
              layers,
              cache.keyStorage(),
              cache.valueStorage(),
              past,
              config.slidingWindow(),
              config.numHeads(),
              config.numKvHeads(),
              config.normEps(),
              p(names.finalNorm("weight")));
    } finally {
      Torch.restoreThreads(threads);
    }
    cache.advance(1);
    return kernels.headLogits(h, headWeight());
  }

  public boolean fusedDecodeApplies(KvCache cache) {
    return fusedDecode
        && kernels != null
        && precision == Precision.FP32
        && lora == null
        && head == Head.LM
        && cache.keyStorage() != null
        && config.norm() == ModelConfig.Norm.RMS
        && config.gatedMlp()
        && config.activation() == ModelConfig.Activation.SILU
        && !config.parallelResidual()
        && config.family() != Family.GPT2
        && config.family() != Family.GPT_NEOX
        && rotary != null
        && rotary.rotaryDim() == config.headDim()
        && !JniUtils.isGradMode();
  }

  private NDArray orEmpty(String name, NDArray empty) {
    NDArray a = params.get(name);
    return a == null ? empty : a;
  }

  /**
   * One-call decode steps for the models that have them (default on); off forces the general path.
   */
  public void setFusedDecode(boolean on) {
    fusedDecode = on;
  }

  /**
   * Final hidden states of rows with an attention pattern of the caller's: several sequences packed
   * in one row that share a prefix (a prompt followed by each of its responses, every response
   * attending the prompt and itself), so the prefix runs once for all of them.
   *
   * @param ids (B, T)
   * @param positions (B, T) each token's position in its own sequence
   * @param allowed (B, T, T) boolean: query t may attend key s (the caller applies causality,
   *     padding and any sliding window)
   * @return (B, T, d)
   */
  public NDArray hidden(NDArray ids, NDArray positions, NDArray allowed) {
    long t = ids.getShape().get(1);
    NDArray bias =
        Scalars.mul(allowed.toType(DataType.FLOAT32, false).sub(1f), -MASKED)
            .reshape(-1, 1, 1, t, t);
    return forward(ids, positions, bias, null);
  }

  private NDArray forward(NDArray ids, NDArray positions, NDArray bias, KvCache cache) {
    NDList rope = rotary == null ? null : rotary.tables(positions);
    Forward f = new Forward(bias, rope, cache, lora == null ? 0 : lora.beginForward());
    if (checkpointing && cache == null && JniUtils.isGradMode()) {
      return ActivationCheckpoint.hidden(this, ids, positions, f);
    }
    NDArray x = embedInputs(ids, positions);
    for (int i = 0; i < config.numLayers(); i++) {
      int layer = i;
      x = scoped(x, in -> block(layer, in, f));
    }
    return finalNorm(x);
  }

  /**
   * Runs {@code f} on {@code x} in a scope of its own and moves only the result to {@code x}'s
   * manager: {@code f}'s intermediates are freed when it returns (a graph keeps what its backward
   * needs), instead of living as long as the caller's scope. Without it a no-graph forward (the
   * reference's, an evaluation's) would hold every block's activations until its caller closes.
   */
  static NDArray scoped(NDArray x, UnaryOperator<NDArray> f) {
    NDManager outer = x.getManager();
    try (NDManager scope = outer.newSubManager()) {
      x.tempAttach(scope);
      NDArray y = f.apply(x);
      y.attach(outer);
      return y;
    }
  }

  /** Token (and, for GPT-2, learned position) embeddings: (B, T) -> (B, T, d). */
  NDArray embedInputs(NDArray ids, NDArray positions) {
    NDArray table = p(names.embed());
    NDArray x =
        ChunkedLogprobs.tiedHeadByKernel(this, table)
            ? ChunkedLogprobs.embedForTiedHead(this, ids, table)
            : embed(ids, table);
    if (config.family() == Family.GPT2) {
      x = x.add(embed(positions, p(names.positions())));
    }
    return x;
  }

  /** Decoder block {@code i}: (B, T, d) -> (B, T, d). */
  NDArray block(int i, NDArray x, Forward f) {
    NDArray h1 = norm(x, names.norm1(i, "weight"), names.norm1(i, "bias"));
    NDArray attn = attention(i, h1, f);
    if (config.parallelResidual()) {
      NDArray h2 = norm(x, names.norm2(i, "weight"), names.norm2(i, "bias"));
      return x.add(attn).add(mlp(i, h2, f));
    }
    x = x.add(attn);
    NDArray h2 = norm(x, names.norm2(i, "weight"), names.norm2(i, "bias"));
    return x.add(mlp(i, h2, f));
  }

  NDArray finalNorm(NDArray x) {
    return norm(x, names.finalNorm("weight"), names.finalNorm("bias"));
  }

  /**
   * Per-token log-probs of a padded batch: {@code log p(ids[:, t] | ids[:, <t])} for t in [from,
   * T).
   *
   * @param ids (B, T) int64
   * @param mask (B, T) 0/1
   * @param from first target position, at least 1
   * @return (B, T - from) fp32; values at padded targets are meaningless and must be masked
   */
  public NDArray tokenLogprobs(NDArray ids, NDArray mask, int from) {
    long t = ids.getShape().get(1);
    if (from < 1 || from >= t) {
      throw new IllegalArgumentException("from must be in [1, " + t + "), got " + from);
    }
    NDArray h = hidden(ids, mask, positionsFromMask(mask), null); // (B, T, d)
    NDArray states = h.get(":, {}:{}", from - 1, t - 1); // (B, T-from, d)
    return targetLogprobs(states, ids.get(":, {}:", from));
  }

  /**
   * log-softmax of the head's logits at the targets, over chunks of {@link #logitsChunkTokens(long,
   * boolean)} tokens, so that no more than one chunk of (B, T, V) logits exists at a time, in the
   * forward and, through {@link DeferredBackward}, in the backward ({@link ChunkedLogprobs}).
   *
   * @param states (B, N, d) hidden states
   * @param targets (B, N) int64 next tokens
   * @return (B, N) fp32
   */
  public NDArray targetLogprobs(NDArray states, NDArray targets) {
    return ChunkedLogprobs.of(this, states, targets);
  }

  /**
   * Tokens whose logits are computed at once when {@code tokens} need them: see {@link #autoChunk}.
   */
  public long logitsChunkTokens(long tokens, boolean trainableHead) {
    return logitsChunkTokens > 0
        ? logitsChunkTokens
        : autoChunk(config.vocabSize(), tokens, trainableHead);
  }

  /**
   * The automatic logits chunk: about 128 MB of fp32 logits, except that a head that trains keeps
   * its logits whole up to 1 GiB, since chunking it costs a second pass over the head in backward
   * (7% of a DPO step on the small preset, whose head is 76% of its weights).
   */
  public static long autoChunk(int vocab, long tokens, boolean trainableHead) {
    if (trainableHead && tokens * vocab * 4L <= (1L << 30)) {
      return Math.max(1, tokens);
    }
    return Math.max(1, (1L << 25) / vocab);
  }

  /** Sets the logits chunk in tokens; 0 restores the automatic size. */
  public void setLogitsChunkTokens(long tokens) {
    if (tokens < 0) {
      throw new IllegalArgumentException("logits chunk must be >= 0 tokens, got " + tokens);
    }
    logitsChunkTokens = tokens;
  }

  /** Recompute each decoder block in backward instead of keeping its activations. */
  public void setGradientCheckpointing(boolean on) {
    checkpointing = on;
    NativeMemory.setEnabled(on);
  }

  public boolean gradientCheckpointing() {
    return checkpointing;
  }

  /** The model's LoRA adapters, or null. */
  public Lora lora() {
    return lora;
  }

  /** Puts adapters on the model (null removes them); the model then computes W x + s B A x. */
  public void setLora(Lora adapters) {
    lora = adapters;
  }

  /** Logits of the LM head, fp32: (..., d) -> (..., V). */
  public NDArray logits(NDArray hidden) {
    return linear(hidden, headWeight(), null);
  }

  /** The kernels for the head's fp32 log-probs and their gradients; null in other precisions. */
  Kernels fp32Kernels() {
    return precision == Precision.FP32 ? kernels : null;
  }

  /** The LM head's weight (V, d): the embedding when tied. */
  NDArray headWeight() {
    if (head != Head.LM) {
      throw new IllegalStateException("a " + head + " model has no LM head");
    }
    return config.tieWordEmbeddings() ? p(names.embed()) : p(names.head());
  }

  /**
   * {@code p @ W} for the head's weight W (V, d), in this model's precision: (..., V) -> (..., d).
   */
  NDArray throughHead(NDArray p) {
    NDArray w = headWeight();
    return switch (precision) {
      case FP32 -> p.matMul(w);
      case BF16_MIXED -> kernels.matmulBf16(p, w);
      case BF16 -> heldInBf16(w) ? kernels.matmulW16(p, w) : kernels.matmulBf16(p, w);
    };
  }

  /**
   * A reward model's scalar score of each sequence, read at its last real token (HF's
   * *ForSequenceClassification reads it at the last token that is not pad_token_id; the two agree
   * unless pad == eos and the sequence ends with EOS, where HF reads the token before).
   *
   * @param ids (B, T)
   * @param mask (B, T) 0/1, left or right padding
   * @return (B) fp32
   */
  public NDArray scores(NDArray ids, NDArray mask) {
    if (head != Head.SCORE) {
      throw new IllegalStateException("an LM-head model has no score head");
    }
    NDArray h = hidden(ids, mask, positionsFromMask(mask), null); // (B, T, d)
    long t = ids.getShape().get(1);
    NDManager m = ids.getManager();
    NDArray index =
        m.arange(0, t, 1, DataType.INT64)
            .reshape(1, t)
            .mul(mask.toType(DataType.INT64, false))
            .argMax(1); // (B) last real position
    long b = ids.getShape().get(0);
    NDArray idx = index.reshape(b, 1, 1).repeat(2, h.getShape().get(2)); // (B, 1, d)
    NDArray last = h.gather(idx, 1).squeeze(1); // (B, d)
    return linear(last, p(WeightNames.SCORE), null).squeeze(1);
  }

  /**
   * HF's position ids for a padded batch: the count of real tokens before each one, so left and
   * right padding give every real token the position it would have unpadded.
   *
   * @param mask (B, T) 0/1
   * @return (B, T) int64
   */
  public static NDArray positionsFromMask(NDArray mask) {
    NDArray m = mask.toType(DataType.INT64, false);
    return Scalars.maximum(m.cumSum(1).sub(1), 0).mul(m);
  }

  /**
   * Additive attention bias: 0 where query i may attend key j, a large negative value elsewhere.
   * Allowed when key j is a real token, comes no later than i, and (sliding window) is fewer than
   * window positions back.
   */
  private NDArray attentionBias(NDManager m, NDArray keyMask, long past, long t) {
    long s = keyMask.getShape().get(1);
    NDArray q = m.arange(past, past + t, 1, DataType.INT64).reshape(t, 1); // (T, 1)
    NDArray k = m.arange(0, s, 1, DataType.INT64).reshape(1, s); // (1, S)
    NDArray allowed = k.lte(q); // (T, S)
    if (config.slidingWindow() > 0) {
      allowed = allowed.logicalAnd(q.sub(k).lt(config.slidingWindow()));
    }
    NDArray real = keyMask.toType(DataType.BOOLEAN, false).reshape(-1, 1, s); // (B, 1, S)
    allowed = allowed.expandDims(0).logicalAnd(real); // (B, T, S)
    NDArray bias = Scalars.mul(allowed.toType(DataType.FLOAT32, false).sub(1f), -MASKED);
    return bias.reshape(-1, 1, 1, t, s);
  }

  private NDArray attention(int i, NDArray x, Forward f) {
    NDList rope = f.rope();
    NDArray bias = f.bias();
    KvCache cache = f.cache();
    Shape xs = x.getShape();
    long b = xs.get(0);
    long t = xs.get(1);
    int h = config.numHeads();
    int kv = config.numKvHeads();
    int hd = config.headDim();
    NDArray q; // (B, T, H, hd)
    NDArray k; // (B, T, KV, hd)
    NDArray v;
    switch (config.family()) {
      case GPT2 -> {
        NDArray qkv = proj(x, i, "attn.c_attn", f);
        NDList parts = qkv.split(3, qkv.getShape().dimension() - 1);
        q = parts.get(0).reshape(b, t, h, hd);
        k = parts.get(1).reshape(b, t, kv, hd);
        v = parts.get(2).reshape(b, t, kv, hd);
      }
      case GPT_NEOX -> {
        // Fused per head: each head's q, k and v are adjacent (HF view(B, T, H, 3*hd)).
        NDArray qkv = proj(x, i, "attention.query_key_value", f).reshape(b, t, h, 3L * hd);
        NDList parts = qkv.split(3, qkv.getShape().dimension() - 1);
        q = parts.get(0);
        k = parts.get(1);
        v = parts.get(2);
      }
      default -> {
        q = proj(x, i, "self_attn.q_proj", f).reshape(b, t, h, hd);
        k = proj(x, i, "self_attn.k_proj", f).reshape(b, t, kv, hd);
        v = proj(x, i, "self_attn.v_proj", f).reshape(b, t, kv, hd);
        if (config.qkNorm()) {
          q = rmsNorm(q, p(names.layer(i, "self_attn.q_norm.weight")));
          k = rmsNorm(k, p(names.layer(i, "self_attn.k_norm.weight")));
        }
      }
    }
    q = q.transpose(0, 2, 1, 3); // (B, H, T, hd)
    k = k.transpose(0, 2, 1, 3); // (B, KV, T, hd)
    v = v.transpose(0, 2, 1, 3);
    if (rope != null) {
      q = rotary.apply(q, rope);
      k = rotary.apply(k, rope);
    }
    if (cache != null) {
      NDArray[] kvs = cache.append(i, k, v);
      k = kvs[0]; // (B, KV, S, hd)
      v = kvs[1];
    }
    long s = k.getShape().get(2);
    int g = h / kv;
    NDArray out; // (B, H, T, hd)
    if (kernels != null && fusedAttention) {
      out = kernels.sdpa(q, k, v, bias.reshape(b, 1, t, s), precision != Precision.FP32);
    } else {
      // GQA without copying keys: fold the g query heads of one KV head into the row dimension.
      NDArray scores =
          matmul(q.reshape(b, kv, g * t, hd), k.transpose(0, 1, 3, 2)); // (B, KV, g*T, S)
      scores = Scalars.mul(scores, 1.0f / (float) Math.sqrt(hd)).reshape(b, kv, g, t, s).add(bias);
      NDArray probs =
          scores.softmax(-1).reshape(b, kv, g * t, s); // softmax in fp32 in every precision
      out = matmul(probs, v).reshape(b, h, t, hd);
    }
    out = out.transpose(0, 2, 1, 3).reshape(b, t, (long) h * hd);
    return switch (config.family()) {
      case GPT2 -> proj(out, i, "attn.c_proj", f);
      case GPT_NEOX -> proj(out, i, "attention.dense", f);
      default -> proj(out, i, "self_attn.o_proj", f);
    };
  }

  private NDArray mlp(int i, NDArray x, Forward f) {
    return switch (config.family()) {
      case GPT2 -> proj(activate(proj(x, i, "mlp.c_fc", f)), i, "mlp.c_proj", f);
      case GPT_NEOX ->
          proj(activate(proj(x, i, "mlp.dense_h_to_4h", f)), i, "mlp.dense_4h_to_h", f);
      default -> {
        NDArray gate = proj(x, i, "mlp.gate_proj", f);
        NDArray up = proj(x, i, "mlp.up_proj", f);
        yield proj(activate(gate).mul(up), i, "mlp.down_proj", f);
      }
    };
  }

  /**
   * Linear module {@code rest} of block {@code i} (nn.Linear, or GPT-2's Conv1D stored [in, out]),
   * plus its LoRA update when it has one: W x + b (+ s B A dropout(x)).
   */
  private NDArray proj(NDArray x, int i, String rest, Forward f) {
    String module = names.layer(i, rest);
    NDArray w = p(module + ".weight");
    NDArray b = opt(module + ".bias");
    NDArray y = config.family() == Family.GPT2 ? conv1d(x, w, b) : linear(x, w, b);
    if (lora != null && lora.adapts(module)) {
      y = y.add(lora.delta(this, x, module, f.loraKey()));
    }
    return y;
  }

  private NDArray activate(NDArray x) {
    return switch (config.activation()) {
      case SILU -> x.mul(x.getNDArrayInternal().sigmoid());
      case GELU -> x.getNDArrayInternal().gelu();
      case RELU -> x.getNDArrayInternal().relu();
      case GELU_TANH -> {
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): HF's gelu_new, not exposed by DJL.
        NDArray inner =
            Scalars.mul(
                x.add(Scalars.mul(Scalars.pow(x, 3), 0.044715f)), (float) Math.sqrt(2.0 / Math.PI));
        yield Scalars.mul(x.mul(inner.tanh().add(1f)), 0.5f);
      }
    };
  }

  private NDArray norm(NDArray x, String weight, String bias) {
    if (config.norm() == ModelConfig.Norm.RMS) {
      return rmsNorm(x, p(weight));
    }
    return LayerNorm.layerNorm(
            x, new Shape(config.hiddenSize()), p(weight), p(bias), (float) config.normEps())
        .singletonOrThrow();
  }

  /** x / sqrt(mean(x^2) + eps) * w over the last axis, in fp32 (HF's LlamaRMSNorm). */
  private NDArray rmsNorm(NDArray x, NDArray w) {
    NDArray rms = x.square().mean(new int[] {-1}, true).add((float) config.normEps()).sqrt();
    return x.div(rms).mul(w);
  }

  /** x @ w^T + b (nn.Linear layout) in this model's precision. */
  NDArray linear(NDArray x, NDArray w, NDArray b) {
    return switch (precision) {
      case FP32 -> x.getNDArrayInternal().linear(x, w, b).singletonOrThrow();
      case BF16_MIXED -> kernels.linearBf16(x, w, b);
      case BF16 -> heldInBf16(w) ? kernels.linearW16(x, w, b) : kernels.linearBf16(x, w, b);
    };
  }

  /** x @ w + b with w stored [in, out] (GPT-2's Conv1D). */
  private NDArray conv1d(NDArray x, NDArray w, NDArray b) {
    return switch (precision) {
      case FP32 -> x.matMul(w).add(b);
      case BF16_MIXED -> kernels.matmulBf16(x, w).add(b);
      case BF16 -> kernels.matmulW16(x, w).add(b);
    };
  }

  /** Activation-by-activation matmul (attention scores and weighted sums). */
  private NDArray matmul(NDArray a, NDArray b) {
    return precision == Precision.FP32 ? a.matMul(b) : kernels.matmulBf16(a, b);
  }

  NDArray embed(NDArray ids, NDArray table) {
    if (heldInBf16(table)) {
      return kernels.embeddingW16(ids, table);
    }
    return ids.getNDArrayInternal().embedding(ids, table, SparseFormat.DENSE).singletonOrThrow();
  }

  private boolean heldInBf16(NDArray w) {
    return precision == Precision.BF16 && heldBf16.contains(w);
  }

  public Precision precision() {
    return precision;
  }

  /**
   * Switches the compute precision. {@code bf16-mixed} needs the kernels; {@code bf16} replaces
   * every matrix and embedding by a bfloat16 copy held inside libtorch (norm scales and biases stay
   * float32), after which the model can infer but not train or be saved.
   */
  public void setPrecision(Precision p) {
    if (p == precision) {
      return;
    }
    if (precision == Precision.BF16) {
      throw new IllegalStateException(
          "a model held in bf16 cannot change precision; load it again");
    }
    if (p != Precision.FP32 && kernels == null) {
      throw new IllegalStateException(
          "precision "
              + p.label
              + " needs Tilt's TorchScript kernels, which did not load: "
              + Kernels.loadError());
    }
    if (p == Precision.BF16) {
      for (Map.Entry<String, NDArray> e : params.entrySet()) {
        if (e.getValue().getShape().dimension() >= 2) {
          NDArray w16 = kernels.toBf16(e.getValue());
          e.getValue().close();
          e.setValue(w16);
          heldBf16.add(w16);
        }
      }
    }
    precision = p;
  }

  /** Marks weights a loader already converted to bfloat16 (see ModelFiles.load with bf16). */
  void holdInBf16(Collection<NDArray> converted) {
    heldBf16.addAll(converted);
    precision = Precision.BF16;
  }

  /**
   * Fused scaled-dot-product attention (default on when the kernels load); off gives the NDArray
   * path.
   */
  public void setFusedAttention(boolean on) {
    fusedAttention = on;
  }

  private NDArray p(String name) {
    NDArray a = params.get(name);
    if (a == null) {
      throw new IllegalStateException("model has no weight '" + name + "'");
    }
    return a;
  }

  private NDArray opt(String name) {
    return params.get(name);
  }

  @Override
  public void close() {
    manager.close();
  }
}
