package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftExample;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Fixtures;
import ai.tilt.model.ModelFiles;
import ai.tilt.runtime.Torch;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Responses packed after one copy of their prompt score exactly as their own prompt + response rows
 * do: every family (learned positions, rotary, a sliding window of 5, q/k norms), prompts of
 * different lengths (one of a single token), and groups of 1, 2 and 3 responses.
 */
class PackedRowsTest {
  @BeforeAll
  static void start() {
    Torch.init();
  }

  static List<ResponseGroup> groups(int n, int vocab, SplittableRandom r) {
    List<ResponseGroup> out = new ArrayList<>();
    int[] promptLens = {5, 1, 9, 2};
    for (int a = 0; a < promptLens.length; a++) {
      List<long[]> responses = new ArrayList<>();
      for (int j = 0; j < n; j++) {
        responses.add(r.longs(2 + r.nextInt(7), 0, vocab).toArray());
      }
      double[] rewards = new double[n];
      out.add(
          new ResponseGroup(
              r.longs(promptLens[a], 0, vocab).toArray(), responses, rewards, a + 1, false));
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "hf-tiny/llama_gqa",
        "hf-tiny/gpt2",
        "hf-tiny/gpt_neox",
        "hf-extra/mistral_window",
        "hf-extra/qwen3"
      })
  void packedEqualsSeparateRows(String family) throws IOException {
    try (CausalLM m = ModelFiles.load(Fixtures.dir(family), Device.cpu());
        NDManager s = m.manager().newSubManager()) {
      SplittableRandom r = new SplittableRandom(3);
      for (int n = 1; n <= 3; n++) {
        List<ResponseGroup> groups = groups(n, m.config().vocabSize(), r);
        float[] packed =
            PackedRows.pack(groups, 0, m.config().slidingWindow())
                .sequenceLogps(s, m)
                .toFloatArray(); // (G, N)
        List<SftExample> rows = new ArrayList<>();
        for (ResponseGroup g : groups) {
          for (long[] resp : g.responses()) {
            rows.add(Rows.row(g.prompt(), resp, g.line()));
          }
        }
        float[] separate = Rows.sequenceLogps(s, m::tokenLogprobs, rows, 0).toFloatArray();
        assertEquals(separate.length, packed.length);
        for (int i = 0; i < packed.length; i++) {
          assertEquals(
              separate[i],
              packed[i],
              1e-4 * Math.max(1, Math.abs(separate[i])),
              family + " n=" + n + " " + i);
        }
      }
    }
  }
}
