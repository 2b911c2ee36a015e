package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Parity with HuggingFace transformers (fp32, eager attention) on the hf-tiny fixtures (4.46) and
 * the hf-extra ones made by scripts/make_hf_fixtures.py (5.17): every completion log-prob within
 * 1e-4 and the last prompt position's logits within 1e-4, with all 8 inputs in one padded batch (so
 * padding, masks and position ids are exercised too).
 */
public class HfParityTest {
  static final ObjectMapper JSON = new ObjectMapper();

  public record Case(long[] prompt, long[] completion, JsonNode expected) {}

  public static List<Case> cases(Path dir) throws IOException {
    List<String> in = Files.readAllLines(dir.resolve("input.jsonl"));
    List<String> ex = Files.readAllLines(dir.resolve("expected.jsonl"));
    List<Case> out = new ArrayList<>();
    for (int i = 0; i < in.size(); i++) {
      JsonNode a = JSON.readTree(in.get(i));
      out.add(
          new Case(
              longs(a.get("prompt_ids")),
              longs(a.get("completion_ids")),
              JSON.readTree(ex.get(i))));
    }
    return out;
  }

  public static long[] longs(JsonNode n) {
    long[] r = new long[n.size()];
    for (int i = 0; i < r.length; i++) {
      r[i] = n.get(i).asLong();
    }
    return r;
  }

  @ParameterizedTest
  @MethodSource("ai.tilt.model.Fixtures#families")
  void logprobsMatchTransformers(String variant) throws IOException {
    Path dir = Fixtures.dir(variant);
    List<Case> cases = cases(dir);
    try (CausalLM model = ModelFiles.load(dir, Device.cpu())) {
      for (boolean left : new boolean[] {false, true}) {
        check(model, cases, left);
      }
    }
  }

  /** Many small logit chunks give the same log-probs as one. */
  @Test
  void chunkedLogprobsEqualOneChunk() throws IOException {
    Path dir = Fixtures.dir("hf-tiny/gpt2");
    List<Case> cases = cases(dir);
    try (CausalLM model = ModelFiles.load(dir, Device.cpu())) {
      model.setLogitsChunkTokens(3 * 8); // 3 positions per chunk for 8 rows
      check(model, cases, false);
    }
  }

  private static void check(CausalLM model, List<Case> cases, boolean left) {
    check(model, cases, left, 1e-4);
  }

  /** Every completion log-prob and last-prompt logit within {@code tol} of transformers'. */
  public static void check(CausalLM model, List<Case> cases, boolean left, double tol) {
    int t = 0;
    for (Case c : cases) {
      t = Math.max(t, c.prompt.length + c.completion.length);
    }
    int b = cases.size();
    long[] ids = new long[b * t];
    long[] mask = new long[b * t];
    int[] offset = new int[b];
    for (int r = 0; r < b; r++) {
      Case c = cases.get(r);
      int len = c.prompt.length + c.completion.length;
      offset[r] = left ? t - len : 0;
      for (int j = 0; j < len; j++) {
        long id = j < c.prompt.length ? c.prompt[j] : c.completion[j - c.prompt.length];
        ids[r * t + offset[r] + j] = id;
        mask[r * t + offset[r] + j] = 1;
      }
    }
    try (NDManager m = model.manager().newSubManager()) {
      NDArray idArr = m.create(ids, new Shape(b, t));
      NDArray maskArr = m.create(mask, new Shape(b, t));
      float[] logp = model.tokenLogprobs(idArr, maskArr, 1).toFloatArray(); // (B, T-1)
      NDArray hidden = model.hidden(idArr, maskArr, CausalLM.positionsFromMask(maskArr), null);
      double worst = 0;
      for (int r = 0; r < b; r++) {
        Case c = cases.get(r);
        JsonNode want = c.expected.get("completion_logprobs");
        for (int j = 0; j < c.completion.length; j++) {
          int pos = offset[r] + c.prompt.length + j; // index of the target token
          double got = logp[r * (t - 1) + pos - 1];
          worst = Math.max(worst, Math.abs(got - want.get(j).asDouble()));
        }
        int last = offset[r] + c.prompt.length - 1;
        float[] logits = model.logits(hidden.get("{}, {}", r, last)).toFloatArray();
        JsonNode wantLogits = c.expected.get("last_logits");
        assertEquals(wantLogits.size(), logits.length);
        for (int v = 0; v < logits.length; v++) {
          worst = Math.max(worst, Math.abs(logits[v] - wantLogits.get(v).asDouble()));
        }
      }
      assertTrue(worst < tol, (left ? "left" : "right") + " padding: max |diff| " + worst);
    }
  }
}
