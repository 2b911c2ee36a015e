package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.tilt.data.PromptSet;
import ai.tilt.data.ResponseGroup;
import ai.tilt.loss.AdvantageOutput;
import ai.tilt.loss.Aggregation;
import ai.tilt.loss.Grpo;
import ai.tilt.model.CausalLM;
import ai.tilt.model.DeferredBackward;
import ai.tilt.model.Fixtures;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Presets;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rollout's C completions of a prompt, packed after one copy of it where that costs less: every
 * token's log-prob, the policy-gradient loss and its gradient are those of each completion run
 * alone after its prompt.
 */
class PolicyPackingTest {
  @TempDir Path tmp;

  private static List<PromptSet.Prompt> prompts(int n, int len, int vocab, SplittableRandom r) {
    List<PromptSet.Prompt> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(
          new PromptSet.Prompt(
              r.longs(len, 1, vocab).toArray(),
              null,
              JsonNodeFactory.instance.objectNode(),
              List.of(),
              null,
              i + 1));
    }
    return out;
  }

  private static long[][] completions(int rows, int vocab, SplittableRandom r) {
    long[][] out = new long[rows][];
    for (int i = 0; i < rows; i++) {
      out[i] = r.longs(1 + r.nextInt(6), 1, vocab).toArray(); // 1 to 6 tokens
    }
    return out;
  }

  @Test
  void packedTokenLogprobsAreEachRowsOwn() throws IOException {
    try (CausalLM m = ModelFiles.load(Fixtures.dir("hf-tiny/llama_gqa"), Device.cpu());
        NDManager s = m.manager().newSubManager()) {
      int c = 4;
      SplittableRandom r = new SplittableRandom(7);
      List<PromptSet.Prompt> prompts = prompts(3, 12, m.config().vocabSize(), r);
      long[][] completions = completions(3 * c, m.config().vocabSize(), r);
      // rows of prompts 2 and 0, as a minibatch may order them
      int[] rows = {8, 9, 10, 11, 0, 1, 2, 3};
      List<ResponseGroup> groups = PolicyRows.groups(prompts, c, completions, rows);
      assertTrue(PackedRows.pays(groups, m.config()), "a 12-token prompt, 4 short completions");
      PackedRows packed = PackedRows.pack(groups, 0, 0);
      float[] flat = packed.targetLogps(s, m).toFloatArray();
      float[][] out = new float[3 * c][];
      PolicyRows.scatter(flat, packed.maxTargets(), c, completions, rows, out);
      int width = 6;
      float[] grid = gathered(s, packed.targetLogps(s, m), packed.responseGrid(groups, width));
      for (int k = 0; k < rows.length; k++) {
        int row = rows[k];
        long[] ids = concat(prompts.get(row / c).ids(), completions[row]);
        NDArray idArr = s.create(ids, new Shape(1, ids.length));
        float[] alone =
            m.tokenLogprobs(idArr, s.ones(idArr.getShape(), DataType.INT64), 12).toFloatArray();
        assertEquals(completions[row].length, out[row].length);
        for (int j = 0; j < alone.length; j++) {
          assertEquals(alone[j], out[row][j], 1e-5, "row " + row + " token " + j);
          assertEquals(alone[j], grid[k * width + j], 1e-5, "grid row " + k + " token " + j);
        }
      }
      assertEquals(null, out[4], "rows not asked for stay empty");
    }
  }

  private static float[] gathered(NDManager s, NDArray targets, long[] grid) {
    return targets
        .reshape(1, -1)
        .gather(s.create(grid, new Shape(1, grid.length)), 1)
        .toFloatArray();
  }

  private static long[] concat(long[] a, long[] b) {
    long[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void packingPaysForShortCompletionsOfALongPromptOnly() {
    ModelConfig small =
        Presets.config(ModelConfig.Family.LLAMA, "small", 50257, null, new long[] {2}, null);
    SplittableRandom r = new SplittableRandom(1);
    // the GRPO benchmark's shape: 64-token prompts, 4 completions of 64
    assertTrue(PackedRows.pays(groups(2, 64, 4, 64, r), small));
    // a reasoning shape: short prompts, 8 long completions; the packed row's attention dominates
    assertFalse(PackedRows.pays(groups(2, 32, 8, 1024, r), small));
    // one completion: packing saves nothing, and ties are not packed
    assertFalse(PackedRows.pays(groups(2, 64, 1, 64, r), small));
  }

  private static List<ResponseGroup> groups(
      int n, int prompt, int c, int completion, SplittableRandom r) {
    List<ResponseGroup> out = new ArrayList<>();
    for (int g = 0; g < n; g++) {
      List<long[]> rs = new ArrayList<>();
      for (int j = 0; j < c; j++) {
        rs.add(r.longs(completion, 1, 100).toArray());
      }
      out.add(new ResponseGroup(r.longs(prompt, 1, 100).toArray(), rs, new double[c], 0, false));
    }
    return out;
  }

  @Test
  void theLossAndItsGradientEqualTheRowsRunAlone() throws IOException {
    try (TrainingRun run = PolicyObjectiveTest.tinyRun(tmp.resolve("run"), 0.04, 6)) {
      Policy p = run.policy();
      int c = 4;
      int vocab = p.model().config().vocabSize();
      SplittableRandom r = new SplittableRandom(11);
      List<PromptSet.Prompt> prompts = prompts(2, 16, vocab, r);
      long[][] completions = completions(2 * c, vocab, r);
      float[][] old = new float[2 * c][];
      float[][] ref = new float[2 * c][];
      float[][] adv = new float[2 * c][];
      for (int i = 0; i < 2 * c; i++) {
        old[i] = new float[completions[i].length];
        ref[i] = new float[completions[i].length];
        adv[i] = new float[completions[i].length];
        Arrays.fill(old[i], -4.5f); // ratios e^(logp + 4.5): some clipped, some not
        Arrays.fill(ref[i], -4.6f);
        Arrays.fill(adv[i], (float) r.nextGaussian());
      }
      boolean[] finished = new boolean[2 * c];
      Arrays.fill(finished, true);
      Rollout rollout =
          new Rollout(
              0,
              prompts,
              c,
              completions,
              finished,
              null,
              old,
              ref,
              new double[2 * c],
              Map.of(),
              new String[2 * c]);
      assertTrue(
          PackedRows.pays(
              PolicyRows.groups(prompts, c, completions, PolicyRows.range(0, 2 * c)),
              p.model().config()));
      Step packed = step(p, rollout, adv, true);
      Step alone = step(p, rollout, adv, false);
      assertEquals(alone.loss, packed.loss, 1e-6 * Math.max(1, Math.abs(alone.loss)));
      assertTrue(Math.abs(alone.loss) > 1e-3, "a loss that tells them apart: " + alone.loss);
      assertEquals(alone.grads.size(), packed.grads.size());
      double norm = 0;
      for (float[] g : alone.grads) {
        for (float v : g) {
          norm += v * v;
        }
      }
      assertTrue(norm > 1e-8, "a gradient to compare: " + norm);
      for (int i = 0; i < alone.grads.size(); i++) {
        float[] a = alone.grads.get(i);
        float[] b = packed.grads.get(i);
        for (int j = 0; j < a.length; j++) {
          assertEquals(a[j], b[j], 1e-5 + 1e-4 * Math.abs(a[j]), "weight " + i + "[" + j + "]");
        }
      }
    }
  }

  private record Step(double loss, List<float[]> grads) {}

  private static Step step(Policy p, Rollout rollout, float[][] adv, boolean packing) {
    PolicyObjective o =
        new PolicyObjective(
                p,
                new Grpo(0.2, null, 0.04, null, null, null),
                0,
                rollout,
                new AdvantageOutput(adv, null, null),
                null,
                Aggregation.PER_SEQUENCE,
                6,
                false,
                false)
            .packing(packing);
    Objective.Window w = o.prepare(List.of(List.of(0, 1)));
    List<NDArray> params = new ArrayList<>(p.model().parameters().values());
    try (NDManager step = p.model().manager().newSubManager();
        GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      for (NDArray w0 : params) {
        NDArray g = w0.getGradient();
        g.subi(g); // gradients add up across backward calls: each step starts from zero
      }
      NDArray loss = o.microLoss(step, w, 0);
      DeferredBackward.backward(gc, loss);
      List<float[]> grads = new ArrayList<>();
      for (NDArray w0 : params) {
        grads.add(w0.getGradient().toFloatArray());
      }
      return new Step(loss.getFloat(), grads);
    }
  }
}
