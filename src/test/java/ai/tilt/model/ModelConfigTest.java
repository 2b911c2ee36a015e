package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigTest {
  static final ObjectMapper JSON = new ObjectMapper();

  static ObjectNode llama() {
    ObjectNode n = JSON.createObjectNode();
    n.put("model_type", "llama")
        .put("vocab_size", 100)
        .put("hidden_size", 32)
        .put("intermediate_size", 64)
        .put("num_hidden_layers", 2)
        .put("num_attention_heads", 4);
    return n;
  }

  static String error(ObjectNode json) {
    return assertThrows(IllegalArgumentException.class, () -> HfConfigReader.read(json))
        .getMessage();
  }

  @Test
  void defaultsFollowTransformers() {
    ModelConfig c = HfConfigReader.read(llama());
    assertEquals(4, c.numKvHeads()); // num_key_value_heads defaults to num_attention_heads
    assertEquals(8, c.headDim()); // hidden_size / heads
    assertEquals(8, c.rope().rotaryDim());
    assertEquals(10000.0, c.rope().theta());
    assertNull(c.rope().scaling());
    assertEquals(ModelConfig.Activation.SILU, c.activation());
  }

  @Test
  void rejectsUnknownModelTypeNamingIt() {
    assertTrue(error(llama().put("model_type", "mamba")).contains("'mamba'"));
  }

  @Test
  void rejectsUnsupportedKeyNamingIt() {
    String msg = error(llama().put("use_qk_layernorm", true));
    assertTrue(msg.contains("use_qk_layernorm"), msg);
  }

  @Test
  void rejectsNonDefaultValueOfKnownKey() {
    String msg = error(llama().put("pretraining_tp", 2));
    assertTrue(msg.contains("pretraining_tp") && msg.contains("2"), msg);
    ObjectNode qwen = llama().put("model_type", "qwen2").put("use_sliding_window", true);
    assertTrue(error(qwen).contains("use_sliding_window"));
  }

  @Test
  void rejectsMissingAndMistypedKeys() {
    ObjectNode n = llama();
    n.remove("hidden_size");
    assertTrue(error(n).contains("'hidden_size'"));
    assertTrue(error(llama().put("num_hidden_layers", "two")).contains("num_hidden_layers"));
    assertTrue(error(llama().put("hidden_act", "swiglu_xl")).contains("swiglu_xl"));
    assertTrue(error(llama().put("num_key_value_heads", 3)).contains("not a multiple"));
  }

  @Test
  void readsRopeScalingInBothFormats() {
    ObjectNode v4 = llama();
    v4.putObject("rope_scaling")
        .put("rope_type", "llama3")
        .put("factor", 8.0)
        .put("low_freq_factor", 1.0)
        .put("high_freq_factor", 4.0)
        .put("original_max_position_embeddings", 8192);
    assertEquals("llama3", HfConfigReader.read(v4).rope().scaling().type());
    ObjectNode v5 = llama();
    v5.putObject("rope_parameters").put("rope_type", "default").put("rope_theta", 500000.0);
    assertEquals(500000.0, HfConfigReader.read(v5).rope().theta());
    ObjectNode yarn = llama();
    yarn.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0);
    assertTrue(error(yarn).contains("yarn"));
  }

  @Test
  void neoxRotaryPercentAndGpt2Conv1d() {
    ObjectNode neox = JSON.createObjectNode();
    neox.put("model_type", "gpt_neox")
        .put("vocab_size", 50)
        .put("hidden_size", 64)
        .put("num_hidden_layers", 1)
        .put("num_attention_heads", 4)
        .put("rotary_pct", 0.25);
    ModelConfig c = HfConfigReader.read(neox);
    assertEquals(4, c.rope().rotaryDim()); // 25% of head_dim 16
    assertTrue(c.parallelResidual());
    ObjectNode gpt2 = JSON.createObjectNode();
    gpt2.put("model_type", "gpt2")
        .put("vocab_size", 50)
        .put("n_embd", 32)
        .put("n_layer", 1)
        .put("n_head", 2)
        .put("scale_attn_by_inverse_layer_idx", true);
    assertTrue(error(gpt2).contains("scale_attn_by_inverse_layer_idx"));
  }

  @Test
  void fileErrorsNameTheFile(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\",");
    IOException e = assertThrows(IOException.class, () -> ModelConfig.load(dir));
    assertTrue(e.getMessage().contains("config.json"), e.getMessage());
    Files.writeString(dir.resolve("config.json"), llama().put("foo_bar", 3).toString());
    IllegalArgumentException e2 =
        assertThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir));
    assertTrue(e2.getMessage().contains("config.json") && e2.getMessage().contains("foo_bar"));
  }

  /** A truncated config.json is named with the line and column where it breaks. */
  @Test
  void malformedConfigNamesFileLineAndColumn(@TempDir Path dir) throws IOException {
    Files.writeString(
        dir.resolve("config.json"), "{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 64,\n");
    IOException e = assertThrows(IOException.class, () -> ModelConfig.load(dir));
    String msg = e.getMessage();
    assertTrue(msg.startsWith(dir.resolve("config.json") + ":4:1: not valid JSON"), msg);
    assertTrue(msg.contains("end-of-input"), msg);
    assertTrue(!msg.contains("REDACTED") && !msg.contains("[Source"), msg);
    // loading a model reads the same file first, for its head: the same message
    IOException load =
        assertThrows(IOException.class, () -> ModelFiles.load(dir, ai.djl.Device.cpu()));
    assertEquals(msg, load.getMessage());
    Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\"} trailing");
    msg = assertThrows(IOException.class, () -> ModelConfig.load(dir)).getMessage();
    assertTrue(msg.contains("config.json:1:"), msg);
  }
}
