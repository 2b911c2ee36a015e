package ai.tilt.model;

import ai.djl.ndarray.types.Shape;
import ai.tilt.model.ModelConfig.Family;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one place that knows each family's HF weight names and shapes.
 *
 * <p>Names are the ones {@code save_pretrained} writes for the *ForCausalLM class (with the {@code
 * model.} / {@code transformer.} / {@code gpt_neox.} prefix), so checkpoints Tilt writes load in
 * transformers unchanged. Shapes are HF's storage layout: {@code [out, in]} for nn.Linear and
 * {@code [in, out]} for GPT-2's Conv1D; the forward pass uses them as stored.
 */
public final class WeightNames {
  private final ModelConfig c;
  private final Head headKind;
  private final String prefix;

  public WeightNames(ModelConfig config) {
    this(config, Head.LM);
  }

  public WeightNames(ModelConfig config, Head head) {
    this.c = config;
    this.headKind = head;
    this.prefix =
        switch (config.family()) {
          case GPT2 -> "transformer.";
          case GPT_NEOX -> "gpt_neox.";
          default -> "model.";
        };
  }

  /** The prefix of the base model inside the *ForCausalLM class ({@code model.}, ...). */
  public String prefix() {
    return prefix;
  }

  public String embed() {
    return prefix
        + switch (c.family()) {
          case GPT2 -> "wte.weight";
          case GPT_NEOX -> "embed_in.weight";
          default -> "embed_tokens.weight";
        };
  }

  /** GPT-2's learned position table. */
  public String positions() {
    return prefix + "wpe.weight";
  }

  /** The reward head of a *ForSequenceClassification with one label. */
  public static final String SCORE = "score.weight";

  /** The LM head; with tied embeddings there is none on disk and the embedding is used. */
  public String head() {
    return c.family() == Family.GPT_NEOX ? "embed_out.weight" : "lm_head.weight";
  }

  public String finalNorm(String wb) {
    return prefix
        + switch (c.family()) {
          case GPT2 -> "ln_f.";
          case GPT_NEOX -> "final_layer_norm.";
          default -> "norm.";
        }
        + wb;
  }

  /** A name inside layer {@code i}: {@code layer(3, "self_attn.q_proj.weight")}. */
  public String layer(int i, String rest) {
    return prefix + (c.family() == Family.GPT2 ? "h." : "layers.") + i + "." + rest;
  }

  public String norm1(int i, String wb) {
    return layer(i, c.family() == Family.GPT2 ? "ln_1." + wb : "input_layernorm." + wb);
  }

  public String norm2(int i, String wb) {
    return layer(i, c.family() == Family.GPT2 ? "ln_2." + wb : "post_attention_layernorm." + wb);
  }

  /** Names and shapes of every weight the model needs, in HF order. */
  public Map<String, Shape> shapes() {
    Map<String, Shape> s = new LinkedHashMap<>();
    long d = c.hiddenSize();
    long v = c.vocabSize();
    long hd = c.headDim();
    long qOut = c.numHeads() * hd;
    long kvOut = c.numKvHeads() * hd;
    long ff = c.intermediateSize();
    s.put(embed(), new Shape(v, d));
    if (c.family() == Family.GPT2) {
      s.put(positions(), new Shape(c.maxPositions(), d));
    }
    boolean layerNorm = c.norm() == ModelConfig.Norm.LAYER;
    for (int i = 0; i < c.numLayers(); i++) {
      s.put(norm1(i, "weight"), new Shape(d));
      if (layerNorm) {
        s.put(norm1(i, "bias"), new Shape(d));
      }
      switch (c.family()) {
        case GPT2 -> {
          s.put(layer(i, "attn.c_attn.weight"), new Shape(d, 3 * d));
          s.put(layer(i, "attn.c_attn.bias"), new Shape(3 * d));
          s.put(layer(i, "attn.c_proj.weight"), new Shape(d, d));
          s.put(layer(i, "attn.c_proj.bias"), new Shape(d));
        }
        case GPT_NEOX -> {
          s.put(layer(i, "attention.query_key_value.weight"), new Shape(3 * d, d));
          if (c.qkvBias()) {
            s.put(layer(i, "attention.query_key_value.bias"), new Shape(3 * d));
          }
          s.put(layer(i, "attention.dense.weight"), new Shape(d, d));
          if (c.outBias()) {
            s.put(layer(i, "attention.dense.bias"), new Shape(d));
          }
        }
        default -> {
          linear(s, layer(i, "self_attn.q_proj"), qOut, d, c.qkvBias());
          linear(s, layer(i, "self_attn.k_proj"), kvOut, d, c.qkvBias());
          linear(s, layer(i, "self_attn.v_proj"), kvOut, d, c.qkvBias());
          linear(s, layer(i, "self_attn.o_proj"), d, qOut, c.outBias());
          if (c.qkNorm()) {
            s.put(layer(i, "self_attn.q_norm.weight"), new Shape(hd));
            s.put(layer(i, "self_attn.k_norm.weight"), new Shape(hd));
          }
        }
      }
      s.put(norm2(i, "weight"), new Shape(d));
      if (layerNorm) {
        s.put(norm2(i, "bias"), new Shape(d));
      }
      switch (c.family()) {
        case GPT2 -> {
          s.put(layer(i, "mlp.c_fc.weight"), new Shape(d, ff));
          s.put(layer(i, "mlp.c_fc.bias"), new Shape(ff));
          s.put(layer(i, "mlp.c_proj.weight"), new Shape(ff, d));
          s.put(layer(i, "mlp.c_proj.bias"), new Shape(d));
        }
        case GPT_NEOX -> {
          linear(s, layer(i, "mlp.dense_h_to_4h"), ff, d, true);
          linear(s, layer(i, "mlp.dense_4h_to_h"), d, ff, true);
        }
        default -> {
          linear(s, layer(i, "mlp.gate_proj"), ff, d, c.mlpBias());
          linear(s, layer(i, "mlp.up_proj"), ff, d, c.mlpBias());
          linear(s, layer(i, "mlp.down_proj"), d, ff, c.mlpBias());
        }
      }
    }
    s.put(finalNorm("weight"), new Shape(d));
    if (layerNorm) {
      s.put(finalNorm("bias"), new Shape(d));
    }
    if (headKind == Head.SCORE) {
      s.put(SCORE, new Shape(1, d));
    } else if (!c.tieWordEmbeddings()) {
      s.put(head(), new Shape(v, d));
    }
    return s;
  }

