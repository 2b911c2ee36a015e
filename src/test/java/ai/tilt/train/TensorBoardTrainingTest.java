package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.report.TensorBoardEvent;
import ai.tilt.report.TensorBoardLog;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real run with {@code log.report_to: tensorboard}: its event files hold metrics.jsonl's points
 * under TRL's tags, and a run resumed from a checkpoint older than its last logged step shows each
 * step once, the retained steps with the first session's values.
 */
class TensorBoardTrainingTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;

  static int train(Recipe r, Path runDir, Path checkpoint) throws IOException {
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
    try (TrainingRun run = TrainingRun.prepare(r, "test", runDir, checkpoint, quiet)) {
      return new Trainer(run).train(quiet);
    }
  }

  /** tag -> (step -> value) of every scalar, failing on a step seen twice. */
  static Map<String, TreeMap<Long, Float>> scalars(Path runDir) throws IOException {
    Map<String, TreeMap<Long, Float>> curves = new TreeMap<>();
    for (Path f : TensorBoardLog.eventFiles(runDir.resolve(TensorBoardLog.DIR))) {
      for (TensorBoardEvent e : TensorBoardLog.read(f)) {
        for (TensorBoardEvent.Value v : e.values()) {
          if (v instanceof TensorBoardEvent.Scalar s) {
            TreeMap<Long, Float> curve = curves.computeIfAbsent(s.tag(), t -> new TreeMap<>());
            assertEquals(null, curve.put(e.step(), s.simpleValue()), s.tag() + " @ " + e.step());
          }
        }
      }
    }
    return curves;
  }

  @Test
  void aResumedRunShowsEachStepOnceWithMetricsJsonlsValues() throws IOException {
    List<String> lines = Files.readAllLines(Path.of("recipes/data/sft-tiny.jsonl")).subList(0, 16);
    Path data = Files.write(tmp.resolve("small.jsonl"), lines);
    Recipe r =
        RecipeLoader.load(
            Files.writeString(
                tmp.resolve("r.yaml"),
                String.join(
                    "\n",
                    "name: tb-test",
                    "model: {init: {arch: llama, preset: tiny}}",
                    "data: {train: " + data + ", eval: " + data + ", max_length: 32}",
                    "train: {max_steps: 5, batch_size: 8, micro_batch_size: 8, lr: 3.0e-3}",
                    "checkpoint: {every_steps: 3, keep_last: 3}",
                    "eval: {every_steps: 2}",
                    "log: {report_to: tensorboard, plots: false}",
                    "")),
            List.of());
    Path run = tmp.resolve("run");
    assertEquals(0, train(r, run, null));
    Map<String, TreeMap<Long, Float>> first = scalars(run);
    // steps 4 and 5 were logged after checkpoint 3: the resume runs and logs them again
    assertEquals(0, train(r, run, run.resolve("step-000003")));
    Map<String, TreeMap<Long, Float>> curves = scalars(run);
    assertEquals(2, TensorBoardLog.eventFiles(run.resolve(TensorBoardLog.DIR)).size());
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L), new ArrayList<>(curves.get("train/loss").keySet()));
    assertEquals(
        first.get("train/loss").headMap(3L, true), curves.get("train/loss").headMap(3L, true));
    assertTrue(curves.containsKey("train/learning_rate") && curves.containsKey("train/grad_norm"));
    assertEquals(List.of(2L, 4L, 5L), new ArrayList<>(curves.get("eval/loss").keySet()));
    // every point of metrics.jsonl, as float, under its tag
    int points = 0;
    for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
      JsonNode row = JSON.readTree(line);
      long step = row.get("step").asLong();
      for (var it = row.fields(); it.hasNext(); ) {
        var f = it.next();
        if (!f.getKey().equals("step") && f.getValue().isNumber()) {
          String tag = TensorBoardLog.tag(f.getKey());
          assertEquals(
              (float) f.getValue().asDouble(), curves.get(tag).get(step), tag + " @ " + step);
          points++;
        }
      }
    }
    assertEquals(points, curves.values().stream().mapToInt(Map::size).sum());
  }

  /** A fresh model's SFT warm-up writes its own curves when the run reports to TensorBoard. */
  @Test
  void theWarmUpReportsToTensorBoardToo() throws IOException {
    Recipe r =
        RecipeLoader.bind(
            (com.fasterxml.jackson.databind.node.ObjectNode)
                new com.fasterxml.jackson.dataformat.yaml.YAMLMapper()
                    .readTree(
                        "model: {init: {arch: llama, preset: tiny, sft: {data:"
                            + " recipes/data/sft-tiny.jsonl, steps: 4, batch_size: 4}}}\n"
                            + "data: {train: recipes/data/sft-tiny.jsonl, max_length: 48}\n"
                            + "train: {max_steps: 2, batch_size: 4}\n"
                            + "log: {report_to: tensorboard, plots: false}\n"),
            List.of(),
            "warm recipe");
    Path run = tmp.resolve("warm");
    assertEquals(0, train(r, run, null));
    Map<String, TreeMap<Long, Float>> warm = scalars(run.resolve("warmup-sft"));
    assertEquals(java.util.Set.of(1L, 2L, 3L, 4L), warm.get("train/loss").keySet());
    assertEquals(java.util.Set.of(1L, 2L), scalars(run).get("train/loss").keySet());
  }
}
