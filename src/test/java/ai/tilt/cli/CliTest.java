package ai.tilt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The model-core verbs end to end through the root command, as a user runs them. */
class CliTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path tmp;
  static Path model;

  record Run(int code, String err) {}

  static Run run(String... args) {
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = Main.commandLine();
    cl.setErr(new PrintWriter(err, true));
    return new Run(cl.execute(args), err.toString());
  }

  @BeforeAll
  static void initModel() {
    model = tmp.resolve("qwen3-tiny");
    Run r =
        run(
            "init-model",
            "--arch",
            "qwen3",
            "--preset",
            "tiny",
            "--out",
            model.toString(),
            "--seed",
            "5");
    assertEquals(0, r.code(), r.err());
  }

  /** Out-of-range sampling flags are named as the user typed them, on every sampling verb. */
  @Test
  void samplingErrorsNameTheFlag() throws IOException {
    Path prompts = Files.writeString(tmp.resolve("p.jsonl"), "{\"prompt\": \"hi\"}\n");
    String[][] cases = {
      {"--top-p", "2", "--top-p must be in (0, 1], got 2.0"},
      {"--max-new-tokens", "0", "--max-new-tokens must be >= 1, got 0"},
      {"--temperature", "0", "--temperature must be > 0"},
      {"--top-k", "-1", "--top-k must be >= 0"}
    };
    for (String[] c : cases) {
      Run g = run("generate", "--model", model.toString(), "--prompt", "hi", c[0], c[1]);
      assertEquals(1, g.code(), g.err());
      assertTrue(g.err().startsWith("tilt generate: " + c[2]), g.err());
      Run e =
          run(
              "eval",
              "--model",
              model.toString(),
              "--reward",
              "min_length",
              "--prompts",
              prompts.toString(),
              c[0],
              c[1]);
      assertTrue(e.err().startsWith("tilt eval: " + c[2]), e.err());
      assertTrue(!g.err().contains("top_p") && !g.err().contains("max_new_tokens"), g.err());
    }
  }

  @Test
  void errorsNameTheWholeVerb() throws IOException {
    Path recipe =
        Files.writeString(tmp.resolve("bad.yaml"), "name: bad\ntrain: {lr_sched: cosine}\n");
    Run r = run("recipe", "explain", recipe.toString());
    assertEquals(1, r.code());
    assertTrue(
        r.err().startsWith("tilt recipe explain: ")
            && r.err().contains("unknown key 'train.lr_sched'"),
        r.err());
  }

  @Test
  void initModelWritesHfLayout() throws IOException {
    for (String f :
        new String[] {
          "config.json",
          "model.safetensors",
          "tokenizer.json",
          "tokenizer_config.json",
          "generation_config.json"
        }) {
      assertTrue(Files.exists(model.resolve(f)), f);
    }
    JsonNode config = JSON.readTree(model.resolve("config.json").toFile());
    assertEquals("qwen3", config.get("model_type").asText());
    assertEquals(512, config.get("vocab_size").asInt());
    JsonNode gen = JSON.readTree(model.resolve("generation_config.json").toFile());
    assertEquals(config.get("eos_token_id").asLong(), gen.get("eos_token_id").get(0).asLong());
  }

  @Test
  void generateThenScoreGivesTheSamplersLogprobs() throws IOException {
    Path in =
        Files.writeString(
            tmp.resolve("prompts.jsonl"),
            "{\"id\": 1, \"prompt\": \"The cat\"}\n{\"id\": 2, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n"
                + "{\"id\": 3, \"prompt_ids\": [5, 6, 7]}\n");
    Path out = tmp.resolve("gen.jsonl");
    Run g =
        run(
            "generate",
            "--model",
            model.toString(),
            "--input",
            in.toString(),
            "--output",
            out.toString(),
            "--num-samples",
            "2",
            "--max-new-tokens",
            "6",
            "--seed",
            "3",
            "--batch-size",
            "4");
    assertEquals(0, g.code(), g.err());
    List<String> lines = Files.readAllLines(out);
    assertEquals(6, lines.size());
    // Score each sampled completion with `tilt logprobs`: at temperature 1 without top-k/top-p the
    // sampler's log-probs are the model's, so the two commands must agree.
    StringBuilder score = new StringBuilder();
    for (String l : lines) {
      JsonNode o = JSON.readTree(l);
      assertTrue(o.get("finish_reason").asText().matches("eos|length"));
      assertEquals(o.get("completion_ids").size(), o.get("logprobs").size());
      var rec = JSON.createObjectNode();
      rec.put("id", o.get("id").asInt() * 10 + o.get("sample").asInt());
      if (o.has("prompt_ids")) {
        rec.set("prompt_ids", o.get("prompt_ids"));
      } else if (o.has("messages")) {
        rec.set("messages", o.get("messages"));
      } else {
        rec.set("prompt", o.get("prompt"));
      }
      rec.set("completion_ids", o.get("completion_ids"));
      score.append(rec).append('\n');
    }
    Path scoreIn = Files.writeString(tmp.resolve("score.jsonl"), score.toString());
    Path scored = tmp.resolve("scored.jsonl");
    Run s =
        run(
            "logprobs",
            "--model",
            model.toString(),
            "--input",
            scoreIn.toString(),
            "--output",
            scored.toString(),
            "--batch-size",
            "3");
    assertEquals(0, s.code(), s.err());
    List<String> scores = Files.readAllLines(scored);
    for (int i = 0; i < lines.size(); i++) {
      JsonNode a = JSON.readTree(lines.get(i)).get("logprobs");
      JsonNode b = JSON.readTree(scores.get(i));
      double sum = 0;
      for (int j = 0; j < a.size(); j++) {
        assertEquals(
            a.get(j).asDouble(),
            b.get("logprobs").get(j).asDouble(),
            1e-4,
            "line " + i + " token " + j);
        sum += b.get("logprobs").get(j).asDouble();
      }
      assertEquals(sum, b.get("sum").asDouble(), 1e-6);
    }
  }

  @Test
  void samplesDoNotDependOnBatchSize() throws IOException {
    Path in =
        Files.writeString(
            tmp.resolve("p.jsonl"),
            "{\"prompt\": \"a\"}\n{\"prompt\": \"b c\"}\n{\"prompt\": \"d\"}\n");
    Path a = tmp.resolve("a.jsonl");
    Path b = tmp.resolve("b.jsonl");
    assertEquals(
        0,
        run(
                "generate",
                "--model",
                model.toString(),
                "--input",
                in.toString(),
                "--output",
                a.toString(),
                "--max-new-tokens",
                "5",
                "--batch-size",
                "1",
                "--ignore-eos")
            .code());
    assertEquals(
        0,
        run(
                "generate",
                "--model",
                model.toString(),
                "--input",
                in.toString(),
                "--output",
                b.toString(),
                "--max-new-tokens",
                "5",
                "--batch-size",
                "3",
                "--ignore-eos")
            .code());
    List<String> la = Files.readAllLines(a);
    List<String> lb = Files.readAllLines(b);
    for (int i = 0; i < 3; i++) {
      assertEquals(
          JSON.readTree(la.get(i)).get("completion_ids"),
          JSON.readTree(lb.get(i)).get("completion_ids"));
    }
  }

  @Test
  void badInputNamesFileAndLine() throws IOException {
    Path in =
        Files.writeString(
            tmp.resolve("bad.jsonl"),
            "{\"prompt\": \"ok\", \"completion\": \"fine\"}\n{\"prompt\": \"x\"}\n");
    Run r =
        run(
            "logprobs",
            "--model",
            model.toString(),
            "--input",
            in.toString(),
            "--output",
            tmp.resolve("o.jsonl").toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("bad.jsonl:2") && r.err().contains("completion"), r.err());
    Path in2 =
        Files.writeString(
            tmp.resolve("bad2.jsonl"),
            "{\"prompt_ids\": [1, 2], \"completion_ids\": [99999]}\n{oops\n");
    Run r2 =
        run(
            "logprobs",
            "--model",
            model.toString(),
            "--input",
            in2.toString(),
            "--output",
            tmp.resolve("o.jsonl").toString());
    assertTrue(r2.err().contains("bad2.jsonl:2") && r2.err().contains("invalid JSON"), r2.err());
    Path in3 =
        Files.writeString(
            tmp.resolve("bad3.jsonl"), "{\"prompt_ids\": [1, 2], \"completion_ids\": [99999]}\n");
    Run r3 =
        run(
            "logprobs",
            "--model",
            model.toString(),
            "--input",
            in3.toString(),
            "--output",
            tmp.resolve("o.jsonl").toString());
    assertTrue(r3.err().contains("bad3.jsonl:1") && r3.err().contains("99999"), r3.err());
    Run r4 = run("init-model", "--arch", "mamba", "--out", tmp.resolve("x").toString());
    assertEquals(1, r4.code());
    assertTrue(r4.err().contains("mamba"), r4.err());
  }

  @Test
  void modelWithoutTokenizerTakesIds() throws IOException {
    Path idsOnly = tmp.resolve("ids-only");
    Files.createDirectories(idsOnly);
    Files.copy(model.resolve("config.json"), idsOnly.resolve("config.json"));
    Files.copy(model.resolve("model.safetensors"), idsOnly.resolve("model.safetensors"));
    Path in =
        Files.writeString(
            tmp.resolve("ids.jsonl"), "{\"prompt_ids\": [1, 2, 3]}\n{\"prompt\": \"text\"}\n");
    Run r =
        run(
            "generate",
            "--model",
            idsOnly.toString(),
            "--input",
            in.toString(),
            "--output",
            tmp.resolve("g.jsonl").toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("ids.jsonl:2") && r.err().contains("tokenizer"), r.err());
    Files.writeString(in, "{\"prompt_ids\": [1, 2, 3]}\n");
    Run ok =
        run(
            "generate",
            "--model",
            idsOnly.toString(),
            "--input",
            in.toString(),
            "--output",
            tmp.resolve("g.jsonl").toString(),
            "--max-new-tokens",
            "3",
            "--ignore-eos");
    assertEquals(0, ok.code(), ok.err());
    JsonNode o = JSON.readTree(Files.readAllLines(tmp.resolve("g.jsonl")).get(0));
    assertEquals(3, o.get("completion_ids").size());
    assertTrue(!o.has("completion"));
  }

  @Test
  void scoreMatchesTheRewardModelFixture() throws IOException {
    Path rm = Path.of("src/test/resources/fixtures/hf-extra/llama_rm");
    List<String> expected = Files.readAllLines(rm.resolve("expected.jsonl"));
    StringBuilder in = new StringBuilder();
    for (String line : expected) {
      JsonNode ids = JSON.readTree(line).get("ids");
      var rec = JSON.createObjectNode();
      var p = rec.putArray("prompt_ids");
      var c = rec.putArray("completion_ids");
      for (int i = 0; i < ids.size(); i++) {
        (i < 1 ? p : c).add(ids.get(i));
      }
      if (c.isEmpty()) {
        continue;
      }
      in.append(rec).append('\n');
    }
    Path input = Files.writeString(tmp.resolve("score-in.jsonl"), in.toString());
    Path out = tmp.resolve("score-out.jsonl");
    Run r =
        run(
            "score",
            "--model",
            rm.toString(),
            "--input",
            input.toString(),
            "--output",
            out.toString(),
            "--batch-size",
            "2");
    assertEquals(0, r.code(), r.err());
    List<String> got = Files.readAllLines(out);
    int k = 0;
    for (String line : expected) {
      JsonNode e = JSON.readTree(line);
      if (e.get("ids").size() < 2) {
        continue;
      }
      assertEquals(
          e.get("score").asDouble(), JSON.readTree(got.get(k++)).get("reward").asDouble(), 1e-4);
    }
    assertTrue(k >= 3);
    Run lm =
        run(
            "score",
            "--model",
            model.toString(),
            "--input",
            input.toString(),
            "--output",
            out.toString());
    assertEquals(1, lm.code());
    assertTrue(lm.err().contains("not a reward model"), lm.err());
  }

  /** tilt eval against itself: no KL, win rate one half, and the reward of its own samples. */
  @Test
  void evalOfAModelAgainstItself() throws IOException {
    Path prompts =
        Files.writeString(
            tmp.resolve("eval-prompts.jsonl"), "{\"prompt\": \"a b\"}\n{\"prompt\": \"c\"}\n");
    java.io.PrintStream saved = System.out;
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    System.setOut(new java.io.PrintStream(out, true));
    Run r;
    try {
      r =
          run(
              "eval",
              "--model",
              model.toString(),
              "--reward",
              "{type: min_length, unit: tokens}",
              "--prompts",
              prompts.toString(),
              "--samples",
              "3",
              "--max-new-tokens",
              "5");
    } finally {
      System.setOut(saved);
    }
    assertEquals(0, r.code(), r.err());
    JsonNode m = JSON.readTree(out.toString().trim());
    assertEquals(0.0, m.get("eval/kl").asDouble(), 1e-5);
    assertEquals(0.5, m.get("eval/win_rate").asDouble(), 1e-9);
    assertEquals(m.get("eval/reference_reward").asDouble(), m.get("eval/reward").asDouble(), 1e-9);
    assertTrue(
        m.get("eval/mean_length").asDouble() >= 1 && m.get("eval/mean_length").asDouble() <= 5);
    Run bad =
        run(
            "eval",
            "--model",
            model.toString(),
            "--reward",
            "{type: nope}",
            "--prompts",
            prompts.toString());
    assertEquals(1, bad.code());
    assertTrue(bad.err().contains("nope"), bad.err());
  }
}
