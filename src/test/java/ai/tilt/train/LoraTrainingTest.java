package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.cli.Main;
import ai.tilt.model.CausalLM;
import ai.tilt.model.LoraFiles;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.report.MetricsLog;
import ai.tilt.report.Plots;
import ai.tilt.runtime.Torch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training with LoRA end to end: DPO on the adapters of a frozen base whose reference is the base
 * itself, checkpoints as PEFT's adapter files, an exact resume, and a merged export that computes
 * the adapted model.
 */
class LoraTrainingTest {
  static int threads;
  @TempDir Path tmp;

  @BeforeAll
  static void oneThread() {
    Torch.init();
    threads = JniUtils.getNumThreads();
    JniUtils.setNumThreads(1); // bitwise-reproducible kernels for the resume comparison
  }

  @AfterAll
  static void restoreThreads() {
    JniUtils.setNumThreads(threads);
  }

  static String[] recipe(Path runDir, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "train",
                "recipes/dpo-offline.yaml",
                "--run-dir",
                runDir.toString(),
                "--set",
                "model.lora={rank: 4, target_modules: [q_proj, v_proj, down_proj]}",
                "--set",
                "train.max_steps=6",
                "--set",
                "train.batch_size=4",
                "--set",
                "train.micro_batch_size=2",
                "--set",
                "train.gradient_checkpointing=true",
                "--set",
                "train.logits_chunk_tokens=40",
                "--set",
                "checkpoint.every_steps=3",
                "--set",
                "checkpoint.keep_last=0",
                "--set",
                "data.eval=null"));
    args.addAll(List.of(more));
    return args.toArray(new String[0]);
  }

  static List<Double> losses(Path runDir) throws IOException {
    List<Double> out = new ArrayList<>();
    for (Plots.Row r : Plots.read(runDir.resolve(MetricsLog.METRICS_FILE)).rows()) {
      if (r.values().containsKey("train/loss")) {
        out.add(r.values().get("train/loss"));
      }
    }
    return out;
  }

  @Test
  void dpoOnAdaptersCheckpointsResumesAndExports() throws IOException {
    Path whole = tmp.resolve("whole");
    assertEquals(0, Main.commandLine().execute(recipe(whole)));
    List<Double> wholeLosses = losses(whole);
    assertEquals(6, wholeLosses.size());
    // the adapters start as the identity (B = 0) and the reference is the base itself: the first
    // step's DPO loss is exactly -log sigmoid(0)
    assertEquals(Math.log(2), wholeLosses.get(0), 1e-6);
    assertTrue(wholeLosses.get(5) < wholeLosses.get(0), "it learns: " + wholeLosses);
    Path ckpt = whole.resolve("step-000006");
    for (String f :
        List.of(
            LoraFiles.CONFIG,
            LoraFiles.WEIGHTS,
            "tokenizer.json",
            "optimizer.safetensors",
            "trainer_state.json")) {
      assertTrue(Files.exists(ckpt.resolve(f)), f);
    }
    assertFalse(Files.exists(ckpt.resolve("model.safetensors")), "no copy of the base's weights");
    assertFalse(Files.exists(ckpt.resolve("config.json")), "an adapter directory, not a model");
    assertEquals(
        whole.resolve("init-model").toAbsolutePath().normalize(),
        LoraFiles.baseOf(ckpt).toAbsolutePath().normalize());

    // stopped at step 3 and resumed: the same losses and the same adapters, bit for bit
    Path split = tmp.resolve("split");
    assertEquals(0, Main.commandLine().execute(recipe(split, "--set", "train.max_steps=3")));
    assertEquals(
        0, Main.commandLine().execute(recipe(split, "--resume", "--set", "train.max_steps=6")));
    assertEquals(wholeLosses, losses(split));
    try (ai.tilt.model.SafetensorsReader a =
            ai.tilt.model.Safetensors.open(ckpt.resolve(LoraFiles.WEIGHTS));
        ai.tilt.model.SafetensorsReader b =
            ai.tilt.model.Safetensors.open(
                split.resolve("step-000006").resolve(LoraFiles.WEIGHTS))) {
      assertEquals(a.tensors().keySet(), b.tensors().keySet());
      assertEquals(12, a.tensors().size(), "A and B of 3 modules in 2 layers");
      for (String k : a.tensors().keySet()) {
        assertArrayEquals(a.loadFloats(k), b.loadFloats(k), k);
      }
    }

    // merged into the base, the model computes what base + adapters compute
    Path merged = tmp.resolve("merged");
    assertEquals(
        0,
        Main.commandLine()
            .execute("export", ckpt.toString(), "--merge", "--out", merged.toString()));
    assertTrue(Files.exists(merged.resolve("tokenizer.json")));
    try (CausalLM adapted = LoraFiles.loadWithBase(ckpt, null, Device.cpu(), Precision.FP32);
        CausalLM plain = ModelFiles.load(merged, Device.cpu());
        NDManager s = NDManager.newBaseManager()) {
      NDArray ids = s.create(new long[] {1, 40, 41, 42, 43, 44, 45, 46}, new Shape(1, 8));
      NDArray mask = s.ones(ids.getShape(), DataType.INT64);
      float[] a = adapted.tokenLogprobs(ids, mask, 1).toFloatArray();
      float[] b = plain.tokenLogprobs(ids, mask, 1).toFloatArray();
      adapted.lora().setEnabled(false);
      float[] base = adapted.tokenLogprobs(ids, mask, 1).toFloatArray();
      double moved = 0;
      for (int i = 0; i < a.length; i++) {
        assertEquals(a[i], b[i], 1e-5, "token " + i);
        moved = Math.max(moved, Math.abs(a[i] - base[i]));
      }
      assertTrue(moved > 1e-3, "the adapters changed the model: " + moved);
    }
    // and the verbs take the checkpoint directly
    assertEquals(
        0,
        Main.commandLine()
            .execute(
                "generate",
                "--model",
                ckpt.toString(),
                "--prompt",
                "Count from 41:",
                "--max-new-tokens",
                "4",
                "--greedy"));
  }

  @Test
  void loraRecipeErrorsNameTheKey() throws IOException {
    Path run = tmp.resolve("bad");
    Map<String, String> cases =
        Map.of(
            "model.lora={rank: 4, target_modules: [q_projection]}",
            "model.lora.target_modules: no module named 'q_projection'",
            "model.lora={rank: 0}",
            "model.lora.rank must be >= 1",
            "model.lora={rank: 4, dropout: 1.5}",
            "model.lora.dropout must be in [0, 1)");
    for (Map.Entry<String, String> c : cases.entrySet()) {
      Recipe r =
          RecipeLoader.load(
              Path.of("recipes/dpo-offline.yaml"), List.of("train.max_steps=1", "data.eval=null"));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> {
                Recipe bad =
                    RecipeLoader.load(
                        Path.of("recipes/dpo-offline.yaml"),
                        List.of(c.getKey(), "train.max_steps=1"));
                TrainingRun.prepare(
                        bad,
                        "x",
                        run,
                        null,
                        new java.io.PrintStream(new java.io.ByteArrayOutputStream()))
                    .close();
              });
      assertTrue(e.getMessage().contains(c.getValue()), e.getMessage());
      assertTrue(r.model().lora() == null);
    }
  }
}
