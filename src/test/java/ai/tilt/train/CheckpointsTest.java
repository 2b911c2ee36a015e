package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointsTest {
  @TempDir Path run;

  Path fake(long step) throws IOException {
    Path d = run.resolve(Checkpoints.dirName(step));
    Files.createDirectories(d);
    Files.writeString(d.resolve("x.bin"), "abc");
    Files.writeString(
        d.resolve(Checkpoints.MARKER), "{\"step\": " + step + ", \"files\": {\"x.bin\": 3}}");
    return d;
  }

  static List<String> names(Path run) throws IOException {
    return Checkpoints.stepDirs(run).stream().map(p -> p.getFileName().toString()).toList();
  }

  @Test
  void stepsSortByNumberAndLatestIsNeverPruned() throws IOException {
    fake(999_998);
    fake(999_999);
    fake(1_000_000);
    assertEquals(List.of("step-1000000", "step-999999", "step-999998"), names(run));
    Files.writeString(run.resolve(Checkpoints.LATEST), "step-999999\n");
    Checkpoints.prune(run, 1);
    assertEquals(List.of("step-1000000", "step-999999"), names(run));
    assertEquals(
        "step-999999", Checkpoints.findLatest(run, new ArrayList<>()).getFileName().toString());
  }

  @Test
  void aMarkerWhoseSizesDisagreeMakesACheckpointIncomplete() throws IOException {
    Path d = fake(10);
    assertEquals(null, Checkpoints.incompleteReason(d));
    Files.writeString(d.resolve("x.bin"), "ab");
    assertTrue(Checkpoints.incompleteReason(d).contains("x.bin"));
    Files.delete(d.resolve("x.bin"));
    assertTrue(Checkpoints.incompleteReason(d).contains("missing"));
    Files.delete(d.resolve(Checkpoints.MARKER));
    assertTrue(Checkpoints.incompleteReason(d).contains(Checkpoints.MARKER));
  }
}
