package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Locates reference fixtures: the copies under src/test/resources, else ../shared/fixtures. A
 * missing fixture fails the test that needs it: a parity test that skipped would pass unseen.
 */
public final class Fixtures {
  private Fixtures() {}

  /** Every model family's parity fixture: transformers 4.46 (hf-tiny) and 5.17 (hf-extra). */
  public static Stream<String> families() {
    return Stream.of(
        "hf-tiny/llama_gqa",
        "hf-tiny/qwen2",
        "hf-tiny/gpt_neox",
        "hf-tiny/gpt2",
        "hf-extra/mistral_window",
        "hf-extra/qwen3",
        "hf-extra/llama3_mqa_tied",
        "hf-extra/neox_sequential");
  }

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
