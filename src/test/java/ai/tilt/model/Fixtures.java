package ai.tilt.model;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates reference fixtures: copies under src/test/resources first, then ../shared/fixtures. */
final class Fixtures {
  private Fixtures() {}

  static Path dir(String relative) {
    Path local = Path.of("src/test/resources/fixtures").resolve(relative);
    if (Files.isDirectory(local)) {
      return local;
    }
    String shared = System.getProperty("tilt.fixtures", "../shared/fixtures");
    Path p = Path.of(shared).resolve(relative);
    assumeTrue(Files.isDirectory(p), "fixture folder missing: " + relative);
    return p;
  }
}
