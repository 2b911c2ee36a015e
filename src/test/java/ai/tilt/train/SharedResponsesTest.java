package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.tilt.data.ResponseGroup;
import ai.tilt.loss.Dpo;
import ai.tilt.model.CausalLM;
import ai.tilt.model.DeferredBackward;
import ai.tilt.model.Fixtures;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Presets;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * All pairs of a prompt's samples run each distinct sequence once: the loss, its gradient and every
 * group's log-probs are those of each group run on its own copies.
 */
class SharedResponsesTest {
  /**
   * Every pair (i < j) of each prompt's C samples, as PairBuilder makes them; {@code shared} hands
   * the same arrays to every pair, else each pair gets its own copies.
   */
  private static List<ResponseGroup> allPairs(
      int prompts, int promptLen, int c, int maxLen, boolean shared, int vocab) {
    return allPairs(prompts, promptLen, c, maxLen, false, shared, vocab);
  }

  /** As above; {@code fixed}: every sample {@code maxLen} tokens long. */
  private static List<ResponseGroup> allPairs(
      int prompts, int promptLen, int c, int maxLen, boolean fixed, boolean shared, int vocab) {
    SplittableRandom r = new SplittableRandom(5);
    List<ResponseGroup> out = new ArrayList<>();
    for (int p = 0; p < prompts; p++) {
      long[] prompt = r.longs(promptLen, 1, vocab).toArray();
      long[][] samples = new long[c][];
      for (int k = 0; k < c; k++) {
        samples[k] = r.longs(fixed ? maxLen : 1 + r.nextInt(maxLen), 1, vocab).toArray();
      }
      for (int i = 0; i < c; i++) {
        for (int j = i + 1; j < c; j++) {
          out.add(
              new ResponseGroup(
                  shared ? prompt : prompt.clone(),
                  List.of(
                      shared ? samples[i] : samples[i].clone(),
                      shared ? samples[j] : samples[j].clone()),
                  new double[] {1, 0},
                  p + 1,
                  false));
        }
      }
    }
    return out;
  }

  private record Step(double loss, List<float[]> grads) {}

