package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
