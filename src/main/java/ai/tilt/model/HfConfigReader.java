package ai.tilt.model;

import ai.tilt.model.ModelConfig.Activation;
import ai.tilt.model.ModelConfig.Family;
import ai.tilt.model.ModelConfig.Norm;
import ai.tilt.model.ModelConfig.Rope;
import ai.tilt.model.ModelConfig.RopeScaling;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Binds a HF {@code config.json} to {@link ModelConfig}, family by family.
 *
 * <p>Silently misreading a config is worse than refusing it, so every key must be either read,
 * known to be irrelevant to the forward pass (metadata, generation defaults, dropout — Tilt trains
 * without dropout, as TRL does by default), or at its default value; anything else is an error
 * naming the key.
 *
 * <p>Over 400 lines because the rule above needs every family's keys, read and ignored, listed in
 * one place next to each other: split by family, a key one family reads and another ignores would
 * be decided in two files.
 */
final class HfConfigReader {
  /** Keys of transformers' PretrainedConfig that do not change the forward pass. */
  private static final Set<String> IGNORED =
      Set.of(
          "_name_or_path",
          "architectures",
          "transformers_version",
          "torch_dtype",
          "dtype",
          "use_cache",
          "initializer_range",
          "bos_token_id",
          "eos_token_id",
          "pad_token_id",
          "sep_token_id",
          "decoder_start_token_id",
          "model_type",
          "tokenizer_class",
          "task_specific_params",
          "id2label",
          "label2id",
          "problem_type",
          "finetuning_task",
          "prefix",
          "return_dict",
          "output_hidden_states",
          "output_attentions",
          "torchscript",
          "use_bfloat16",
          "tf_legacy_loss",
          "pruned_heads",
          "chunk_size_feed_forward",
          "max_length",
          "min_length",
          "do_sample",
          "early_stopping",
          "num_beams",
          "num_beam_groups",
          "diversity_penalty",
          "temperature",
          "top_k",
          "top_p",
          "typical_p",
          "repetition_penalty",
          "length_penalty",
          "no_repeat_ngram_size",
          "encoder_no_repeat_ngram_size",
          "bad_words_ids",
          "num_return_sequences",
          "output_scores",
          "return_dict_in_generate",
          "forced_bos_token_id",
          "forced_eos_token_id",
          "remove_invalid_values",
          "exponential_decay_length_penalty",
          "suppress_tokens",
          "begin_suppress_tokens",
          "_attn_implementation_autoset",
          "attn_implementation",
          "is_decoder",
          "auto_map",
          "output_router_logits",
          // dropout: Tilt runs every forward pass without dropout
          "attention_dropout",
          "hidden_dropout",
          "resid_pdrop",
          "embd_pdrop",
          "attn_pdrop",
          "classifier_dropout",
          "summary_type",
          "summary_use_proj",
          "summary_activation",
          "summary_proj_to_labels",
          "summary_first_dropout",
          "n_ctx",
          "max_window_layers");

  private final JsonNode json;
  private final Family family;
  private final Set<String> read = new HashSet<>();

  private HfConfigReader(JsonNode json, Family family) {
    this.json = json;
    this.family = family;
  }

  static ModelConfig read(JsonNode json) {
    if (!json.isObject()) {
      throw new IllegalArgumentException("config.json must hold a JSON object");
    }
    JsonNode type = json.get("model_type");
    if (type == null || !type.isTextual()) {
      throw new IllegalArgumentException("missing key 'model_type'");
    }
    HfConfigReader r = new HfConfigReader(json, Family.of(type.asText()));
    ModelConfig config =
        r.family == Family.GPT2 ? r.gpt2() : r.family == Family.GPT_NEOX ? r.neox() : r.llamaLike();
    r.requireDefault("is_encoder_decoder", false);
    r.requireDefault("add_cross_attention", false);
    r.requireDefault("tie_encoder_decoder", false);
    r.rejectUnread();
    if (config.numHeads() % config.numKvHeads() != 0) {
      throw new IllegalArgumentException(
          "num_attention_heads "
              + config.numHeads()
              + " is not a multiple of num_key_value_heads "
              + config.numKvHeads());
    }
    return config;
  }

