package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.runtime.Torch;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * LoRA against PEFT itself: adapters that PEFT 0.21 wrote (fixtures/peft, made by
 * scripts/make_peft_fixture.py) compute what PEFT computed with them on, off and merged; what Tilt
 * writes reads back the same; bad adapters are named.
 */
class LoraTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  record Line(long[] prompt, long[] completion, JsonNode expected) {}

  static List<Line> lines(Path adapter) throws IOException {
    String base = JSON.readTree(adapter.resolve("fixture.json").toFile()).get("base").asText();
    List<String> in = Files.readAllLines(Fixtures.dir(base).resolve("input.jsonl"));
    List<String> ex = Files.readAllLines(adapter.resolve("expected.jsonl"));
    List<Line> out = new ArrayList<>();
    for (int i = 0; i < in.size(); i++) {
      JsonNode a = JSON.readTree(in.get(i));
      out.add(
          new Line(
              HfParityTest.longs(a.get("prompt_ids")),
              HfParityTest.longs(a.get("completion_ids")),
              JSON.readTree(ex.get(i))));
    }
    return out;
  }

  /** The completion's log-probs, one sequence at a time. */
  static float[] logps(CausalLM m, long[] prompt, long[] completion) {
    try (NDManager s = m.manager().newSubManager()) {
      long[] ids = new long[prompt.length + completion.length];
      System.arraycopy(prompt, 0, ids, 0, prompt.length);
      System.arraycopy(completion, 0, ids, prompt.length, completion.length);
      NDArray idArr = s.create(ids, new Shape(1, ids.length));
      NDArray mask = s.ones(idArr.getShape(), ai.djl.ndarray.types.DataType.INT64);
      return m.tokenLogprobs(idArr, mask, prompt.length).toFloatArray();
    }
  }

  static void matches(CausalLM m, List<Line> lines, String key, String what) {
    for (int i = 0; i < lines.size(); i++) {
      Line l = lines.get(i);
      float[] got = logps(m, l.prompt, l.completion);
      JsonNode want = l.expected.get(key);
      assertEquals(want.size(), got.length, what + " line " + i);
      for (int t = 0; t < got.length; t++) {
        assertEquals(want.get(t).asDouble(), got[t], 1e-4, what + " line " + i + " token " + t);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama_qv", "llama_all_rslora", "gpt2_all", "neox_qkv"})
  void peftAdaptersComputeWhatPeftComputed(String name) throws IOException {
    Path adapter = Fixtures.dir("peft/" + name);
    List<Line> lines = lines(adapter);
    // the adapter directory alone: its base_model_name_or_path is found and loaded under it
    try (CausalLM m = LoraFiles.loadWithBase(adapter, null, Device.cpu(), Precision.FP32)) {
      assertTrue(m.lora() != null && !m.lora().modules().isEmpty());
      matches(m, lines, "adapted", name + " adapted");
      m.lora().setEnabled(false);
      matches(m, lines, "base", name + " disabled");
      m.lora().setEnabled(true);
      // written by Tilt, read back: the same function
      Path again = tmp.resolve(name);
      LoraFiles.save(m, again, LoraFiles.baseOf(adapter).toAbsolutePath().toString());
      try (CausalLM m2 = LoraFiles.loadWithBase(again, null, Device.cpu(), Precision.FP32)) {
        matches(m2, lines, "adapted", name + " saved by Tilt");
      }
    }
    Path merged = tmp.resolve(name + "-merged");
    LoraFiles.exportMerged(adapter, null, merged, Long.MAX_VALUE);
    assertTrue(
        !Files.exists(merged.resolve(LoraFiles.CONFIG))
            && Files.exists(merged.resolve("config.json")));
    try (CausalLM m = ModelFiles.load(merged, Device.cpu())) {
      assertEquals(null, m.lora(), "a merged model is a plain model");
      matches(m, lines, "merged", name + " merged");
    }
  }

  @Test
  void tiltsAdapterConfigIsPeftsAndNamesItsModules() throws IOException {
    Path adapter = Fixtures.dir("peft/gpt2_all");
    try (CausalLM m = LoraFiles.loadWithBase(adapter, null, Device.cpu(), Precision.FP32)) {
      Path out = tmp.resolve("saved");
      LoraFiles.save(m, out, "/some/base");
      JsonNode c = JSON.readTree(out.resolve(LoraFiles.CONFIG).toFile());
      JsonNode peft = JSON.readTree(adapter.resolve(LoraFiles.CONFIG).toFile());
      for (String k :
          List.of("peft_type", "task_type", "r", "lora_alpha", "fan_in_fan_out", "bias")) {
        assertEquals(peft.get(k).asText(), c.get(k).asText(), k);
      }
      assertEquals("/some/base", c.get("base_model_name_or_path").asText());
      assertEquals(8, c.get("target_modules").size()); // all-linear: the 8 modules PEFT named too
      try (SafetensorsReader r = Safetensors.open(out.resolve(LoraFiles.WEIGHTS));
          SafetensorsReader p = Safetensors.open(adapter.resolve(LoraFiles.WEIGHTS))) {
        assertEquals(p.tensors().keySet(), r.tensors().keySet());
        for (String k : p.tensors().keySet()) {
          assertArrayEquals(p.info(k).shape(), r.info(k).shape(), k);
        }
      }
    }
  }

  @Test
  void anAdapterOnAnotherBaseIsRefusedNamingBoth() throws IOException {
    Path adapter = Fixtures.dir("peft/llama_qv");
    Path other = tmp.resolve("wider");
    ModelConfig c = Presets.config(ModelConfig.Family.LLAMA, "tiny", 384, null, new long[0], null);
    try (CausalLM m = ModelFiles.random(c, 1, 0.02f, Device.cpu())) {
      ModelFiles.save(m, other, "F32", Long.MAX_VALUE);
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> LoraFiles.loadWithBase(other, adapter, Device.cpu(), Precision.FP32).close());
    String msg = e.getMessage();
    assertTrue(msg.contains(adapter.toString()) && msg.contains(other.toString()), msg);
    assertTrue(msg.contains("lora_A (4, 64)") || msg.contains("lora_A"), msg);
    // and a GPT-2 adapter on a Llama: modules it does not have
    IllegalArgumentException e2 =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                LoraFiles.loadWithBase(
                        other, Fixtures.dir("peft/gpt2_all"), Device.cpu(), Precision.FP32)
                    .close());
    assertTrue(e2.getMessage().contains("transformer.h.0.attn.c_attn"), e2.getMessage());
  }

  @Test
  void unknownTargetModulesAreNamedWithWhatTheModelHas() throws IOException {
    try (CausalLM m = ModelFiles.load(Fixtures.dir("hf-tiny/llama_gqa"), Device.cpu())) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> Lora.create(m, new Lora.Spec(4, 8, 0, List.of("q_proj", "qq_proj"), false), 0));
      assertTrue(
          e.getMessage().startsWith("model.lora.target_modules: no module named 'qq_proj'")
              && e.getMessage().contains("mlp.gate_proj, mlp.up_proj")
              && e.getMessage().contains("self_attn.q_proj"),
          e.getMessage());
      Lora q = Lora.create(m, new Lora.Spec(4, 8, 0, List.of("q_proj"), false), 0);
      assertEquals(
          List.of("model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj"),
          q.modules());
      // PEFT's init: B = 0, so the adapted model starts as the base; A ~ U(-1/sqrt(64), 1/sqrt(64))
      Map<String, NDArray> p = q.parameters();
      float[] a =
          p.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").toFloatArray();
      float max = 0;
      for (float v : a) {
        max = Math.max(max, Math.abs(v));
      }
      assertTrue(max <= 0.125f && max > 0.1f, "kaiming-uniform bound 1/8: " + max);
      assertEquals(
          0f,
          p.get("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")
              .abs()
              .sum()
              .getFloat());
      q.close();
    }
  }
}
