package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.train.Recipe.ReportTo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** log.report_to: a list or TRL's single name, jsonl always on, unknown names refused. */
class RecipeReportToTest {
  @TempDir Path tmp;

  List<ReportTo> reportTo(String yaml, String... overrides) throws IOException {
    Path f = Files.writeString(tmp.resolve("r.yaml"), yaml);
    return RecipeLoader.load(f, List.of(overrides)).log().reportTo();
  }

  @Test
  void aListOrOneNameAndJsonlIsAlwaysOn() throws IOException {
    assertEquals(List.of(ReportTo.JSONL), reportTo("name: r\n"));
    assertEquals(
        List.of(ReportTo.JSONL, ReportTo.TENSORBOARD),
        reportTo("log: {report_to: [jsonl, tensorboard]}\n"));
    assertEquals(
        List.of(ReportTo.JSONL, ReportTo.TENSORBOARD), reportTo("log: {report_to: tensorboard}\n"));
    assertEquals(
        List.of(ReportTo.JSONL, ReportTo.TENSORBOARD),
        reportTo("log: {report_to: [tensorboard, tensorboard]}\n"));
    assertEquals(List.of(ReportTo.JSONL), reportTo("log: {report_to: []}\n"));
    assertEquals(
        List.of(ReportTo.JSONL, ReportTo.TENSORBOARD),
        reportTo("name: r\n", "log.report_to=tensorboard"));
    assertEquals(
        List.of(ReportTo.JSONL, ReportTo.TENSORBOARD),
        reportTo("name: r\n", "log.report_to=[jsonl, tensorboard]"));
    // TRL's words: none (Tilt's own metrics.jsonl is still written) and all
    assertEquals(List.of(ReportTo.JSONL), reportTo("log: {report_to: none}\n"));
    assertEquals(
        List.of(ReportTo.JSONL, ReportTo.TENSORBOARD), reportTo("log: {report_to: all}\n"));
  }

  @Test
  void theResolvedRecipeSaysWhatIsWrittenAndRoundTrips() throws IOException {
    Path f = Files.writeString(tmp.resolve("r.yaml"), "log: {report_to: tensorboard}\n");
    String yaml = RecipeLoader.toYaml(RecipeLoader.load(f, List.of()));
    assertTrue(yaml.contains("report_to:\n  - jsonl\n  - tensorboard\n"), yaml);
    Path again = Files.writeString(tmp.resolve("again.yaml"), yaml);
    assertEquals(
        List.of(ReportTo.JSONL, ReportTo.TENSORBOARD),
        RecipeLoader.load(again, List.of()).log().reportTo());
  }

  @Test
  void anUnknownNameIsRefusedNamingKeyValueAndTheKnownOnes() throws IOException {
    for (String yaml : List.of("log: {report_to: wandb}\n", "log: {report_to: [jsonl, wandb]}\n")) {
      Path f = Files.writeString(tmp.resolve("r.yaml"), yaml);
      String msg =
          assertThrows(IllegalArgumentException.class, () -> RecipeLoader.load(f, List.of()))
              .getMessage();
      assertTrue(
          msg.contains("r.yaml")
              && msg.contains("log.report_to")
              && msg.contains("wandb")
              && msg.contains("[jsonl, tensorboard, none, all]"),
          msg);
    }
  }
}