  private ModelConfig llamaLike() {
    int hidden = integer("hidden_size", null);
    int heads = integer("num_attention_heads", null);
    int kvHeads = integer("num_key_value_heads", heads);
    int headDim = integer("head_dim", hidden / heads);
    Activation act = activation(text("hidden_act", "silu"));
    requireDefault("pretraining_tp", 1);
    boolean qkvBias = family == Family.QWEN2;
    boolean attentionBias = family == Family.QWEN2 ? false : bool("attention_bias", false);
    boolean mlpBias = family == Family.LLAMA && bool("mlp_bias", false);
    int window = 0;
    if (family == Family.MISTRAL) {
      window = integer("sliding_window", 0);
    } else if (family == Family.QWEN2 || family == Family.QWEN3) {
      // Qwen's window applies only with use_sliding_window; released checkpoints keep it off.
      requireDefault("use_sliding_window", false);
      read.add("sliding_window");
      JsonNode types = json.get("layer_types");
      read.add("layer_types");
      if (types != null && types.isArray()) {
        for (JsonNode t : types) {
          if (!"full_attention".equals(t.asText())) {
            throw new IllegalArgumentException(
                "unsupported layer_types entry '" + t.asText() + "'");
          }
        }
      }
    }
    Rope rope = rope(headDim, "rope_theta", 10000.0, 1.0);
    return new ModelConfig(
        family,
        integer("vocab_size", null),
        hidden,
        integer("num_hidden_layers", null),
        heads,
        kvHeads,
        headDim,
        integer("intermediate_size", null),
        Norm.RMS,
        number("rms_norm_eps", 1e-6),
        act,
        true,
        integer("max_position_embeddings", 2048),
        rope,
        qkvBias || attentionBias,
        attentionBias,
        mlpBias,
        family == Family.QWEN3,
        window,
        false,
        bool("tie_word_embeddings", false),
        id("bos_token_id"),
        ids("eos_token_id"),
        id("pad_token_id"));
  }

  private ModelConfig neox() {
    int hidden = integer("hidden_size", null);
    int heads = integer("num_attention_heads", null);
    int headDim = hidden / heads;
    double pct = json.has("partial_rotary_factor") ? number("partial_rotary_factor", 1.0) : 1.0;
    pct = number("rotary_pct", pct);
    read.add("partial_rotary_factor");
    double base = json.has("rope_theta") ? number("rope_theta", 10000.0) : 10000.0;
    read.add("rope_theta");
    base = number("rotary_emb_base", base);
    Rope rope = rope(headDim, "rotary_emb_base", base, pct);
    boolean bias = bool("attention_bias", true);
    return new ModelConfig(
        family,
        integer("vocab_size", null),
        hidden,
        integer("num_hidden_layers", null),
        heads,
        heads,
        headDim,
        integer("intermediate_size", 4 * hidden),
        Norm.LAYER,
        number("layer_norm_eps", 1e-5),
        activation(text("hidden_act", "gelu")),
        false,
        integer("max_position_embeddings", 2048),
        rope,
        bias,
        bias,
        true,
        false,
        0,
        bool("use_parallel_residual", true),
        bool("tie_word_embeddings", false),
        id("bos_token_id"),
        ids("eos_token_id"),
        id("pad_token_id"));
  }

  private ModelConfig gpt2() {
    int hidden = integer("n_embd", null);
    int heads = integer("n_head", null);
    requireDefault("scale_attn_weights", true);
    requireDefault("scale_attn_by_inverse_layer_idx", false);
    // Upcasting only changes low-precision numerics; in fp32 both orders give the same result.
    read.add("reorder_and_upcast_attn");
    return new ModelConfig(
        family,
        integer("vocab_size", null),
        hidden,
        integer("n_layer", null),
        heads,
        heads,
        hidden / heads,
        integer("n_inner", 4 * hidden),
        Norm.LAYER,
        number("layer_norm_epsilon", 1e-5),
        activation(text("activation_function", "gelu_new")),
        false,
        integer("n_positions", 1024),
        null,
        true,
        true,
        true,
        false,
        0,
        false,
        bool("tie_word_embeddings", true),
        id("bos_token_id"),
        ids("eos_token_id"),
        id("pad_token_id"));
  }

  /** rope_theta / rope_scaling (transformers 4) or rope_parameters (transformers 5). */
  private Rope rope(int headDim, String thetaKey, double thetaDefault, double pct) {
    double theta = family == Family.GPT_NEOX ? thetaDefault : number(thetaKey, thetaDefault);
    JsonNode scaling = json.get("rope_scaling");
    read.add("rope_scaling");
    JsonNode params = json.get("rope_parameters");
    read.add("rope_parameters");
    if (params != null && params.isObject()) {
      if (params.has("rope_theta")) {
        theta = params.get("rope_theta").asDouble();
      }
      if (params.has("partial_rotary_factor")) {
        pct = params.get("partial_rotary_factor").asDouble();
      }
      if (scaling == null || scaling.isNull()) {
        scaling = params;
      }
    }
    int rotaryDim = (int) (headDim * pct);
    return new Rope(theta, rotaryDim, scaling(scaling));
  }

