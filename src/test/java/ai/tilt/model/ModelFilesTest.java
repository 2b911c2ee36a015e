package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFilesTest {
  @TempDir Path tmp;

  static float[] logprobs(CausalLM m) {
    try (NDManager s = m.manager().newSubManager()) {
      long[] ids = {3, 17, 5, 9, 21, 2, 8, 30};
      NDArray x = s.create(ids, new Shape(1, ids.length));
      return m.tokenLogprobs(
              x, s.ones(new Shape(1, ids.length), ai.djl.ndarray.types.DataType.INT64), 1)
          .toFloatArray();
    }
  }

  @Test
  void shardedSaveLoadsBackIdentically() throws IOException {
    Path src = Fixtures.dir("hf-tiny/qwen2");
    try (CausalLM a = ModelFiles.load(src, Device.cpu())) {
      ModelFiles.save(a, tmp.resolve("sharded"), "F32", 40_000);
      try (Stream<Path> files = Files.list(tmp.resolve("sharded"))) {
        assertTrue(
            files.filter(p -> p.getFileName().toString().startsWith("model-000")).count() > 2);
      }
      try (CausalLM b = ModelFiles.load(tmp.resolve("sharded"), Device.cpu())) {
        assertArrayEquals(logprobs(a), logprobs(b));
      }
    }
  }

  @Test
  void bf16SaveRoundsWeightsOnly() throws IOException {
    try (CausalLM a = ModelFiles.load(Fixtures.dir("hf-tiny/llama_gqa"), Device.cpu())) {
      ModelFiles.save(a, tmp.resolve("bf16"), "BF16", Long.MAX_VALUE);
      try (CausalLM b = ModelFiles.load(tmp.resolve("bf16"), Device.cpu())) {
        float[] x = logprobs(a);
        float[] y = logprobs(b);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
          worst = Math.max(worst, Math.abs(x[i] - y[i]));
        }
        // bf16 keeps 8 mantissa bits: the log-probs move, but by far less than they differ by
        assertTrue(worst > 0 && worst < 0.05, "max |diff| " + worst);
      }
    }
  }

  @Test
  void randomInitIsSeeded() {
    ModelConfig c = Presets.config(ModelConfig.Family.GPT2, "tiny", 64, null, new long[0], null);
    try (CausalLM a = ModelFiles.random(c, 4, 0.02f, Device.cpu());
        CausalLM b = ModelFiles.random(c, 4, 0.02f, Device.cpu());
        CausalLM d = ModelFiles.random(c, 5, 0.02f, Device.cpu())) {
      assertArrayEquals(logprobs(a), logprobs(b));
      assertTrue(logprobs(a)[0] != logprobs(d)[0]);
      float[] emb = a.parameters().get("transformer.wte.weight").toFloatArray();
      double sq = 0;
      for (float f : emb) {
        sq += f * f;
      }
      assertEquals(0.02, Math.sqrt(sq / emb.length), 0.002); // N(0, 0.02)
    }
  }

  @Test
  void wrongShapeAndMissingTensorAreNamed() throws IOException {
    Path dir = tmp.resolve("bad");
    Files.createDirectories(dir);
    Path src = Fixtures.dir("hf-tiny/llama_gqa");
    Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
    String config =
        Files.readString(src.resolve("config.json"))
            .replace("\"intermediate_size\": 128", "\"intermediate_size\": 96");
    Files.writeString(dir.resolve("config.json"), config);
    Exception e =
        assertThrows(IllegalArgumentException.class, () -> ModelFiles.load(dir, Device.cpu()));
    assertTrue(e.getMessage().contains("mlp") && e.getMessage().contains("shape"), e.getMessage());
    String more =
        Files.readString(src.resolve("config.json"))
            .replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
    Files.writeString(dir.resolve("config.json"), more);
    Exception e2 =
        assertThrows(IllegalArgumentException.class, () -> ModelFiles.load(dir, Device.cpu()));
    assertTrue(e2.getMessage().contains("missing tensor 'model.layers.2."), e2.getMessage());
  }
}
