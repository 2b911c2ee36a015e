package ai.tilt.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What {@code --nproc}'s launcher hands its workers, and how it ends them. */
class LauncherTest {
  @Test
  void workersGetTheTiltPropertiesSetSinceStart() {
    // a verb's --device sets tilt.device after the JVM started: the workers must see it too
    String before = System.getProperty("tilt.device");
    System.setProperty("tilt.device", "cuda:0");
    try {
      List<String> flags = Launcher.inheritedFlags();
      assertTrue(flags.contains("-Dtilt.device=cuda:0"), flags.toString());
      assertEquals(
          1, flags.stream().filter(f -> f.startsWith("-Dtilt.device=")).count(), flags.toString());
      assertFalse(
          flags.stream().anyMatch(f -> f.startsWith("-Djava.class.path")), flags.toString());
    } finally {
      if (before == null) {
        System.clearProperty("tilt.device");
      } else {
        System.setProperty("tilt.device", before);
      }
    }
  }

  @Test
  void aBadWorkerCountIsRefused() {
    PrintStream out = new PrintStream(new ByteArrayOutputStream());
    String why =
        assertThrows(IllegalArgumentException.class, () -> Launcher.run(0, List.of("x"), out))
            .getMessage();
    assertTrue(why.contains("--nproc must be >= 1"), why);
  }
}
