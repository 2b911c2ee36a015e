package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.cli.Main;
import ai.tilt.runtime.HubCache;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A TRL DPO script's {@code load_dataset("org/name", split="train")} as a recipe: data.train names
 * the dataset, found offline in a fake hub cache as Parquet shards laid out by push_to_hub, with
 * other column names mapped by data.columns and the eval set taken from the same name's test split.
 */
class HubDataTrainingTest {
  @TempDir Path tmp;

  @Test
  void aDpoRecipeTrainsOnAHubDatasetByName() throws IOException, URISyntaxException {
    Path data = Path.of(getClass().getResource("/data/renamed.parquet").toURI()).getParent();
    Path snap = tmp.resolve("hub/datasets--tilt-test--pairs/snapshots").resolve("3".repeat(40));
    Files.createDirectories(snap.resolve("data"));
    Files.copy(data.resolve("renamed.parquet"), snap.resolve("data/train-00000-of-00001.parquet"));
    Files.copy(data.resolve("renamed.parquet"), snap.resolve("data/test-00000-of-00001.parquet"));
    Files.createDirectories(tmp.resolve("hub/datasets--tilt-test--pairs/refs"));
    Files.writeString(tmp.resolve("hub/datasets--tilt-test--pairs/refs/main"), "3".repeat(40));
    System.setProperty(HubCache.CACHE_PROPERTY, tmp.resolve("hub").toString());
    try {
      Path run = tmp.resolve("run");
      String[] args = {
        "train",
        "recipes/dpo-offline.yaml",
        "--run-dir",
        run.toString(),
        "--set",
        "data.train=tilt-test/pairs",
        "--set",
        "data.eval=tilt-test/pairs",
        "--set",
        "data.columns={prompt: question, chosen: good, rejected: bad}",
        "--set",
        "train.max_steps=2",
        "--set",
        "train.batch_size=2",
        "--set",
        "train.micro_batch_size=2",
        "--set",
        "eval.every_steps=2",
        "--set",
        "log.plots=false",
      };
      assertEquals(0, Main.commandLine().execute(args));
      List<JsonNode> lines = new ArrayList<>();
      for (String l : Files.readAllLines(run.resolve("metrics.jsonl"))) {
        lines.add(new ObjectMapper().readTree(l));
      }
      // 2 steps of 2 pairs are one epoch of the file's 4 rows
      assertTrue(
          lines.stream()
              .anyMatch(
                  l ->
                      l.path("step").asInt() == 2
                          && l.has("train/loss")
                          && l.path("epoch").asDouble() == 1.0),
          lines.toString());
      assertTrue(lines.stream().anyMatch(l -> l.has("eval/loss")), lines.toString());
      // without the renames the file's own column names are no preference kind: the error names
      // the row and lists the file's columns
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      CommandLine cl = Main.commandLine();
      cl.setErr(new PrintWriter(err, true));
      String[] bare = {
        "train",
        "recipes/dpo-offline.yaml",
        "--run-dir",
        tmp.resolve("bare").toString(),
        "--set",
        "data.train=tilt-test/pairs",
        "--set",
        "data.eval=null",
        "--set",
        "train.max_steps=1",
      };
      assertNotEquals(0, cl.execute(bare));
      assertTrue(
          err.toString()
                  .contains(
                      "train-00000-of-00001.parquet: row 0 (row group 0): not a preference line")
              && err.toString().contains("(the file's columns: question, good, bad)"),
          err.toString());
    } finally {
      System.clearProperty(HubCache.CACHE_PROPERTY);
    }
  }
}