  private static Step step(CausalLM policy, CausalLM reference, List<ResponseGroup> groups) {
    PreferenceObjective o =
        PreferenceObjective.against(
            policy, ReferenceModel.of(reference), new Dpo(0.5, null), 0, groups);
    List<Integer> all = new ArrayList<>();
    for (int i = 0; i < groups.size(); i++) {
      all.add(i);
    }
    Objective.Window w = o.prepare(List.of(all));
    List<NDArray> params = new ArrayList<>(policy.parameters().values());
    try (NDManager s = policy.manager().newSubManager();
        GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      for (NDArray p : params) {
        JniUtils.zeroGrad((PtNDArray) p);
      }
      NDArray loss = o.microLoss(s, w, 0);
      DeferredBackward.backward(gc, loss);
      List<float[]> grads = new ArrayList<>();
      for (NDArray p : params) {
        grads.add(p.getGradient().toFloatArray());
      }
      return new Step(loss.getFloat(), grads);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama_gqa", "gpt2"})
  void theLossAndItsGradientAreThoseOfEachPairRunAlone(String fixture) throws IOException {
    try (CausalLM policy = ModelFiles.load(Fixtures.dir("hf-tiny/" + fixture), Device.cpu());
        CausalLM reference = ModelFiles.load(Fixtures.dir("hf-tiny/" + fixture), Device.cpu())) {
      for (NDArray p : policy.parameters().values()) {
        p.setRequiresGradient(true);
      }
      // the reference differs from the policy, so the loss is not its value at h = 0
      for (NDArray p : reference.parameters().values()) {
        p.addi(p.getManager().randomNormal(0, 0.02f, p.getShape(), p.getDataType()));
      }
      int vocab = policy.config().vocabSize();
      List<ResponseGroup> shared = allPairs(3, 5, 5, 6, true, vocab); // 3 x 10 pairs
      List<ResponseGroup> copies = allPairs(3, 5, 5, 6, false, vocab);
      SharedResponses plan = SharedResponses.of(shared, policy.config());
      assertNotNull(plan, "pairs of the same samples are shared");
      assertEquals(15, plan.sequences(), "3 prompts x 5 distinct samples, not 60 sequences");
      assertNull(SharedResponses.of(copies, policy.config()), "equal but separate arrays");
      Step a = step(policy, reference, shared);
      Step b = step(policy, reference, copies);
      assertTrue(Math.abs(b.loss - 0.6931) > 1e-3, "a loss away from log 2: " + b.loss);
      assertEquals(b.loss, a.loss, 1e-5 * Math.abs(b.loss));
      double norm = 0;
      for (int i = 0; i < b.grads.size(); i++) {
        float[] x = b.grads.get(i);
        float[] y = a.grads.get(i);
        for (int j = 0; j < x.length; j++) {
          norm += x[j] * x[j];
          assertEquals(x[j], y[j], 1e-6 + 1e-4 * Math.abs(x[j]), "weight " + i + "[" + j + "]");
        }
      }
      assertTrue(norm > 1e-8, "a gradient to compare: " + norm);
    }
  }

  @Test
  void noWidePackedRowWiderThanTwiceAGroupsRow() {
    ModelConfig small =
        Presets.config(ModelConfig.Family.LLAMA, "small", 4096, null, new long[0], null);
    // 8 samples of 60 tokens after a 100-token prompt: one packed row (580 tokens) costs the
    // fewest FLOPs, but a pair's row is 220 wide, so each sample runs alone (160 wide)
    List<ResponseGroup> groups = allPairs(2, 100, 8, 60, true, true, 4096);
    SharedResponses plan = SharedResponses.of(groups, small);
    assertNotNull(plan);
    assertFalse(plan.packed());
    assertEquals(16, plan.sequences());
    assertTrue(PackedRows.pays(shapes(2, 100, 8, 60), small), "by FLOPs alone it would pack");
    // 8 samples of 4 tokens after a 10-token prompt: 42 wide, under 512, so it packs
    assertTrue(SharedResponses.of(allPairs(2, 10, 8, 4, true, true, 4096), small).packed());
  }

  /** Groups of the given shape, a group per prompt with all its samples (only lengths matter). */
  private static List<ResponseGroup> shapes(int prompts, int promptLen, int c, int len) {
    List<ResponseGroup> out = new ArrayList<>();
    for (int p = 0; p < prompts; p++) {
      List<long[]> samples = new ArrayList<>();
      for (int k = 0; k < c; k++) {
        samples.add(new long[len]);
      }
      out.add(new ResponseGroup(new long[promptLen], samples, new double[c], p + 1, false));
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void bothLayoutsAndUnequalCountsGiveEachGroupsLogprobs(boolean longPrompt) throws IOException {
    try (CausalLM model = ModelFiles.load(Fixtures.dir("hf-tiny/llama_gqa"), Device.cpu());
        NDManager s = model.manager().newSubManager()) {
      int vocab = model.config().vocabSize();
      // a long prompt with short samples packs; a short prompt with long samples runs them alone
      // (a packed row's attention grows with the square of all four)
      List<ResponseGroup> groups =
          new ArrayList<>(
              longPrompt
                  ? allPairs(2, 40, 4, 3, false, true, vocab)
                  : allPairs(2, 2, 4, 100, true, true, vocab));
      // the second prompt keeps only the pairs among its first three samples: fewer distinct
      // samples than the first prompt's four, so its packed row repeats one
      long[] fourth = groups.get(groups.size() - 1).responses().get(1);
      groups.removeIf(g -> g.line() == 2 && g.responses().get(1) == fourth);
      assertEquals(9, groups.size());
      SharedResponses plan = SharedResponses.of(groups, model.config());
      assertNotNull(plan);
      assertEquals(longPrompt, plan.packed(), "the cheaper layout");
      // 4 + 3 distinct samples; packed, the second prompt's row repeats one
      assertEquals(longPrompt ? 8 : 7, plan.sequences());
      float[] got;
      float[] want;
      try (ai.tilt.runtime.NoGrad off = ai.tilt.runtime.NoGrad.enter()) {
        got = plan.sequenceLogps(s, model, 0).toFloatArray();
        want = PackedRows.pack(groups, 0, 0).sequenceLogps(s, model).toFloatArray();
      }
      assertEquals(want.length, got.length);
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], got[i], 1e-4 + 1e-5 * Math.abs(want[i]), "response " + i);
      }
      assertFalse(want[0] == want[1], "responses that differ");
    }
  }
}
