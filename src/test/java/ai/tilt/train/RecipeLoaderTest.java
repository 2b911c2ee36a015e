package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.loss.Sft;
import ai.tilt.sampling.GeneratorSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipeLoaderTest {
  @TempDir Path tmp;

  Path write(String yaml) throws IOException {
    return Files.writeString(tmp.resolve("r.yaml"), yaml);
  }

  static String error(Path file, String... overrides) {
    return assertThrows(
            IllegalArgumentException.class, () -> RecipeLoader.load(file, List.of(overrides)))
        .getMessage();
  }

  @Test
  void unknownKeysAreNamedWithTheirPath() throws IOException {
    Path f = write("train:\n  lr: 1.0e-4\n  lr_sched: cosine\n");
    String msg = error(f);
    assertTrue(
        msg.contains("r.yaml") && msg.contains("'train.lr_sched'") && msg.contains("schedule"),
        msg);
    assertTrue(error(write("modle: {path: x}\n")).contains("'modle'"));
    assertTrue(
        error(write("model: {init: {arch: llama, size: tiny}}\n")).contains("'model.init.size'"));
  }

  @Test
  void serverGeneratorKeysAreCheckedByName() throws IOException {
    String msg =
        error(
            write(
                "online: {reward: min_length, generator: {type: server, url: 'http://h:1', model: p, max_concurency: 4}}\n"));
    assertTrue(msg.contains("'online.generator.max_concurency'"), msg);
    msg = error(write("online: {reward: min_length, generator: {type: server, model: p}}\n"));
    assertTrue(msg.contains("online.generator.url is required"), msg);
    msg =
        error(
            write(
                "online: {reward: min_length, generator: {type: server, url: 'http://h:1', model:"
                    + " p, importance_sampling_cap: 0.5}}\n"));
    assertTrue(msg.contains("online.generator.importance_sampling_cap"), msg);
    Recipe r =
        RecipeLoader.load(
            write(
                "online: {reward: min_length, generator: {type: server, url: 'http://h:1', model:"
                    + " p, update: lora_adapter}}\n"),
            List.of());
    GeneratorSpec.Server server = (GeneratorSpec.Server) r.online().generator();
    assertEquals("/v1/load_lora_adapter", server.updatePath());
    assertEquals(2.0, server.importanceSamplingCap());
    assertEquals(
        new GeneratorSpec.InProcess(),
        RecipeLoader.load(write("online: {reward: min_length}\n"), List.of()).online().generator());
  }

  /** Keys whose meaning changed fail naming the key to use; a checkpoint's recipe is migrated. */
  @Test
  void renamedKeysAreNamedAndSavedRecipesMigrated() throws IOException {
    String msg = error(write("checkpoint: {every: 10}\n"));
    assertTrue(
        msg.contains("'checkpoint.every' was renamed: use checkpoint.every_steps")
            && msg.contains("optimizer steps"),
        msg);
    assertTrue(error(write("log: {eval_every: 5}\n")).contains("use eval.every_steps"));
    msg = error(write("name: x\n"), "online.eval_every=3");
    assertTrue(msg.contains("'online.eval_every' was renamed: use eval.every_steps"), msg);
    Recipe ok = RecipeLoader.load(write("checkpoint: {every_steps: 10}\n"), List.of());
    assertEquals(10L, ok.checkpoint().everySteps());
    // what an earlier version wrote into a checkpoint still resumes
    Path saved = write("checkpoint: {every: 7, keep_last: 3}\nlog: {every: 5, eval_every: 20}\n");
    Recipe migrated = RecipeLoader.loadSaved(saved);
    assertEquals(7L, migrated.checkpoint().everySteps());
    assertEquals(3, migrated.checkpoint().keepLast());
    assertEquals(5, migrated.log().every());
  }

  @Test
  void onPolicyRunsRefuseStepCountsOfDatasetTraining() throws IOException {
    Recipe r =
        RecipeLoader.load(
            write(
                "model: {init: {arch: llama}}\ndata: {train: p.jsonl}\nloss: dpo\n"
                    + "train: {max_steps: 10}\nonline: {reward: min_length}\n"),
            List.of());
    String msg = assertThrows(IllegalArgumentException.class, r::validate).getMessage();
    assertTrue(msg.contains("train.max_steps") && msg.contains("online.iterations"), msg);
  }

  @Test
  void wrongTypesAndUnknownChoicesAreNamed() throws IOException {
    assertTrue(error(write("train: {lr: fast}\n")).contains("'train.lr'"));
    String msg = error(write("train: {schedule: cosin}\n"));
    assertTrue(msg.contains("'train.schedule'") && msg.contains("cosine"), msg);
    assertTrue(error(write("loss: dpoo\n")).contains("'dpoo'"));
    assertTrue(error(write("- a\n- b\n")).contains("mapping"));
  }

  @Test
  void overridesApplyBeforeBinding() throws IOException {
    Path f = write("name: x\nloss: sft\ntrain: {lr: 1.0e-4, batch_size: 8}\n");
    Recipe r =
        RecipeLoader.load(
            f, List.of("train.lr=3e-3", "train.micro_batch_size=2", "data.train=a.jsonl"));
    assertEquals(3e-3, r.train().lr());
    assertEquals(8, r.train().batchSize());
    assertEquals(2, r.train().microBatchSize());
    assertEquals("a.jsonl", r.data().train());
    assertTrue(r.loss() instanceof Sft);
    assertTrue(error(f, "train.bogus=1").contains("'train.bogus'"));
    assertTrue(error(f, "novalue").contains("key.path=value"));
  }

  @Test
  void defaultsFillInAndTheResolvedRecipeRoundTrips() throws IOException {
    Recipe r = RecipeLoader.load(write("train: {batch_size: 12}\n"), List.of());
    assertEquals(12, r.train().microBatchSize()); // defaults to batch_size: no accumulation
    assertEquals(ai.tilt.loss.Aggregation.PER_TOKEN, r.train().lossNormalization());
    assertEquals(LrSchedule.Kind.COSINE, r.train().schedule());
    Path resolved = Files.writeString(tmp.resolve("resolved.yaml"), RecipeLoader.toYaml(r));
    Recipe again = RecipeLoader.load(resolved, List.of());
    assertEquals(RecipeLoader.flatten(r), RecipeLoader.flatten(again));
    assertTrue(RecipeLoader.toYaml(r).contains("loss_normalization: per_token"));
    assertTrue(RecipeHelp.explain(r).contains("train.micro_batch_size:"));
  }

  @Test
  void diffSeparatesWhatMayChangeOnResume() throws IOException {
    Path f = write("train: {max_steps: 10, lr: 1.0e-3}\n");
    Recipe a = RecipeLoader.load(f, List.of());
    Recipe b =
        RecipeLoader.load(
            f,
            List.of(
                "train.max_steps=20",
                "log.every=5",
                "train.lr=2e-3",
                "seed=9",
                "train.batch_size=4",
                "train.micro_batch_size=4"));
    RecipeLoader.Diff d = RecipeLoader.diff(a, b);
    // the learning rate may change (a user's fix after a divergence); the data order and batch may
    // not
    assertEquals(
        List.of("log.every: 10 -> 5", "train.lr: 0.001 -> 0.002", "train.max_steps: 10 -> 20"),
        d.allowed());
    assertEquals(
        List.of("seed: 0 -> 9", "train.batch_size: 16 -> 4", "train.micro_batch_size: 16 -> 4"),
        d.refused());
  }

  /** Every shipped recipe reads, validates, and names data files that exist. */
  @Test
  void everyShippedRecipeLoads() throws IOException {
    List<Path> recipes;
    try (Stream<Path> s = Files.walk(Path.of("recipes"))) {
      recipes =
          s.filter(
                  p ->
                      p.toString().endsWith(".yaml")
                          && !p.startsWith(Path.of("recipes", "data"))
                          && !p.equals(Path.of("recipes", "paper", "lab.yaml")))
              .toList();
    }
    assertTrue(!recipes.isEmpty());
    for (Path p : recipes) {
      Recipe r = RecipeLoader.load(p, List.of());
      r.validate();
      if (p.startsWith(Path.of("recipes", "paper"))) {
        continue; // the paper lab's recipes get their data and models from the lab's steps
        // (LabJobsTest)
      }
      assertTrue(Files.exists(Path.of(r.data().train())), p + ": " + r.data().train());
      if (r.data().eval() != null) {
        assertTrue(Files.exists(Path.of(r.data().eval())), p + ": " + r.data().eval());
      }
    }
  }
}
