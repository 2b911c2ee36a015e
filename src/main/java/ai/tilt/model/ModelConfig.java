package ai.tilt.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The architecture of a decoder-only LM, normalised from a HuggingFace {@code config.json}.
 *
 * <p>Every family Tilt runs (Llama, Mistral, Qwen2, Qwen3, GPT-NeoX, GPT-2) is one set of values of
 * these fields; the per-family differences in weight names live in {@link WeightNames}. Binding
 * from JSON, including the checks that reject keys we would silently misread, is in {@link
 * HfConfigReader}.
 *
 * @param family which HF model class the weights come from
 * @param vocabSize rows of the embedding and of the LM head
 * @param hiddenSize model width d
 * @param numLayers number of transformer blocks
 * @param numHeads query heads
 * @param numKvHeads key/value heads (GQA when fewer than numHeads, MQA when 1)
 * @param headDim width of one head (may differ from hiddenSize / numHeads, e.g. Qwen3)
 * @param intermediateSize MLP width
 * @param norm RMSNorm (Llama family) or LayerNorm with bias (GPT-2, NeoX)
 * @param normEps epsilon of every norm
 * @param activation MLP non-linearity
 * @param gatedMlp SwiGLU-style gate/up/down MLP (Llama family) instead of fc/proj
 * @param maxPositions max_position_embeddings (the learned table size for GPT-2)
 * @param rope rotary embedding, or null for learned absolute positions (GPT-2)
 * @param qkvBias biases on the q/k/v projections
 * @param outBias bias on the attention output projection
 * @param mlpBias biases on the MLP projections
 * @param qkNorm RMSNorm on each query and key head before RoPE (Qwen3)
 * @param slidingWindow attend to at most this many previous positions (Mistral), or 0 for none
 * @param parallelResidual GPT-NeoX's x + attn(ln1 x) + mlp(ln2 x)
 * @param tieWordEmbeddings the LM head is the embedding matrix
 * @param bosTokenId from config.json, or null
 * @param eosTokenIds from config.json (may be several), possibly empty
 * @param padTokenId from config.json, or null
 */
public record ModelConfig(
    Family family,
    int vocabSize,
    int hiddenSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    int intermediateSize,
    Norm norm,
    double normEps,
    Activation activation,
    boolean gatedMlp,
    int maxPositions,
    Rope rope,
    boolean qkvBias,
    boolean outBias,
    boolean mlpBias,
    boolean qkNorm,
    int slidingWindow,
    boolean parallelResidual,
    boolean tieWordEmbeddings,
    Long bosTokenId,
    long[] eosTokenIds,
    Long padTokenId) {

  /** The HF model families Tilt supports, by their {@code model_type}. */
  public enum Family {
    LLAMA("llama", "LlamaForCausalLM"),
    MISTRAL("mistral", "MistralForCausalLM"),
    QWEN2("qwen2", "Qwen2ForCausalLM"),
    QWEN3("qwen3", "Qwen3ForCausalLM"),
    GPT_NEOX("gpt_neox", "GPTNeoXForCausalLM"),
    GPT2("gpt2", "GPT2LMHeadModel");

    public final String modelType;
    public final String architecture;

    Family(String modelType, String architecture) {
      this.modelType = modelType;
      this.architecture = architecture;
    }

    /** The family of a {@code model_type}, or an error naming it and the supported ones. */
    public static Family of(String modelType) {
      for (Family f : values()) {
        if (f.modelType.equals(modelType)) {
          return f;
        }
      }
      StringBuilder known = new StringBuilder();
      for (Family f : values()) {
        known.append(known.length() == 0 ? "" : ", ").append(f.modelType);
      }
      throw new IllegalArgumentException(
          "unsupported model_type '" + modelType + "' (supported: " + known + ")");
    }
  }

  /** Normalisation layer type. */
  public enum Norm {
    RMS,
    LAYER
  }

  /** MLP activation; GELU_TANH is HF's gelu_new / gelu_pytorch_tanh. */
  public enum Activation {
    SILU,
    GELU,
    GELU_TANH,
    RELU
  }

  /**
   * Rotary position embedding.
   *
   * @param theta base of the inverse frequencies
   * @param rotaryDim how many leading dims of each head rotate (headDim, or less for NeoX's
   *     rotary_pct)
   * @param scaling frequency scaling, or null
   */
  public record Rope(double theta, int rotaryDim, RopeScaling scaling) {}

  /**
   * Rope scaling as in HF's {@code rope_scaling}: {@code linear} divides every frequency by factor;
   * {@code llama3} divides only the low frequencies, blending in between (Llama 3.1).
   */
  public record RopeScaling(
      String type,
      double factor,
      double lowFreqFactor,
      double highFreqFactor,
      int originalMaxPositions) {}

  /** Reads and validates {@code dir/config.json} (or the file itself when given one). */
  public static ModelConfig load(Path dirOrFile) throws IOException {
    Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve("config.json") : dirOrFile;
    if (!Files.exists(file)) {
      throw new IOException("no config.json in " + dirOrFile);
    }
    JsonNode json = JsonFiles.read(file);
    try {
      return HfConfigReader.read(json);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /** Query heads per key/value head. */
  public int groups() {
    return numHeads / numKvHeads;
  }

  /**
   * Number of weights that take part in matmuls (attention, MLP, the head once), for FLOP counts.
   */
  public long matmulParams() {
    long q = (long) hiddenSize * numHeads * headDim;
    long kv = 2L * hiddenSize * numKvHeads * headDim;
    long o = (long) numHeads * headDim * hiddenSize;
    long mlp = (gatedMlp ? 3L : 2L) * hiddenSize * intermediateSize;
    return numLayers * (q + kv + o + mlp) + (long) vocabSize * hiddenSize;
  }

  /** Forward FLOPs per token at context length t: 2N plus attention scores and weighted sum. */
  public double forwardFlopsPerToken(int t) {
    return 2.0 * matmulParams() + 4.0 * numLayers * numHeads * headDim * (double) t;
  }
}
