package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates reference fixtures: the copies under src/test/resources, else ../shared/fixtures. A
 * missing fixture fails the test that needs it: a parity test that skipped would pass unseen.
 */
public final class Fixtures {
  private Fixtures() {}

  public static Path dir(String relative) {
    Path local = Path.of("src/test/resources/fixtures").resolve(relative);
    if (Files.isDirectory(local)) {
      return local;
    }
    Path shared = Path.of(System.getProperty("tilt.fixtures", "../shared/fixtures"));
    Path p = shared.resolve(relative);
    if (!Files.isDirectory(p)) {
      fail("fixture folder missing: " + relative + " (looked in " + local + " and " + p + ")");
    }
    return p;
  }
}
