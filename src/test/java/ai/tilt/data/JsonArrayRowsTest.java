package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code .json} files as HF's JSON loader reads them: an array of rows (Alpaca's data, {@code
 * to_json(lines=False)}) or JSON Lines under a {@code .json} name; in a folder, a repository's
 * metadata files are not data.
 */
class JsonArrayRowsTest {
  @TempDir Path tmp;

  private static Path fixtures() throws URISyntaxException {
    return Path.of(JsonArrayRowsTest.class.getResource("/data/pref_standard.jsonl").toURI())
        .getParent();
  }

  @Test
  void anArrayAndJsonLinesNamedJsonReadAsTheirJsonlTwin() throws Exception {
    Path jsonl = fixtures().resolve("pref_standard.jsonl");
    List<String> lines = Files.readAllLines(jsonl).stream().filter(l -> !l.isBlank()).toList();
    Path array =
        Files.writeString(tmp.resolve("pairs.json"), "\n  [\n" + String.join(",\n", lines) + "]\n");
    Path linesNamedJson = Files.writeString(tmp.resolve("lines.json"), String.join("\n", lines));
    List<String> expected = DataFormatsTest.rows(DataSpec.of(jsonl));
    assertEquals(expected, DataFormatsTest.rows(DataSpec.of(array)));
    assertEquals(expected, DataFormatsTest.rows(DataSpec.of(linesNamedJson)));
    // and the tokenised groups are the same
    assertEquals(expected.size(), lines.size());
  }

  @Test
  void aFolderReadsItsJsonDataButNotItsMetadata() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("repo/data"));
    Files.writeString(dir.resolve("train.json"), "[{\"text\": \"a\"}, {\"text\": \"b\"}]");
    Files.writeString(tmp.resolve("repo/dataset_info.json"), "{\"description\": \"x\"}");
    Files.writeString(tmp.resolve("repo/dataset_infos.json"), "{\"default\": {}}");
    assertEquals(
        List.of("{\"text\":\"a\"}", "{\"text\":\"b\"}"),
        DataFormatsTest.rows(DataSpec.of(tmp.resolve("repo"))));
  }

  @Test
  void errorsNameTheFileAndTheRowOrPlace() throws IOException {
    Path notObject = Files.writeString(tmp.resolve("a.json"), "[{\"text\": \"a\"}, 5]");
    DataException e =
        assertThrows(DataException.class, () -> DataFormatsTest.rows(DataSpec.of(notObject)));
    assertEquals(notObject + ": row 1: expected a JSON object, got NUMBER", e.getMessage());
    Path broken = Files.writeString(tmp.resolve("b.json"), "[\n{\"text\": \"a\"},\n{\"text\": }]");
    DataException b =
        assertThrows(DataException.class, () -> DataFormatsTest.rows(DataSpec.of(broken)));
    assertTrue(b.getMessage().startsWith(broken + ":3:"), b.getMessage());
    assertTrue(b.getMessage().contains("invalid JSON"), b.getMessage());
  }
}
