package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.runtime.HubCache;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PaperPreferencesTest {
  @TempDir Path tmp;
  static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void rowsBecomePairsInThePapersTemplate() throws Exception {
    Path in =
        Files.writeString(
            tmp.resolve("min.jsonl"),
            String.join(
                "\n",
                "{\"prompt\": \"Name a fruit.\", \"y_ref\": \"x\", \"y_1\": \"a\", \"y_2\": \"b\","
                    + " \"y_w\": \"Apple.\", \"y_l\": \"A fruit is apple.\", \"y_w_score\": -6,"
                    + " \"y_l_score\": -17, \"score_diff\": 11}",
                "",
                "{\"instruction\": \"Translate.\", \"input\": \"chat\", \"y_w\": \"cat\", \"y_l\":"
                    + " \"dog\"}",
                "{\"prompt\": \"<|prompter|>Hi<|endoftext|><|assistant|>\", \"y_w\": \"a\", \"y_l\":"
                    + " \"bb\"}",
                ""));
    Path out = tmp.resolve("pairs.jsonl");
    assertEquals(3, PaperPreferences.convert(in, out));
    List<String> lines = Files.readAllLines(out);
    JsonNode a = JSON.readTree(lines.get(0));
    assertEquals("<|prompter|>Name a fruit.<|endoftext|><|assistant|>", a.get("prompt").asText());
    assertEquals("Apple.", a.get("chosen").asText());
    assertEquals("A fruit is apple.", a.get("rejected").asText());
    assertEquals(-6.0, a.get("score_chosen").asDouble());
    assertEquals(-17.0, a.get("score_rejected").asDouble());
    assertFalse(a.has("y_ref"), "only Tilt's fields are written");
    JsonNode b = JSON.readTree(lines.get(1));
    assertEquals(
        "<|prompter|>Translate.\nchat<|endoftext|><|assistant|>", b.get("prompt").asText());
    assertFalse(b.has("score_chosen"));
    // an already templated prompt is not wrapped twice
    assertEquals(
        "<|prompter|>Hi<|endoftext|><|assistant|>",
        JSON.readTree(lines.get(2)).get("prompt").asText());
  }

  /**
   * The released set as the hub stores it (Parquet under data/), read by its name in the local
   * cache: the same pairs as its JSON Lines export gives.
   */
  @Test
  void theHubsParquetByNameGivesWhatItsJsonlExportGives() throws Exception {
    Path fixtures =
        Path.of(PaperPreferencesTest.class.getResource("/data/paper_pairs.parquet").toURI())
            .getParent();
    String commit = "c".repeat(40);
    Path repo = tmp.resolve("hub/datasets--Asap7772--relabeled_minlength");
    Path data = Files.createDirectories(repo.resolve("snapshots").resolve(commit).resolve("data"));
    Files.copy(
        fixtures.resolve("paper_pairs.parquet"), data.resolve("train-00000-of-00001.parquet"));
    Files.createDirectories(repo.resolve("refs"));
    Files.writeString(repo.resolve("refs/main"), commit);
    System.setProperty(HubCache.CACHE_PROPERTY, tmp.resolve("hub").toString());
    try {
      Path byName = tmp.resolve("by-name.jsonl");
      assertEquals(
          2,
          PaperPreferences.convert(
              new DataSpec("Asap7772/relabeled_minlength", "train", null, null, null), byName));
      Path fromJsonl = tmp.resolve("from-jsonl.jsonl");
      assertEquals(2, PaperPreferences.convert(fixtures.resolve("paper_pairs.jsonl"), fromJsonl));
      assertEquals(Files.readAllLines(fromJsonl), Files.readAllLines(byName));
      JsonNode b = JSON.readTree(Files.readAllLines(byName).get(1));
      assertEquals("<|prompter|>Say hi.<|endoftext|><|assistant|>", b.get("prompt").asText());
      assertEquals(-20.0, b.get("score_rejected").asDouble());
      // a row lacking y_l names its place in the Parquet file
      Path bad = tmp.resolve("bad.parquet");
      Files.copy(fixtures.resolve("pref_standard.parquet"), bad);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> PaperPreferences.convert(bad, tmp.resolve("bad.jsonl")));
      assertTrue(e.getMessage().startsWith(bad + ": row 0"), e.getMessage());
      assertTrue(e.getMessage().contains("field 'y_w'"), e.getMessage());
    } finally {
      System.clearProperty(HubCache.CACHE_PROPERTY);
    }
  }

  @Test
  void aRowWithoutY_lNamesFileLineAndField() throws Exception {
    Path in =
        Files.writeString(
            tmp.resolve("bad.jsonl"),
            "{\"prompt\": \"p\", \"y_w\": \"a\", \"y_l\": \"b\"}\n{\"prompt\": \"p\", \"y_w\": \"a\"}\n");
    Path out = tmp.resolve("out.jsonl");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> PaperPreferences.convert(in, out));
    assertTrue(e.getMessage().startsWith(in + ":2: field 'y_l' is missing"), e.getMessage());
    assertFalse(Files.exists(out), "no half-written output");
  }
}
