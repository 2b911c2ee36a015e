package ai.tilt.model;

import ai.tilt.model.ModelConfig.Family;
import ai.tilt.model.ModelConfig.RopeScaling;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Writes a {@link ModelConfig} as the config.json transformers writes for that family. */
public final class HfConfigWriter {
  private static final ObjectMapper JSON = new ObjectMapper();

  private HfConfigWriter() {}

  public static ObjectNode toJson(ModelConfig c) {
    ObjectNode n = JSON.createObjectNode();
    n.putArray("architectures").add(c.family().architecture);
    n.put("model_type", c.family().modelType);
    n.put("vocab_size", c.vocabSize());
    switch (c.family()) {
      case GPT2 -> {
        n.put("n_embd", c.hiddenSize()).put("n_layer", c.numLayers()).put("n_head", c.numHeads());
        n.put("n_inner", c.intermediateSize()).put("n_positions", c.maxPositions());
        n.put("activation_function", activation(c));
        n.put("layer_norm_epsilon", c.normEps());
        n.put("scale_attn_weights", true);
      }
      case GPT_NEOX -> {
        common(n, c);
        n.put("layer_norm_eps", c.normEps());
        n.put("rotary_pct", (double) c.rope().rotaryDim() / c.headDim());
        n.put("rotary_emb_base", c.rope().theta());
        n.put("use_parallel_residual", c.parallelResidual());
        n.put("attention_bias", c.qkvBias());
      }
      default -> {
        common(n, c);
        n.put("num_key_value_heads", c.numKvHeads());
        n.put("head_dim", c.headDim());
        n.put("rms_norm_eps", c.normEps());
        n.put("rope_theta", c.rope().theta());
        RopeScaling s = c.rope().scaling();
        if (s == null) {
          n.putNull("rope_scaling");
        } else {
          ObjectNode r =
              n.putObject("rope_scaling").put("rope_type", s.type()).put("factor", s.factor());
          if (s.type().equals("llama3")) {
            r.put("low_freq_factor", s.lowFreqFactor()).put("high_freq_factor", s.highFreqFactor());
            r.put("original_max_position_embeddings", s.originalMaxPositions());
          }
        }
        if (c.family() == Family.LLAMA) {
          n.put("attention_bias", c.outBias()).put("mlp_bias", c.mlpBias());
        } else if (c.family() == Family.QWEN3) {
          n.put("attention_bias", c.outBias());
        }
        if (c.family() == Family.MISTRAL) {
          if (c.slidingWindow() > 0) {
            n.put("sliding_window", c.slidingWindow());
          } else {
            n.putNull("sliding_window");
          }
        }
        if (c.family() == Family.QWEN2 || c.family() == Family.QWEN3) {
          n.put("use_sliding_window", false);
        }
      }
    }
    n.put("tie_word_embeddings", c.tieWordEmbeddings());
    putId(n, "bos_token_id", c.bosTokenId());
    if (c.eosTokenIds().length == 1) {
      n.put("eos_token_id", c.eosTokenIds()[0]);
    } else if (c.eosTokenIds().length > 1) {
      ArrayNode a = n.putArray("eos_token_id");
      for (long e : c.eosTokenIds()) {
        a.add(e);
      }
    }
    putId(n, "pad_token_id", c.padTokenId());
    n.put("torch_dtype", "float32");
    n.put("initializer_range", 0.02);
    n.put("use_cache", true);
    return n;
  }

  private static void common(ObjectNode n, ModelConfig c) {
    n.put("hidden_size", c.hiddenSize());
    n.put("intermediate_size", c.intermediateSize());
    n.put("num_hidden_layers", c.numLayers());
    n.put("num_attention_heads", c.numHeads());
    n.put("hidden_act", activation(c));
    n.put("max_position_embeddings", c.maxPositions());
  }

  private static String activation(ModelConfig c) {
    return switch (c.activation()) {
      case SILU -> "silu";
      case GELU -> "gelu";
      case GELU_TANH -> "gelu_new";
      case RELU -> "relu";
    };
  }

  private static void putId(ObjectNode n, String key, Long id) {
    if (id == null) {
      n.putNull(key);
    } else {
      n.put(key, id);
    }
  }
}
