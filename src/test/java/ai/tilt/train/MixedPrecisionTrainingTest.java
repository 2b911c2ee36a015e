package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.model.Precision;
import ai.tilt.model.SafetensorsReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SFT in bf16-mixed tracks fp32, and its checkpoints hold the fp32 masters. */
class MixedPrecisionTrainingTest {
  @TempDir Path tmp;

  static List<Double> train(Path dir, String precision) throws IOException {
    Recipe r =
        RecipeLoader.load(
            Path.of("recipes/sft-tiny.yaml"),
            List.of(
                "train.max_steps=200",
                "train.precision=" + precision,
                "data.eval=null",
                "checkpoint.every_steps=0"));
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
    try (TrainingRun run = TrainingRun.prepare(r, "x", dir, null, quiet)) {
      assertEquals(Precision.of(precision), run.policy().model().precision());
      Trainer t = new Trainer(run);
      List<Double> losses = StepLosses.follow(t);
      assertEquals(0, t.train(quiet));
      return losses;
    }
  }

  static double tail(List<Double> losses) {
    return losses.subList(losses.size() - 20, losses.size()).stream()
        .mapToDouble(Double::doubleValue)
        .average()
        .orElseThrow();
  }

  @Test
  void bf16MixedTracksTheFp32LossCurve() throws IOException {
    List<Double> fp32 = train(tmp.resolve("fp32"), "fp32");
    List<Double> mixed = train(tmp.resolve("mixed"), "bf16-mixed");
    assertEquals(fp32.get(0), mixed.get(0), 0.05); // the same start, up to bf16 rounding
    double a = tail(fp32);
    double b = tail(mixed);
    assertTrue(a < 0.3 * fp32.get(0), "fp32 learns: " + fp32.get(0) + " -> " + a);
    assertTrue(
        Math.abs(b - a) / a < 0.05,
        "final loss (mean of the last 20 steps): fp32 " + a + ", bf16-mixed " + b);
    try (SafetensorsReader r = ai.tilt.model.Safetensors.open(tmp.resolve("mixed/step-000200"))) {
      r.tensors().values().forEach(info -> assertEquals("F32", info.dtype(), info.name()));
    }
  }
}
