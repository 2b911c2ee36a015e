package ai.tilt.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.model.Fixtures;
import ai.tilt.runtime.Torch;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The model reward against transformers' scores of the llama_rm fixture, and its errors. */
class ModelRewardTest {
  static final Path FIXTURES = Path.of("src/test/resources/fixtures");

  @BeforeAll
  static void start() {
    Torch.init();
  }

  static Path fixture(String relative) {
    return Fixtures.dir(relative);
  }

  @Test
  void scoresMatchTransformersAcrossBatchesWithGradModeRestored() throws IOException {
    Path dir = fixture("hf-extra/llama_rm");
    List<RewardInput> inputs = new ArrayList<>();
    List<Double> want = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    for (String line : Files.readAllLines(dir.resolve("expected.jsonl"))) {
      JsonNode n = json.readTree(line);
      long[] ids = new long[n.get("ids").size()];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = n.get("ids").get(i).asLong();
      }
      // prompt = the first id, completion = the rest, taken as given (no stop token added or
      // dropped)
      inputs.add(
          new RewardInput(
              null,
              null,
              new long[] {ids[0]},
              null,
              Arrays.copyOfRange(ids, 1, ids.length),
              false));
      want.add(n.get("score").asDouble());
    }
    assertEquals(5, inputs.size());
    // relative to the context's base directory; batch_size 2 splits 5 sequences into 3 padded
    // passes
    RewardContext ctx = new RewardContext(null, FIXTURES.resolve("hf-extra"), null);
    boolean grad = JniUtils.isGradMode();
    try (Reward rm = new ModelReward("llama_rm", 2).create(ctx)) {
      for (boolean mode : new boolean[] {true, false}) {
        JniUtils.setGradMode(mode);
        double[] got = rm.score(inputs);
        assertEquals(mode, JniUtils.isGradMode(), "grad mode restored");
        for (int i = 0; i < got.length; i++) {
          assertEquals(want.get(i), got[i], 1e-4, "sequence " + i);
        }
      }
      // a sequence's score does not depend on its batch-mates
      assertOne(want.get(3), rm.score(List.of(inputs.get(3))), 1e-4);
      RewardException e =
          assertThrows(
              RewardException.class,
              () ->
                  rm.score(
                      List.of(
                          inputs.get(0),
                          new RewardInput(
                              null, null, new long[] {1}, null, new long[] {100_000}, false))));
      assertTrue(
          e.getMessage().contains("item 1")
              && e.getMessage().contains("100000")
              && e.getMessage().contains("vocabulary"),
          e.getMessage());
      e =
          assertThrows(
              RewardException.class, () -> rm.score(List.of(RewardInput.ofText("q", "text only"))));
      assertTrue(
          e.getMessage().contains("item 0") && e.getMessage().contains("completion ids"),
          e.getMessage());
    } finally {
      JniUtils.setGradMode(grad);
    }
  }

  static void assertOne(double want, double[] got, double tol) {
    assertEquals(1, got.length);
    assertEquals(want, got[0], tol);
  }

  @Test
  void aCausalLmOrAMissingDirectoryIsAClearError() {
    Path lm = fixture("hf-tiny/llama_gqa");
    String msg =
        assertThrows(
                IllegalArgumentException.class,
                () -> new ModelReward(lm.toString(), null).create(RewardContext.empty()))
            .getMessage();
    assertTrue(
        msg.contains("reward.path") && msg.contains("causal LM") && msg.contains("llama_gqa"), msg);
    msg =
        assertThrows(
                IllegalArgumentException.class,
                () -> new ModelReward("no/such/dir", null).create(RewardContext.empty()))
            .getMessage();
    assertTrue(msg.contains("reward.path") && msg.contains("no/such/dir"), msg);
  }

  @Test
  void aClosedRewardModelRefusesToScore() {
    Reward rm =
        new ModelReward(fixture("hf-extra/llama_rm").toString(), null)
            .create(RewardContext.empty());
    rm.close();
    rm.close(); // twice is harmless
    assertThrows(
        IllegalStateException.class,
        () -> rm.score(List.of(new RewardInput(null, null, null, null, new long[] {5}, false))));
  }
}
