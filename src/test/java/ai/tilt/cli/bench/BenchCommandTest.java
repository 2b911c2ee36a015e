package ai.tilt.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.cli.Main;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

/**
 * Each benchmark runs on the tiny preset and ends with one JSON line: its settings as asked, and
 * figures that agree with each other (a rate with its time and counts, an MFU with its GFLOP/s and
 * peak), so a wrong count or unit shows.
 */
class BenchCommandTest {
  static JsonNode bench(String args) throws Exception {
    PrintStream saved = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    int code;
    try {
      code = Main.commandLine().execute(("bench " + args).split(" "));
    } finally {
      System.setOut(saved);
    }
    assertEquals(0, code);
    String[] lines = out.toString().trim().split("\n");
    JsonNode json = new ObjectMapper().readTree(lines[lines.length - 1]);
    assertTrue(json.get("matmul_peak_gflops").asDouble() > 0, json.toString());
    assertTrue(json.get("peak_rss_mb").asInt() > 50, json.toString());
    return json;
  }

  /** Figures are printed with 3 decimals: ratios of them agree to that rounding. */
  static void close(double want, double got, JsonNode json, String what) {
    assertEquals(want, got, 0.002 * Math.abs(want) + 0.0015, what + ": " + json);
  }

  /** As {@link #close} for a rate computed from step_s, which is rounded to 0.5 ms. */
  static void perStep(double count, double got, JsonNode json, String what) {
    double stepS = json.get("step_s").asDouble();
    double want = count / stepS;
    assertEquals(want, got, want * (0.0005 / stepS) + 0.002 * want, what + ": " + json);
  }

  @Test
  void generate() throws Exception {
    JsonNode j =
        bench(
            "generate --preset tiny --vocab-size 512 --batch-size 2 --prompt-len 4 --new-tokens 6"
                + " --repeats 1");
    assertEquals(2, j.get("batch").asInt());
    assertEquals(4, j.get("prompt_len").asInt());
    assertEquals(6, j.get("new_tokens").asInt());
    assertEquals("llama-tiny-v512", j.get("model").asText());
    assertTrue(j.get("tokens_per_s").asDouble() > 0);
    close(
        j.get("tokens_per_s").asDouble() / j.get("tokens_per_s_no_cache").asDouble(),
        j.get("kv_cache_speedup").asDouble(),
        j,
        "kv_cache_speedup = cached / uncached tokens/s");
    close(
        j.get("gflops").asDouble() / j.get("matmul_peak_gflops").asDouble(),
        j.get("mfu").asDouble(),
        j,
        "mfu = gflops / peak");
  }

  @Test
  void forward() throws Exception {
    JsonNode j =
        bench("forward --preset tiny --vocab-size 512 --batch-size 2 --seq-len 16 --steps 1");
    assertEquals(2, j.get("batch").asInt());
    assertEquals(16, j.get("seq_len").asInt());
    // no timing comparison (one step of a tiny model is noise); the FLOP accounting instead:
    // a training token costs three forward tokens (6N against 2N, attention alike)
    close(
        3.0,
        (j.get("train_gflops").asDouble() / j.get("train_tokens_per_s").asDouble())
            / (j.get("forward_gflops").asDouble() / j.get("forward_tokens_per_s").asDouble()),
        j,
        "train FLOPs per token / forward FLOPs per token");
    close(
        j.get("train_gflops").asDouble() / j.get("matmul_peak_gflops").asDouble(),
        j.get("train_mfu").asDouble(),
        j,
        "train_mfu = train_gflops / peak");
  }

  @Test
  void train() throws Exception {
    JsonNode j =
        bench(
            "train --preset tiny --vocab-size 512 --batch-size 4 --micro-batch-size 2"
                + " --prompt-len 8 --completion-len 8 --steps 1");
    assertEquals(4, j.get("batch").asInt());
    assertEquals(2, j.get("micro_batch").asInt());
    assertEquals(16.0, j.get("mean_len").asDouble(), "prompt 8 + completion 8");
    perStep(4, j.get("samples_per_s").asDouble(), j, "batch / step_s");
    close(
        j.get("samples_per_s").asDouble() * 16,
        j.get("tokens_per_s").asDouble(),
        j,
        "tokens/s = samples/s x 16");
  }

  @Test
  void dpo() throws Exception {
    JsonNode j =
        bench(
            "dpo --preset tiny --vocab-size 512 --batch-size 2 --micro-batch-size 2 --prompt-len 8"
                + " --response-len 8 --steps 1");
    assertEquals(2, j.get("pairs").asInt());
    double pairs = j.get("pairs_per_s").asDouble();
    perStep(2, pairs, j, "pairs / step_s");
    close(pairs * (8 + 8 + 8), j.get("tokens_per_s").asDouble(), j, "prompt once + 2 responses");
    close(pairs * 2 * (8 + 8), j.get("row_tokens_per_s").asDouble(), j, "two rows per pair");
  }

  /** In-process, server and overlapped sampling in one run; the ratios are of the printed times. */
  @Test
  void onlineAgainstAServer() throws Exception {
    JsonNode j =
        bench(
            "online --preset tiny --vocab-size 512 --prompts 2 --samples 2 --prompt-len 4"
                + " --new-tokens 4 --iterations 1 --serve");
    assertEquals(2, j.get("prompts_per_iteration").asInt());
    for (String mode : new String[] {"in_process", "server", "overlap"}) {
      assertTrue(j.get(mode + "_iteration_s").asDouble() > 0, j.toString());
    }
    assertTrue(j.get("server_weight_sync_s").asDouble() > 0, "the server got the weights: " + j);
    close(
        j.get("server_iteration_s").asDouble() / j.get("in_process_iteration_s").asDouble(),
        j.get("server_vs_in_process").asDouble(),
        j,
        "server / in-process");
    close(
        j.get("overlap_iteration_s").asDouble() / j.get("server_iteration_s").asDouble(),
        j.get("overlap_vs_server").asDouble(),
        j,
        "overlap / server");
  }

  @Test
  void data() throws Exception {
    java.nio.file.Path shards =
        java.nio.file.Path.of(getClass().getResource("/data/shards/part-00000.parquet").toURI())
            .getParent();
    PrintStream saved = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    try {
      assertEquals(
          0,
          Main.commandLine()
              .execute("bench", "data", "--file", shards.toString(), "--rounds", "2"));
    } finally {
      System.setOut(saved);
    }
    JsonNode json = new ObjectMapper().readTree(out.toString().trim());
    assertEquals(4, json.get("rows").asInt(), json.toString());
    assertEquals(2, json.get("files").asInt(), json.toString());
    long bytes =
        java.nio.file.Files.size(shards.resolve("part-00000.parquet"))
            + java.nio.file.Files.size(shards.resolve("part-00001.parquet"));
    assertEquals(bytes, json.get("bytes").asLong(), json.toString());
    assertTrue(json.get("rows_per_s").asDouble() > 0, json.toString());
    assertTrue(
        json.get("peak_rss_mb").asLong() >= json.get("rss_before_mb").asLong(), json.toString());
  }
}
