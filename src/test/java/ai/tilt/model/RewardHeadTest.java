package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The score head of *ForSequenceClassification reward models, against transformers 5.17. */
class RewardHeadTest {
  @TempDir Path tmp;

  static float[] scores(CausalLM rm, List<long[]> seqs, boolean left) {
    int t = seqs.stream().mapToInt(s -> s.length).max().orElse(1);
    int b = seqs.size();
    long[] ids = new long[b * t];
    long[] mask = new long[b * t];
    for (int r = 0; r < b; r++) {
      long[] s = seqs.get(r);
      int off = left ? t - s.length : 0;
      for (int j = 0; j < s.length; j++) {
        ids[r * t + off + j] = s[j];
        mask[r * t + off + j] = 1;
      }
    }
    try (NDManager m = rm.manager().newSubManager()) {
      NDArray x = m.create(ids, new Shape(b, t));
      return rm.scores(x, m.create(mask, new Shape(b, t))).toFloatArray();
    }
  }

  @Test
  void scoresMatchTransformersInPaddedBatches() throws IOException {
    Path dir = Fixtures.dir("hf-extra/llama_rm");
    List<long[]> seqs = new ArrayList<>();
    List<Double> want = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    for (String line : Files.readAllLines(dir.resolve("expected.jsonl"))) {
      JsonNode n = json.readTree(line);
      seqs.add(HfParityTest.longs(n.get("ids")));
      want.add(n.get("score").asDouble());
    }
    assertEquals(Head.SCORE, ModelFiles.headOf(dir));
    try (CausalLM rm = ModelFiles.load(dir, Device.cpu())) {
      for (boolean left : new boolean[] {false, true}) {
        float[] got = scores(rm, seqs, left);
        for (int i = 0; i < got.length; i++) {
          assertEquals(
              want.get(i), got[i], 1e-4, (left ? "left" : "right") + " padding, sequence " + i);
        }
      }
      // saved and reloaded: same layout, same scores
      ModelFiles.save(rm, tmp.resolve("rm"), "F32", Long.MAX_VALUE);
      JsonNode config = json.readTree(tmp.resolve("rm/config.json").toFile());
      assertEquals("LlamaForSequenceClassification", config.get("architectures").get(0).asText());
      try (CausalLM again = ModelFiles.load(tmp.resolve("rm"), Device.cpu())) {
        assertEquals(scores(rm, seqs, false)[3], scores(again, seqs, false)[3], 0f);
      }
    }
  }

  @Test
  void anLmBecomesARewardModelWithAFreshScoreHead() throws IOException {
    Path lm = Fixtures.dir("hf-tiny/llama_gqa");
    try (CausalLM rm = ModelFiles.load(lm, Device.cpu(), Head.SCORE, 3)) {
      assertTrue(rm.parameters().containsKey(WeightNames.SCORE));
      assertFalse(rm.parameters().containsKey("lm_head.weight"));
      float[] s = scores(rm, List.of(new long[] {5, 6, 7}, new long[] {9}), false);
      assertTrue(s[0] != s[1] && Float.isFinite(s[0]));
      float[] w = rm.parameters().get(WeightNames.SCORE).toFloatArray();
      double sq = 0;
      for (float f : w) {
        sq += f * f;
      }
      assertEquals(0.02, Math.sqrt(sq / w.length), 0.008);
    }
  }
}
