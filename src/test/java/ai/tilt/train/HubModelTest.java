package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.cli.Main;
import ai.tilt.model.JsonFiles;
import ai.tilt.model.LoraFiles;
import ai.tilt.reward.ModelReward;
import ai.tilt.reward.RewardContext;
import ai.tilt.runtime.FileTrees;
import ai.tilt.runtime.HubCache;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A model named as on the hub ({@code org/name}) trains from the HuggingFace cache, offline: the
 * recipe's model.path and model.revision, the verbs' --model, and a LoRA checkpoint's base.
 */
class HubModelTest {
  private static final String MAIN = "1".repeat(40);
  private static final String OLD = "2".repeat(40);

  @TempDir Path tmp;

  /** `hf download`'s layout: refs/main and refs/v0 naming two snapshots of the same repo. */
  private Path fillCache(Path model) throws IOException {
    Path repo = tmp.resolve("hub/models--tilt-test--tiny");
    for (String commit : List.of(MAIN, OLD)) {
      Path snap = Files.createDirectories(repo.resolve("snapshots").resolve(commit));
      try (Stream<Path> files = Files.list(model)) {
        for (Path f : files.toList()) {
          Files.copy(f, snap.resolve(f.getFileName()));
        }
      }
    }
    Files.createDirectories(repo.resolve("refs"));
    Files.writeString(repo.resolve("refs/main"), MAIN);
    Files.writeString(repo.resolve("refs/v0"), OLD);
    // v0's config is broken: a run that loaded it would fail, so a passing run loaded main
    Files.writeString(repo.resolve("snapshots").resolve(OLD).resolve("config.json"), "{");
    return tmp.resolve("hub");
  }

  @Test
  void aRecipeAndTheVerbsNameAModelInTheHubCache() throws IOException {
    Path first = tmp.resolve("first");
    String[] quick = {
      "--set", "train.max_steps=2", "--set", "data.eval=null", "--set", "log.plots=false"
    };
    assertEquals(
        0,
        run(
            cat(
                new String[] {"train", "recipes/dpo-offline.yaml", "--run-dir", first.toString()},
                quick)));
    Path cache = fillCache(first.resolve("init-model"));
    System.setProperty(HubCache.CACHE_PROPERTY, cache.toString());
    try {
      Path lora = tmp.resolve("lora");
      String[] hub = {
        "--set", "model.init=null",
        "--set", "model.path=tilt-test/tiny",
        "--set", "model.lora={rank: 4}",
        "--set", "checkpoint.every_steps=2",
      };
      String[] train = {"train", "recipes/dpo-offline.yaml", "--run-dir"};
      assertEquals(0, run(cat(train, new String[] {lora.toString()}, quick, hub)));
      Path ckpt = lora.resolve("step-000002");
      // the adapters name their base as PEFT does after from_pretrained("tilt-test/tiny")
      assertEquals(
          "tilt-test/tiny",
          JsonFiles.read(ckpt.resolve(LoraFiles.CONFIG)).path("base_model_name_or_path").asText());
      assertEquals(
          cache.resolve("models--tilt-test--tiny/snapshots").resolve(MAIN), LoraFiles.baseOf(ckpt));
      // the broken v0 snapshot is what model.revision: v0 loads, and its error names the file
      String err =
          runErr(
              cat(
                  train,
                  new String[] {tmp.resolve("v0").toString(), "--set", "model.revision=v0"},
                  quick,
                  hub));
      assertTrue(err.contains(OLD) && err.contains("config.json"), err);
      // the verbs: --model by name (and --revision), and a miss naming the cache it searched
      assertEquals(
          0,
          run(
              "generate",
              "--model",
              "tilt-test/tiny",
              "--prompt",
              "Count from 41:",
              "--max-new-tokens",
              "3",
              "--greedy"));
      assertNotEquals(
          0,
          run(
              "generate",
              "--model",
              "tilt-test/tiny",
              "--revision",
              "v0",
              "--prompt",
              "x",
              "--max-new-tokens",
              "1"));
      String miss =
          runErr("tokenize", "--model", "tilt-test/absent", "--input", "in.jsonl", "--output", "o");
      assertTrue(miss.contains(cache.resolve("models--tilt-test--absent").toString()), miss);
      assertTrue(miss.contains("hf download tilt-test/absent --revision main"), miss);
      String serveMiss = runErr("serve", "tilt-test/absent", "--port", "0");
      assertTrue(
          serveMiss.contains(cache.resolve("models--tilt-test--absent").toString()), serveMiss);
      // a reward model by name: found, and judged by its config (this one is a causal LM)
      IllegalArgumentException notReward =
          assertThrows(
              IllegalArgumentException.class,
              () -> new ModelReward("tilt-test/tiny", null).create(RewardContext.empty()));
      assertTrue(notReward.getMessage().contains(MAIN + " is a causal LM"), notReward.getMessage());
    } finally {
      System.clearProperty(HubCache.CACHE_PROPERTY);
      FileTrees.deleteTree(cache);
    }
  }

  private static String[] cat(String[]... parts) {
    return Stream.of(parts).flatMap(Stream::of).toArray(String[]::new);
  }

  private static int run(String... args) {
    return Main.commandLine().execute(args);
  }

  /** The command's error output (it must fail). */
  private static String runErr(String... args) {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    CommandLine cl = Main.commandLine();
    cl.setErr(new PrintWriter(err, true));
    assertNotEquals(0, cl.execute(args), "expected a failure of " + String.join(" ", args));
    return err.toString();
  }
}
