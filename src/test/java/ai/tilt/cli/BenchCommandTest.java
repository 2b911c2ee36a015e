package ai.tilt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each benchmark runs on the tiny preset and ends with one JSON line holding its figure. */
class BenchCommandTest {
  @ParameterizedTest
  @CsvSource({
    "generate --preset tiny --vocab-size 512 --batch-size 2 --prompt-len 4 --new-tokens 6 --repeats 1, tokens_per_s",
    "forward --preset tiny --vocab-size 512 --batch-size 2 --seq-len 16 --steps 1, train_tokens_per_s",
    "train --preset tiny --vocab-size 512 --batch-size 4 --micro-batch-size 2 --prompt-len 8 --completion-len 8 --steps 1, tokens_per_s",
    "dpo --preset tiny --vocab-size 512 --batch-size 2 --micro-batch-size 2 --prompt-len 8 --response-len 8 --steps 1, pairs_per_s"
  })
  void printsOneJsonLineWithItsFigure(String args, String figure) throws Exception {
    PrintStream saved = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    int code;
    try {
      String[] argv = ("bench " + args).split(" ");
      code = Main.commandLine().execute(argv);
    } finally {
      System.setOut(saved);
    }
    assertEquals(0, code);
    String[] lines = out.toString().trim().split("\n");
    JsonNode json = new ObjectMapper().readTree(lines[lines.length - 1]);
    assertTrue(json.get(figure).asDouble() > 0, json.toString());
    assertTrue(json.get("matmul_peak_gflops").asDouble() > 0, json.toString());
    assertTrue(json.has("peak_rss_mb") || json.has("threads"), json.toString());
  }
}
