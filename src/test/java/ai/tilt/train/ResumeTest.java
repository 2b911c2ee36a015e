package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.runtime.Torch;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
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
 * N steps in one go equal k steps, a stop (as on SIGTERM), a resume and N - k more: the same
 * per-step losses and bitwise-identical final weights. Runs libtorch on one intra-op thread,
 * because CPU kernels are not bit-reproducible under thread contention (djl.md section 7).
 */
class ResumeTest {
  static final String YAML =
      String.join(
          "\n",
          "name: resume-test",
          "seed: 3",
          "model: {init: {arch: qwen2, preset: tiny}}",
          "data: {train: recipes/data/sft-tiny.jsonl, eval: recipes/data/sft-tiny-eval.jsonl, max_length: 48}",
          "train: {max_steps: 9, batch_size: 8, micro_batch_size: 4, lr: 3.0e-3, warmup_steps: 2, weight_decay: 0.01}",
          "checkpoint: {every_steps: 3, keep_last: 2}",
          "log: {every: 100}",
          "eval: {every_steps: 4}",
          "");
  static int threads;
  @TempDir Path tmp;

  @BeforeAll
  static void oneThread() {
    Torch.init();
    threads = JniUtils.getNumThreads();
    JniUtils.setNumThreads(1);
  }

  @AfterAll
  static void restoreThreads() {
    JniUtils.setNumThreads(threads);
  }

  static Recipe recipe(String... overrides) throws IOException {
    ObjectNode tree = (ObjectNode) new YAMLMapper().readTree(YAML);
    return RecipeLoader.bind(tree, List.of(overrides), "test recipe");
  }

  record Outcome(int code, List<Double> losses, Map<String, float[]> weights) {}

  static Outcome train(Recipe r, Path runDir, Path checkpoint, long stopAt) throws IOException {
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
    try (TrainingRun run = TrainingRun.prepare(r, "test", runDir, checkpoint, quiet)) {
      Trainer t = new Trainer(run);
      List<Double> losses = StepLosses.follow(t);
      if (stopAt > 0) {
        t.requestStopAt(stopAt);
      }
      int code = t.train(quiet);
      return new Outcome(code, losses, run.policy().weights());
    }
  }

  @Test
  void stopAndResumeContinuesExactly() throws IOException {
    // 20 examples and 8 per step: the 9 steps cross three epochs, and the stop falls inside one
    List<String> lines = Files.readAllLines(Path.of("recipes/data/sft-tiny.jsonl")).subList(0, 20);
    Path small = Files.write(tmp.resolve("small.jsonl"), lines);
    Recipe r = recipe("data.train=" + small);
    Outcome whole = train(r, tmp.resolve("whole"), null, 0);
    assertEquals(0, whole.code());
    assertEquals(9, whole.losses().size());
    assertTrue(whole.losses().get(8) < whole.losses().get(0), "the loss falls: " + whole.losses());

    Path split = tmp.resolve("split");
    Outcome first = train(r, split, null, 5); // stops after step 5, between checkpoints 3 and 6
    assertEquals(Trainer.EXIT_STOPPED, first.code());
    assertEquals(5, first.losses().size());
    Path latest = Checkpoints.findLatest(split, new ArrayList<>());
    assertEquals("step-000005", latest.getFileName().toString());
    Outcome rest = train(r, split, latest, 0);
    assertEquals(0, rest.code());
    List<Double> joined = new ArrayList<>(first.losses());
    joined.addAll(rest.losses());
    assertEquals(whole.losses(), joined);
    for (Map.Entry<String, float[]> e : whole.weights().entrySet()) {
      assertArrayEquals(e.getValue(), rest.weights().get(e.getKey()), e.getKey());
    }
    // metrics.jsonl of the split run holds each step once, with the uninterrupted run's values
    List<String> a = steps(tmp.resolve("whole"));
    List<String> b = steps(split);
    assertEquals(a, b);
    // keep_last 2 leaves the two newest complete checkpoints
    assertEquals(
        List.of("step-000009", "step-000006"),
        Checkpoints.stepDirs(split).stream().map(p -> p.getFileName().toString()).toList());
  }