  /**
   * The linear layers LoRA can adapt, layer by layer: module name (a weight's name without {@code
   * .weight}, e.g. {@code model.layers.0.self_attn.q_proj}) -> {in, out} features. Every linear
   * layer of the decoder blocks, not the head: what PEFT's {@code all-linear} selects.
   */
  public Map<String, long[]> linearModules() {
    Map<String, long[]> out = new LinkedHashMap<>();
    String blocks = prefix + (c.family() == Family.GPT2 ? "h." : "layers.");
    for (Map.Entry<String, Shape> e : shapes().entrySet()) {
      String name = e.getKey();
      Shape shape = e.getValue();
      if (name.startsWith(blocks) && name.endsWith(".weight") && shape.dimension() == 2) {
        String module = name.substring(0, name.length() - ".weight".length());
        // GPT-2's Conv1D stores [in, out]; nn.Linear [out, in]
        out.put(
            module,
            storesInputFirst()
                ? new long[] {shape.get(0), shape.get(1)}
                : new long[] {shape.get(1), shape.get(0)});
      }
    }
    return out;
  }

  /** Whether linear weights are stored [in, out] (GPT-2's Conv1D; PEFT's fan_in_fan_out). */
  public boolean storesInputFirst() {
    return c.family() == Family.GPT2;
  }

  /** A module's name inside its block: {@code self_attn.q_proj} of {@code model.layers.0...}. */
  public String withinBlock(String module) {
    String blocks = prefix + (c.family() == Family.GPT2 ? "h." : "layers.");
    if (!module.startsWith(blocks)) {
      return module;
    }
    String rest = module.substring(blocks.length());
    return rest.substring(rest.indexOf('.') + 1);
  }

  private static void linear(Map<String, Shape> s, String name, long out, long in, boolean bias) {
    s.put(name + ".weight", new Shape(out, in));
    if (bias) {
      s.put(name + ".bias", new Shape(out));
    }
  }

  /**
   * Maps a name found in a checkpoint to our name: exact, or with the base-model prefix added
   * (checkpoints of the bare base model omit it). Returns null for buffers HF stores but does not
   * train (GPT-2's causal {@code attn.bias}, NeoX's {@code rotary_emb.inv_freq}, ...) and for a
   * tied head saved alongside the embedding.
   */
  public String canonical(String fileName, Map<String, Shape> expected) {
    if (expected.containsKey(fileName)) {
      return fileName;
    }
    if (expected.containsKey(prefix + fileName)) {
      return prefix + fileName;
    }
    if (fileName.endsWith(".attn.bias")
        || fileName.endsWith(".attn.masked_bias")
        || fileName.endsWith("attention.bias")
        || fileName.endsWith("attention.masked_bias")
        || fileName.endsWith("rotary_emb.inv_freq")) {
      return null;
    }
    if ((c.tieWordEmbeddings() || headKind == Head.SCORE) && fileName.equals(head())) {
      return null; // a tied head duplicates the embedding; a reward model has no LM head
    }
    return fileName;
  }
}