  private static RopeScaling scaling(JsonNode s) {
    if (s == null || s.isNull()) {
      return null;
    }
    String type =
        s.has("rope_type") ? s.get("rope_type").asText() : s.path("type").asText("default");
    switch (type) {
      case "default":
        return null;
      case "linear":
        return new RopeScaling(type, s.path("factor").asDouble(1.0), 0, 0, 0);
      case "llama3":
        return new RopeScaling(
            type,
            s.path("factor").asDouble(8.0),
            s.path("low_freq_factor").asDouble(1.0),
            s.path("high_freq_factor").asDouble(4.0),
            s.path("original_max_position_embeddings").asInt(8192));
      default:
        throw new IllegalArgumentException(
            "unsupported rope_scaling type '" + type + "' (supported: default, linear, llama3)");
    }
  }

  private static Activation activation(String name) {
    switch (name) {
      case "silu":
      case "swish":
        return Activation.SILU;
      case "gelu":
        return Activation.GELU;
      case "gelu_new":
      case "gelu_pytorch_tanh":
      case "gelu_fast":
        return Activation.GELU_TANH;
      case "relu":
        return Activation.RELU;
      default:
        throw new IllegalArgumentException("unsupported activation '" + name + "'");
    }
  }

  private void rejectUnread() {
    List<String> bad = new ArrayList<>();
    for (Iterator<String> it = json.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!read.contains(key) && !IGNORED.contains(key)) {
        bad.add(key + "=" + json.get(key));
      }
    }
    if (!bad.isEmpty()) {
      throw new IllegalArgumentException(
          "unsupported config key(s) for model_type "
              + family.modelType
              + ": "
              + String.join(", ", bad));
    }
  }

  private void requireDefault(String key, Object expected) {
    read.add(key);
    JsonNode v = json.get(key);
    if (v == null || v.isNull()) {
      return;
    }
    boolean ok =
        expected instanceof Boolean
            ? v.isBoolean() && v.asBoolean() == (Boolean) expected
            : v.isNumber() && v.asDouble() == ((Number) expected).doubleValue();
    if (!ok) {
      throw new IllegalArgumentException(
          "config key '" + key + "' = " + v + " is not supported (only " + expected + ")");
    }
  }

  private int integer(String key, Integer dflt) {
    read.add(key);
    JsonNode v = json.get(key);
    if (v == null || v.isNull()) {
      if (dflt == null) {
        throw new IllegalArgumentException("missing key '" + key + "'");
      }
      return dflt;
    }
    if (!v.canConvertToInt()
        || (v.isFloatingPointNumber() && v.asDouble() != Math.rint(v.asDouble()))) {
      throw new IllegalArgumentException("key '" + key + "' must be an integer, got " + v);
    }
    return v.asInt();
  }

  private double number(String key, double dflt) {
    read.add(key);
    JsonNode v = json.get(key);
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.isNumber()) {
      throw new IllegalArgumentException("key '" + key + "' must be a number, got " + v);
    }
    return v.asDouble();
  }

  private boolean bool(String key, boolean dflt) {
    read.add(key);
    JsonNode v = json.get(key);
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.isBoolean()) {
      throw new IllegalArgumentException("key '" + key + "' must be true or false, got " + v);
    }
    return v.asBoolean();
  }

  private String text(String key, String dflt) {
    read.add(key);
    JsonNode v = json.get(key);
    return v == null || v.isNull() ? dflt : v.asText();
  }

  private Long id(String key) {
    JsonNode v = json.get(key);
    if (v == null || v.isNull()) {
      return null;
    }
    if (v.isArray()) {
      return v.size() == 0 ? null : v.get(0).asLong();
    }
    return v.asLong();
  }

  private long[] ids(String key) {
    JsonNode v = json.get(key);
    if (v == null || v.isNull()) {
      return new long[0];
    }
    if (v.isArray()) {
      long[] out = new long[v.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = v.get(i).asLong();
      }
      return out;
    }
    return new long[] {v.asLong()};
  }
}