  /** The step lines of metrics.jsonl without the timing fields, which differ run to run. */
  static List<String> steps(Path runDir) throws IOException {
    List<String> out = new ArrayList<>();
    for (String line : Files.readAllLines(runDir.resolve("metrics.jsonl"))) {
      out.add(line.replaceAll(",\"(perf|timing)/[a-z_]+\":[^,}]+", ""));
    }
    return out;
  }

  @Test
  void onlyTheSelectedWeightsTrain() throws IOException {
    Recipe r =
        recipe(
            "train.max_steps=2", "model.trainable=['layers\\.1\\.mlp', '^model[.]norm[.]weight$']");
    Path dir = tmp.resolve("subset");
    Map<String, float[]> before;
    try (TrainingRun run =
        TrainingRun.prepare(r, "test", dir, null, new PrintStream(new ByteArrayOutputStream()))) {
      assertEquals(
          List.of(
              "model.layers.1.mlp.gate_proj.weight",
              "model.layers.1.mlp.up_proj.weight",
              "model.layers.1.mlp.down_proj.weight",
              "model.norm.weight"),
          new ArrayList<>(run.policy().trainable().keySet()));
      Trainer t = new Trainer(run);
      before = run.policy().weights();
      t.train(new PrintStream(new ByteArrayOutputStream()));
      Map<String, float[]> after = run.policy().weights();
      for (String k : before.keySet()) {
        boolean changed = !java.util.Arrays.equals(before.get(k), after.get(k));
        assertEquals(run.policy().trainable().containsKey(k), changed, k);
      }
    }
    String msg =
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    train(
                        recipe("model.trainable=['nothing_matches']"),
                        tmp.resolve("none"),
                        null,
                        0))
            .getMessage();
    assertTrue(msg.contains("nothing_matches"), msg);
  }

  @Test
  void incompleteCheckpointIsSkippedAndImmutableChangesRefused() throws IOException {
    Recipe r = recipe("train.max_steps=3");
    Path dir = tmp.resolve("run");
    assertEquals(0, train(r, dir, null, 0).code());
    // a later save that died half way: its directory exists but has no marker
    Path broken = dir.resolve("step-000004");
    Files.createDirectories(broken);
    Files.writeString(broken.resolve("model.safetensors"), "partial");
    Files.writeString(dir.resolve(Checkpoints.LATEST), "step-000004\n");
    List<String> skipped = new ArrayList<>();
    Path found = Checkpoints.findLatest(dir, skipped);
    assertEquals("step-000003", found.getFileName().toString());
    assertTrue(
        skipped.get(0).startsWith("step-000004") && skipped.get(0).contains("complete.json"),
        skipped.toString());
    // a truncated file inside an otherwise complete checkpoint is caught by the marker's sizes
    Path opt = found.resolve("optimizer.safetensors");
    Files.write(opt, java.util.Arrays.copyOf(Files.readAllBytes(opt), 100));
    assertTrue(Checkpoints.incompleteReason(found).contains("optimizer.safetensors"));
    assertThrows(IllegalArgumentException.class, () -> train(r, dir, found, 0));

    Path dir2 = tmp.resolve("run2");
    train(r, dir2, null, 0);
    Path ckpt = Checkpoints.findLatest(dir2, new ArrayList<>());
    assertNotNull(ckpt);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                train(
                    recipe("train.max_steps=3", "train.batch_size=4", "train.micro_batch_size=4"),
                    dir2,
                    ckpt,
                    0));
    assertTrue(e.getMessage().contains("train.batch_size: 8 -> 4"), e.getMessage());
    // max_steps may change: training continues from step 3 to 5
    Outcome more = train(recipe("train.max_steps=5"), dir2, ckpt, 0);
    assertEquals(2, more.losses().size());
  }
}
