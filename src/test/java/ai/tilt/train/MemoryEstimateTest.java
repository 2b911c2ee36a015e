package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.cli.Main;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.Presets;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The memory estimate, part by part, worked out by hand for Tilt's tiny Llama. */
class MemoryEstimateTest {
  @TempDir Path tmp;

  // d 64, 2 layers, 4 heads of 16 (no GQA), ffn 256, vocabulary 512, tied head: 164,160 weights
  static final ModelConfig TINY =
      Presets.config(ModelConfig.Family.LLAMA, "tiny", 512, null, new long[0], null);

  // two groups a micro-batch, each a 10-token prompt with two 5-token responses, packed: 20 tokens
  static final MemoryEstimate.Work WORK = new MemoryEstimate.Work(40, 2, 20, 20, 0);

  static Recipe recipe(String... overrides) throws IOException {
    return RecipeLoader.load(
        Path.of("recipes/dpo-offline.yaml"),
        List.of(overrides).isEmpty() ? List.of("train.micro_batch_size=2") : List.of(overrides));
  }

  /** ZeRO-1 keeps 1/W of the moments on each worker; plain data parallelism all of them. */
  @Test
  void zeroOneShardsTheMomentsPerWorker() throws IOException {
    Recipe zero = recipe("train.micro_batch_size=2", "train.zero=1");
    assertEquals(164_160L * 8 / 4, MemoryEstimate.of(TINY, zero, WORK, false, -1, 4).optimizer());
    assertEquals(
        164_160L * 8,
        MemoryEstimate.of(TINY, recipe("train.micro_batch_size=2"), WORK, false, -1, 4)
            .optimizer());
    List<String> remedies =
        MemoryEstimate.remedies(TINY, recipe("train.micro_batch_size=2"), WORK, false, 1, 4);
    assertTrue(
        remedies.stream()
            .anyMatch(s -> s.startsWith("train.zero: 1 (") && s.endsWith("per worker)")),
        remedies.toString());
  }

  @Test
  void fullFineTuningWithAFrozenCopy() throws IOException {
    MemoryEstimate e = MemoryEstimate.of(TINY, recipe("train.micro_batch_size=2"), WORK, false, -1);
    assertEquals(164_160L * 4, e.weights());
    assertEquals(164_160L * 4, e.gradients());
    assertEquals(164_160L * 8, e.optimizer()); // AdamW's two moments
    assertEquals(164_160L * 4, e.reference()); // DPO's frozen fp32 copy
    // per token and block 4 (8 d + 4 (H + 2 KV) hd + 5 f) = 4 (512 + 768 + 1280) = 10,240 bytes,
    // for 40 tokens in 2 blocks; attention probabilities 2 rows x 4 heads x 20 x 20 x 4 B x 2 a
    // block
    assertEquals(40L * 2 * 10_240 + 2 * 25_600, e.activations());
    // one chunk holds all 20 positions: logits, log-softmax and their gradient, 512 wide
    assertEquals(20L * 512 * 4 * 3, e.logits());
    assertEquals(
        MemoryEstimate.CPU_RUNTIME + e.weights() / MemoryEstimate.ALLOCATOR_SLACK_DIVISOR,
        e.runtime());
    assertEquals(
        e.weights()
            + e.gradients()
            + e.optimizer()
            + e.reference()
            + e.activations()
            + e.logits()
            + e.runtime(),
        e.total());
    assertTrue(e.fits(), "unknown free memory never refuses");
  }

  @Test
  void loraCheckpointingAndChunksShrinkTheirParts() throws IOException {
    MemoryEstimate e =
        MemoryEstimate.of(
            TINY,
            recipe(
                "train.micro_batch_size=2",
                "model.lora={rank: 4}",
                "train.gradient_checkpointing=true",
                "train.logits_chunk_tokens=8"),
            WORK,
            false,
            -1);
    // rank 4 on q, k, v, o (64 -> 64) and gate, up (64 -> 256), down (256 -> 64), in 2 blocks
    long adapters = 2 * (4 * 4 * 128 + 3 * 4 * 320);
    assertEquals(11_776, adapters);
    assertEquals(164_160L * 4 + adapters * 4, e.weights());
    assertEquals(adapters * 4, e.gradients());
    assertEquals(adapters * 8, e.optimizer());
    assertEquals(0, e.reference(), "the reference is the base with the adapters off");
    // each block's input (64 floats a token, 2 blocks) plus one block being recomputed, its saved
    // tensors and their gradients
    assertEquals(40L * (2 * 64 * 4 + 2 * 10_240) + 2 * 25_600, e.activations());
    // 8 tokens of logits at once, three (B, c, V) arrays of them
    assertEquals(8L * 512 * 4 * 3, e.logits());
    // bf16-mixed holds the frozen base in bf16
    MemoryEstimate bf =
        MemoryEstimate.of(
            TINY,
            recipe(
                "train.micro_batch_size=2", "model.lora={rank: 4}", "train.precision=bf16-mixed"),
            WORK,
            false,
            -1);
    assertEquals(164_160L * 2 + adapters * 4, bf.weights());
  }

  @Test
  void aRunThatDoesNotFitIsRefusedWithWhatWouldFit() throws IOException {
    Recipe r = recipe("train.micro_batch_size=2");
    MemoryEstimate e = MemoryEstimate.of(TINY, r, WORK, false, 300L << 20); // 300 MB free
    assertFalse(e.fits());
    List<String> remedies = MemoryEstimate.remedies(TINY, r, WORK, false, 300L << 20);
    assertEquals(4, remedies.size(), remedies.toString());
    assertTrue(remedies.get(0).startsWith("model.lora: {rank: 16}"), remedies.toString());
    assertTrue(remedies.get(3).startsWith("train.micro_batch_size: 1"), remedies.toString());
    assertTrue(e.line().startsWith("memory: predicted peak "), e.line());
    assertTrue(e.line().endsWith("with 0.29 GB available"), e.line());
    // tilt train prints the line and refuses, naming the remedies
    String old = System.getProperty("tilt.memory_check");
    System.setProperty("tilt.memory_available", Long.toString(100L << 20));
    try {
      ByteArrayOutputStream console = new ByteArrayOutputStream();
      IllegalStateException refused =
          assertThrows(
              IllegalStateException.class,
              () ->
                  TrainingRun.prepare(
                          recipe("train.max_steps=1"),
                          "x",
                          tmp.resolve("r"),
                          null,
                          new PrintStream(console))
                      .close());
      assertTrue(refused.getMessage().contains("model.lora: {rank: 16}"), refused.getMessage());
      assertTrue(console.toString().contains("memory: predicted peak"), console.toString());
    } finally {
      System.clearProperty("tilt.memory_available");
      if (old != null) {
        System.setProperty("tilt.memory_check", old);
      }
    }
  }

  @Test
  void estimateCommandPrintsTheParts() throws Exception {
    PrintStream saved = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    int code;
    try {
      code =
          Main.commandLine()
              .execute(
                  "estimate",
                  "recipes/dpo-offline.yaml",
                  "--set",
                  "model.lora={rank: 8}",
                  "--json");
    } finally {
      System.setOut(saved);
    }
    assertEquals(0, code, out.toString());
    JsonNode j = new ObjectMapper().readTree(out.toString().trim());
    assertEquals(0, j.get("reference").asLong());
    assertTrue(j.get("weights").asLong() > 164_160L * 4, j.toString());
    assertTrue(j.get("activations").asLong() > 0 && j.get("logits").asLong() > 0, j.toString());
  }
}
