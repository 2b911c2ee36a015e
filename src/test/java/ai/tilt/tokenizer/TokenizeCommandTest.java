package ai.tilt.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.cli.Main;
import ai.tilt.tokenizer.TokenizerFixtures.Case;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code tilt tokenize} end to end through the picocli root command. */
class TokenizeCommandTest {
  @TempDir Path tmp;

  private record Run(int exitCode, String stderr) {}

  private static Run run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err, true));
    int rc = cl.execute(args);
    return new Run(rc, err.toString());
  }

  @Test
  void qwen3TextAndChatLinesMatchFixtures() throws IOException {
    List<Case> cases = TokenizerFixtures.cases("qwen3");
    List<String> lines = new ArrayList<>();
    for (Case c : cases) {
      lines.add(c.input().toString());
    }
    lines.add(2, "   ");
    Path in = Files.write(tmp.resolve("in.jsonl"), lines);
    Path out = tmp.resolve("out.jsonl");
    Run r =
        run(
            "tokenize",
            "--model",
            TokenizerFixtures.dir("qwen3").toString(),
            "--input",
            in.toString(),
            "--output",
            out.toString());
    assertEquals(0, r.exitCode(), r.stderr());
    List<String> got = Files.readAllLines(out);
    assertEquals(cases.size(), got.size(), "blank lines are skipped");
    int chats = 0;
    for (int i = 0; i < cases.size(); i++) {
      Case c = cases.get(i);
      JsonNode o = TokenizerFixtures.JSON.readTree(got.get(i));
      assertEquals(c.input().get("id"), o.get("id"));
      assertEquals(c.expected().get("ids"), o.get("ids"), c.id());
      if (c.isChat()) {
        chats++;
        assertEquals(c.expected().get("rendered"), o.get("rendered"), c.id());
        assertFalse(o.has("decoded"));
      } else {
        assertEquals(c.expected().get("decoded"), o.get("decoded"), c.id());
      }
    }
    assertTrue(chats >= 10, "fixture has chat cases");
  }

  @Test
  void malformedLineIsReportedWithFileAndLine() throws IOException {
    Path model = Files.createDirectories(tmp.resolve("model"));
    ByteLevelBpe.write(model);
    Path in =
        Files.write(
            tmp.resolve("bad.jsonl"),
            List.of(
                "{\"id\": 1, \"text\": \"hi\", \"add_special_tokens\": true}",
                "{\"id\": 2, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}",
                "{\"id\": 3, \"text\": \"unterminated}"));
    Path out = tmp.resolve("out.jsonl");
    Run r =
        run(
            "tokenize",
            "--model",
            model.toString(),
            "--input",
            in.toString(),
            "--output",
            out.toString());
    assertEquals(1, r.exitCode());
    assertTrue(r.stderr().contains(in + ":3: invalid JSON"), r.stderr());
    assertFalse(Files.exists(out), "no partial output");
    assertFalse(Files.exists(tmp.resolve("out.jsonl.part")));
  }

  @Test
  void semanticErrorsAndTemplateErrors() throws IOException {
    Path model = Files.createDirectories(tmp.resolve("model"));
    ByteLevelBpe.write(model);
    String[][] cases = {
      {"[1, 2]", "expected a JSON object"},
      {"{\"id\": 1}", "exactly one of \"text\" or \"messages\""},
      {"{\"text\": 5}", "\"text\" must be a string"},
      {"{\"text\": \"a\", \"add_special_tokens\": \"yes\"}", "must be true or false"},
      {"{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}", "Unsupported role: tool"},
      {"{\"messages\": [], \"kwargs\": 3}", "\"kwargs\" must be an object"},
    };
    for (String[] c : cases) {
      Path in = Files.write(tmp.resolve("in.jsonl"), List.of("{\"text\": \"ok\"}", c[0]));
      Run r =
          run(
              "tokenize",
              "--model",
              model.toString(),
              "--input",
              in.toString(),
              "--output",
              tmp.resolve("o.jsonl").toString());
      assertEquals(1, r.exitCode(), c[0]);
      assertTrue(r.stderr().contains(in + ":2: ") && r.stderr().contains(c[1]), r.stderr());
    }
  }

  @Test
  void textLinesOnOwnTokenizerAndMissingModel() throws IOException {
    Path model = Files.createDirectories(tmp.resolve("model"));
    ByteLevelBpe.write(model);
    ObjectNode line = TokenizerFixtures.JSON.createObjectNode();
    line.put("id", "x").put("text", "héllo 🦀").put("add_special_tokens", true);
    Path in = Files.write(tmp.resolve("in.jsonl"), List.of(line.toString()));
    Path out = tmp.resolve("out.jsonl");
    Run r =
        run(
            "tokenize",
            "--model",
            model.toString(),
            "--input",
            in.toString(),
            "--output",
            out.toString());
    assertEquals(0, r.exitCode(), r.stderr());
    JsonNode o = TokenizerFixtures.JSON.readTree(Files.readString(out));
    assertEquals(509, o.get("ids").get(0).asInt());
    assertEquals("<|bos|>héllo 🦀", o.get("decoded").asText());

    r =
        run(
            "tokenize",
            "--model",
            tmp.resolve("nowhere").toString(),
            "--input",
            in.toString(),
            "--output",
            out.toString());
    assertEquals(1, r.exitCode());
    assertTrue(r.stderr().contains("no tokenizer.json in " + tmp.resolve("nowhere")), r.stderr());

    Path latin1 = tmp.resolve("latin1.jsonl");
    byte[] ok = "{\"text\": \"a\"}\n".getBytes(StandardCharsets.UTF_8);
    byte[] bad = {'{', '"', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xE9, '"', '}', '\n'};
    byte[] both = Arrays.copyOf(ok, ok.length + bad.length);
    System.arraycopy(bad, 0, both, ok.length, bad.length);
    Files.write(latin1, both);
    r =
        run(
            "tokenize",
            "--model",
            model.toString(),
            "--input",
            latin1.toString(),
            "--output",
            out.toString());
    assertEquals(1, r.exitCode());
    assertTrue(r.stderr().contains(latin1 + ":2: not valid UTF-8"), r.stderr());

    r =
        run(
            "tokenize",
            "--model",
            model.toString(),
            "--input",
            in.toString(),
            "--output",
            tmp.resolve("no/such/dir/out.jsonl").toString());
    assertEquals(1, r.exitCode());
    assertTrue(r.stderr().startsWith("tokenize: "), r.stderr());
  }
}
