package ai.tilt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.data.DataOptions;
import ai.tilt.data.PreferenceDataset;
import ai.tilt.data.PromptSet;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tilt data pairs}: pairs of a model's own samples, labelled by a rule, as training reads
 * them.
 */
class PairsCommandTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path tmp;
  static Path model;
  static Path prompts;

  @BeforeAll
  static void setUp() throws Exception {
    model = tmp.resolve("m");
    assertEquals(
        0,
        CliTest.run(
                "init-model",
                "--arch",
                "llama",
                "--preset",
                "tiny",
                "--out",
                model.toString(),
                "--seed",
                "3")
            .code());
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 24; i++) {
      sb.append("{\"prompt\": \"Count the cats ")
          .append(i)
          .append(":\", \"completion\": \" 1 2\"}\n");
    }
    prompts = Files.writeString(tmp.resolve("p.jsonl"), sb.toString());
  }

  static int words(String s) {
    return s.isBlank() ? 0 : s.trim().split("\\s+").length;
  }

  @Test
  void bestAgainstWorstWithLabelsIdsAndTheFileLoadsBothWays() throws Exception {
    Path out = tmp.resolve("pairs.jsonl");
    CliTest.Run r =
        CliTest.run(
            "data",
            "pairs",
            "--model",
            model.toString(),
            "--prompts",
            prompts.toString(),
            "--reward",
            "{type: min_length, unit: words}",
            "--samples",
            "3",
            "--max-new-tokens",
            "12",
            "--out",
            out.toString());
    assertEquals(0, r.code(), r.err());
    List<String> lines = Files.readAllLines(out);
    assertTrue(
        lines.size() >= 12,
        "most prompts of a random model's samples differ in length: " + lines.size());
    try (TextTokenizer tok = TextTokenizer.load(model)) {
      for (String l : lines) {
        JsonNode n = JSON.readTree(l);
        assertTrue(n.get("prompt").asText().startsWith("Count the cats"));
        assertTrue(
            !n.has("completion"), "the prompt file's completion is not carried into a pairs line");
        assertEquals(-words(n.get("chosen").asText()), n.get("score_chosen").asDouble());
        assertEquals(-words(n.get("rejected").asText()), n.get("score_rejected").asDouble());
        assertTrue(n.get("score_chosen").asDouble() > n.get("score_rejected").asDouble());
        assertEquals(n.get("score_chosen").asDouble(), n.get("response_rewards").get(0).asDouble());
        assertEquals(n.get("chosen").asText(), tok.decode(ids(n.get("response_ids").get(0)), true));
      }
      assertEquals(
          lines.size(), PreferenceDataset.load(out, tok, DataOptions.of(64)).groups().size());
      List<PromptSet.Prompt> offline = PromptSet.load(out, tok, 512, true, true);
      assertEquals(2, offline.get(0).responses().size());
      assertEquals(
          JSON.readTree(lines.get(0)).get("score_rejected").asDouble(),
          offline.get(0).rewards()[1]);
    }
  }

  @Test
  void limitTakesTheFirstPromptsAndKeepLastCutsToTheLastWords() throws Exception {
    Path out = tmp.resolve("limited.jsonl");
    CliTest.Run r =
        CliTest.run(
            "data",
            "pairs",
            "--model",
            model.toString(),
            "--prompts",
            prompts.toString(),
            "--limit",
            "5",
            "--reward",
            "{type: min_length, unit: chars}",
            "--max-new-tokens",
            "12",
            "--truncate-words",
            "0",
            "--truncate-keep",
            "last",
            "--min-gap",
            "-1",
            "--out",
            out.toString());
    assertEquals(0, r.code(), r.err());
    List<String> lines = Files.readAllLines(out);
    assertEquals(5, lines.size(), lines.toString()); // --min-gap -1 keeps ties
    for (String l : lines) {
      JsonNode n = JSON.readTree(l);
      int i = Integer.parseInt(n.get("prompt").asText().replaceAll("\\D", ""));
      assertTrue(i < 5, "only the first 5 prompts: " + n.get("prompt"));
      for (String k : new String[] {"chosen", "rejected"}) {
        assertTrue(words(n.get(k).asText()) <= 1, n.toString());
      }
    }
    CliTest.Run bad =
        CliTest.run(
            "data",
            "pairs",
            "--model",
            model.toString(),
            "--prompts",
            prompts.toString(),
            "--reward",
            "{type: min_length, unit: chars}",
            "--truncate-keep",
            "middle",
            "--out",
            out.toString());
    assertTrue(bad.code() != 0);
    assertTrue(bad.err().contains("--truncate-keep is first or last, not 'middle'"), bad.err());
  }

  @Test
  void skewTruncationCutsBeforeScoringAndEndsWithEos() throws Exception {
    Path out = tmp.resolve("skew.jsonl");
    CliTest.Run r =
        CliTest.run(
            "data",
            "pairs",
            "--model",
            model.toString(),
            "--prompts",
            prompts.toString(),
            "--reward",
            "{type: min_length, unit: chars}",
            "--max-new-tokens",
            "12",
            "--truncate-words",
            "0",
            "--out",
            out.toString());
    assertEquals(0, r.code(), r.err());
    try (TextTokenizer tok = TextTokenizer.load(model)) {
      long eos = tok.eosIds()[0];
      int cut = 0;
      for (String l : Files.readAllLines(out)) {
        JsonNode n = JSON.readTree(l);
        for (String k : new String[] {"chosen", "rejected"}) {
          assertTrue(words(n.get(k).asText()) <= 1, n.toString());
        }
        assertEquals(-n.get("chosen").asText().length(), n.get("score_chosen").asDouble());
        for (JsonNode ids : n.get("response_ids")) {
          // a cut answer ends with EOS where it was cut; one that was not cut (a single "word") is
          // as sampled
          assertTrue(ids.get(ids.size() - 1).asLong() == eos || ids.size() == 12, n.toString());
          cut += ids.get(ids.size() - 1).asLong() == eos && ids.size() < 12 ? 1 : 0;
        }
      }
      assertTrue(cut > 0, "some samples had spaces and were cut");
    }
  }

  @Test
  void labelsMustMatchTheResponses() throws Exception {
    Path bad =
        Files.writeString(
            tmp.resolve("bad.jsonl"),
            "{\"prompt_ids\": [1], \"response_ids\": [[2], [3]], \"response_rewards\": [1.0]}\n");
    Exception any =
        org.junit.jupiter.api.Assertions.assertThrows(
            Exception.class, () -> PromptSet.load(bad, null, 512, true, true));
    assertTrue(
        any.getMessage().contains("bad.jsonl:1")
            && any.getMessage().contains("'response_rewards' must be a list of 2 numbers"),
        any.getMessage());
  }

  static long[] ids(JsonNode a) {
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asLong();
    }
    return out;
  }
}
