package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.runtime.FileTrees;
import ai.tilt.runtime.Torch;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run killed during its SFT warm-up continues the warm-up from its last complete checkpoint when
 * started again, and ends with the same weights as an uninterrupted warm-up; a warm-up of other
 * settings starts over. The kill is reproduced by deleting what a run killed after the warm-up's
 * step-18 checkpoint would not have written: the step-20 checkpoint and the finished init-model.
 */
class WarmUpResumeTest {
  static int threads;
  @TempDir Path tmp;

  @BeforeAll
  static void oneThread() {
    Torch.init();
    threads = JniUtils.getNumThreads();
    JniUtils.setNumThreads(1); // bitwise-reproducible kernels
  }

  @AfterAll
  static void restoreThreads() {
    JniUtils.setNumThreads(threads);
  }

  private static Recipe recipe(String... overrides) throws IOException {
    String yaml =
        "name: warm\nseed: 5\n"
            + "model: {init: {arch: llama, preset: tiny, sft: {data: recipes/data/sft-tiny.jsonl,"
            + " steps: 20, lr: 3.0e-3, max_length: 48}}}\n"
            + "data: {train: recipes/data/sft-tiny.jsonl, max_length: 48}\n"
            + "train: {max_steps: 1, batch_size: 8}\nloss: sft\n";
    return RecipeLoader.bind(
        (ObjectNode) new YAMLMapper().readTree(yaml), List.of(overrides), "warm recipe");
  }

  /** Prepares a fresh run (which writes init-model, warm-up included) and returns its console. */
  private static String prepare(Recipe r, Path dir) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (TrainingRun run = TrainingRun.prepare(r, "warm.yaml", dir, null, new PrintStream(out))) {
      return out.toString();
    }
  }

  private static byte[] warmedWeights(Path dir) throws IOException {
    return Files.readAllBytes(dir.resolve("init-model").resolve("model.safetensors"));
  }

  /**
   * The warm-up of a run in a child process, killed with SIGKILL once it has a checkpoint past its
   * first and before it ends, continues when the run is started again and ends with the
   * uninterrupted warm-up's weights.
   */
  @Test
  void aWarmUpKilledWithSigkillContinues() throws Exception {
    Recipe r = recipe("model.init.sft.steps=200");
    Path whole = tmp.resolve("sig-whole");
    prepare(r, whole);
    byte[] expected = warmedWeights(whole);
    Path file = Files.writeString(tmp.resolve("warm.yaml"), RecipeLoader.toYaml(r));
    Path dir = tmp.resolve("sig");
    List<String> flags = List.of("-Dtilt.threads=1");
    Process p =
        ai.tilt.runtime.ChildJvm.builder(
                flags, List.of("train", file.toString(), "--run-dir", dir.toString()))
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve("sig-first.log").toFile())
            .start();
    Path warm = dir.resolve("warmup-sft");
    long deadline = System.currentTimeMillis() + 240_000;
    while (p.isAlive()
        && System.currentTimeMillis() < deadline
        && !Files.isDirectory(warm.resolve("step-000060"))) {
      Thread.sleep(10);
    }
    assertTrue(
        p.isAlive(),
        "the warm-up ended before the kill: " + Files.readString(tmp.resolve("sig-first.log")));
    p.destroyForcibly(); // SIGKILL, in the middle of the warm-up
    p.waitFor();
    assertFalse(Files.exists(dir.resolve("init-model")), "killed before the warm-up ended");
    Process again =
        ai.tilt.runtime.ChildJvm.builder(
                flags, List.of("train", file.toString(), "--run-dir", dir.toString()))
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve("sig-again.log").toFile())
            .start();
    assertTrue(again.waitFor(240, java.util.concurrent.TimeUnit.SECONDS));
    String log = Files.readString(tmp.resolve("sig-again.log"));
    assertEquals(0, again.exitValue(), log);
    assertTrue(log.contains("warm-up: continuing from"), log);
    assertArrayEquals(expected, warmedWeights(dir), "the warm-up ends where the whole one did");
  }

  @Test
  void aKilledWarmUpContinuesWhereItsCheckpointLeftIt() throws IOException {
    Recipe r = recipe();
    Path whole = tmp.resolve("whole");
    prepare(r, whole);
    byte[] expected = warmedWeights(whole);

    Path killed = tmp.resolve("killed");
    prepare(r, killed);
    Path warm = killed.resolve("warmup-sft");
    // every 20 / 10 = 2 steps, the newest 2 kept
    assertTrue(
        Files.isDirectory(warm.resolve("step-000018")), "the warm-up checkpoints as it goes");
    FileTrees.deleteTree(warm.resolve("step-000020"));
    FileTrees.deleteTree(killed.resolve("init-model"));
    String console = prepare(r, killed);
    assertTrue(console.contains("warm-up: continuing from"), console);
    assertTrue(console.contains("step-000018"), console);
    assertArrayEquals(
        expected, warmedWeights(killed), "the resumed warm-up ends where the whole did");

    // a warm-up of other settings does not continue the old one
    FileTrees.deleteTree(warm.resolve("step-000020"));
    String other = prepare(recipe("model.init.sft.lr=1.0e-3"), killed);
    assertTrue(other.contains("not continuing") && other.contains("lr"), other);
    assertFalse(other.contains("warm-up: continuing"), other);
  }
}
