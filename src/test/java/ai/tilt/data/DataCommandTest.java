package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.cli.DataCommand;
import ai.tilt.tokenizer.ByteLevelBpe;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code tilt data} end to end through picocli. */
class DataCommandTest {
  @TempDir Path tmp;

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new DataCommand());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return new Run(cl.execute(args), out.toString(), err.toString());
  }

  @Test
  void synthIsByteIdenticalForTheSameArguments() throws IOException {
    Path a = tmp.resolve("a.jsonl");
    Path b = tmp.resolve("sub/b.jsonl");
    Path ev = tmp.resolve("eval.jsonl");
    Run r =
        run(
            "synth",
            "--task",
            "mixed",
            "--n",
            "40",
            "--seed",
            "3",
            "--out",
            a.toString(),
            "--eval-out",
            ev.toString(),
            "--eval-n",
            "10");
    assertEquals(0, r.code(), r.err());
    assertEquals("wrote 40 lines to " + a + "\nwrote 10 lines to " + ev + "\n", r.out());
    assertEquals(
        0,
        run("synth", "--task", "mixed", "--n", "40", "--seed", "3", "--out", b.toString()).code());
    assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
    assertEquals(
        String.join(
                "\n",
                SynthData.lines(SynthData.Task.MIXED, SynthData.Format.PROMPT_COMPLETION, 40, 3))
            + "\n",
        Files.readString(a));
    List<String> eval = Files.readAllLines(ev);
    assertEquals(10, eval.size());
    assertFalse(Files.readAllLines(a).subList(0, 10).equals(eval), "eval uses its own stream");
    assertFalse(Files.exists(tmp.resolve("a.jsonl.part")));
  }

  @Test
  void synthWritesChatLinesWithFormatMessages() throws IOException {
    Path a = tmp.resolve("chat.jsonl");
    assertEquals(
        0,
        run("synth", "--task", "arith", "--n", "3", "--format", "messages", "--out", a.toString())
            .code());
    for (String line : Files.readAllLines(a)) {
      assertTrue(line.startsWith("{\"messages\":[{\"role\":\"user\",\"content\":\"Add "), line);
    }
  }

  @Test
  void synthReasonWritesAnswersAndPromptsOnlyWritesNoCompletions() throws IOException {
    Path sft = tmp.resolve("reason.jsonl");
    Path prompts = tmp.resolve("reason-prompts.jsonl");
    Path evalPrompts = tmp.resolve("reason-eval-prompts.jsonl");
    assertEquals(
        0,
        run("synth", "--task", "reason", "--n", "20", "--seed", "4", "--out", sft.toString())
            .code());
    Run r =
        run(
            "synth",
            "--task",
            "reason",
            "--n",
            "20",
            "--seed",
            "4",
            "--prompts-only",
            "--out",
            prompts.toString(),
            "--eval-out",
            evalPrompts.toString(),
            "--eval-n",
            "5");
    assertEquals(0, r.code(), r.err());
    List<String> s = Files.readAllLines(sft);
    List<String> p = Files.readAllLines(prompts);
    assertEquals(20, p.size());
    for (int i = 0; i < s.size(); i++) {
      JsonNode a = Jsonl.mapper().readTree(s.get(i));
      JsonNode b = Jsonl.mapper().readTree(p.get(i));
      assertEquals(List.of("prompt", "completion", "answer"), names(a));
      assertEquals(List.of("prompt", "answer"), names(b));
      assertEquals(a.get("prompt"), b.get("prompt"));
      assertEquals(a.get("answer"), b.get("answer"));
      String answer = a.get("answer").asText();
      assertTrue(a.get("completion").asText().endsWith(" #### " + answer), s.get(i));
    }
    assertEquals(
        String.join(
                "\n",
                SynthData.lines(
                    SynthData.Task.REASON,
                    SynthData.Format.PROMPT_COMPLETION,
                    5,
                    SynthData.evalSeed(4),
                    true))
            + "\n",
        Files.readString(evalPrompts));
    Run pairs =
        run(
            "synth",
            "--kind",
            "pairs",
            "--task",
            "count",
            "--n",
            "3",
            "--prompts-only",
            "--out",
            tmp.resolve("y").toString());
    assertEquals(2, pairs.code());
    assertTrue(pairs.err().contains("--prompts-only needs --kind sft"), pairs.err());
    assertFalse(Files.exists(tmp.resolve("y")));
  }

  private static List<String> names(JsonNode o) {
    List<String> out = new ArrayList<>();
    o.fieldNames().forEachRemaining(out::add);
    return out;
  }

  @Test
  void badArgumentsAreUsageErrors() {
    Run r = run("synth", "--task", "sort", "--n", "3", "--out", tmp.resolve("x").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("unknown task 'sort'"), r.err());
    Run n = run("synth", "--task", "count", "--n", "0", "--out", tmp.resolve("x").toString());
    assertEquals(2, n.code());
    assertTrue(n.err().contains("--n must be at least 1"), n.err());
    assertFalse(Files.exists(tmp.resolve("x")));
  }

  @Test
  void checkPrintsStatsAndNamesBadLines() throws IOException {
    Path model = tmp.resolve("tok");
    ByteLevelBpe.write(model);
    Path data = tmp.resolve("d.jsonl");
    assertEquals(0, run("synth", "--task", "count", "--n", "5", "--out", data.toString()).code());
    Run ok = run("check", "--model", model.toString(), "--input", data.toString());
    assertEquals(0, ok.code(), ok.err());
    assertTrue(ok.out().startsWith(data + ": 5 lines: 5 used, 0 skipped, 0 truncated; "), ok.out());

    Files.writeString(
        data, "{\"prompt\": 1, \"completion\": \"x\"}\n", java.nio.file.StandardOpenOption.APPEND);
    Run bad = run("check", "--model", model.toString(), "--input", data.toString());
    assertEquals(1, bad.code());
    assertTrue(bad.err().contains(data + ":6: field \"prompt\" must be a string"), bad.err());
    Run skip =
        run("check", "--model", model.toString(), "--input", data.toString(), "--skip-invalid");
    assertEquals(0, skip.code(), skip.err());
    assertTrue(skip.out().contains("5 used, 1 skipped"), skip.out());
    assertTrue(skip.out().contains("skipped " + data + ":6: "), skip.out());
    Run limits =
        run(
            "check",
            "--model",
            model.toString(),
            "--input",
            data.toString(),
            "--max-length",
            "4",
            "--max-prompt-length",
            "4");
    assertEquals(2, limits.code());
    assertTrue(
        limits.err().contains("data.max_prompt_length (4) must be less than data.max_length (4)"),
        Arrays.toString(limits.err().lines().limit(2).toArray()));
  }
}
