package ai.tilt.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Fixtures;
import ai.tilt.model.HfParityTest;
import ai.tilt.model.KvCache;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class GeneratorTest {

  /** All 8 fixture prompts in one left-padded batch give HF's 16 greedy ids (EOS ignored). */
  @ParameterizedTest
  @MethodSource("ai.tilt.model.Fixtures#families")
  void greedyMatchesTransformers(String variant) throws IOException {
    Path dir = Fixtures.dir(variant);
    List<HfParityTest.Case> cases = HfParityTest.cases(dir);
    List<long[]> prompts = new ArrayList<>();
    for (HfParityTest.Case c : cases) {
      prompts.add(c.prompt());
    }
    try (CausalLM model = ModelFiles.load(dir, Device.cpu())) {
      int before = model.manager().getManagedArrays().size();
      List<Generator.Generation> out =
          new Generator(model, new long[0]).generate(prompts, SamplingParams.greedy(16));
      for (int i = 0; i < cases.size(); i++) {
        long[] want = HfParityTest.longs(cases.get(i).expected().get("greedy_ids"));
        assertArrayEquals(want, out.get(i).completionIds(), variant + " prompt " + i);
        assertEquals(Generator.FinishReason.LENGTH, out.get(i).finishReason());
      }
      assertEquals(before, model.manager().getManagedArrays().size(), "generation leaked arrays");
    }
  }

  /** The KV cache changes nothing: same sampled ids, log-probs within 1e-5, for every family. */
  @ParameterizedTest
  @MethodSource("ai.tilt.model.Fixtures#families")
  void cacheEqualsRecomputation(String variant) throws IOException {
    Path dir = Fixtures.dir(variant);
    List<long[]> prompts = new ArrayList<>();
    for (HfParityTest.Case c : HfParityTest.cases(dir)) {
      prompts.add(c.prompt());
    }
    SamplingParams params = new SamplingParams(12, 0.9, 0, 1.0, false, true, 7);
    try (CausalLM model = ModelFiles.load(dir, Device.cpu())) {
      Generator g = new Generator(model, new long[0]);
      List<Generator.Generation> cached = g.generate(prompts, params, true);
      List<Generator.Generation> full = g.generate(prompts, params, false);
      for (int i = 0; i < prompts.size(); i++) {
        assertArrayEquals(full.get(i).completionIds(), cached.get(i).completionIds());
        float[] a = full.get(i).logprobs();
        float[] b = cached.get(i).logprobs();
        for (int j = 0; j < a.length; j++) {
          assertEquals(a[j], b[j], 1e-5, "prompt " + i + " token " + j);
        }
      }
    }
  }

  /**
   * A row that hits EOS stops there and reports it, while the other rows go on to the length cap.
   */
  @Test
  void stopsAtEosPerRow() throws IOException {
    Path dir = Fixtures.dir("hf-tiny/llama_gqa");
    List<HfParityTest.Case> cases = HfParityTest.cases(dir);
    long[] greedy0 = HfParityTest.longs(cases.get(0).expected().get("greedy_ids"));
    long eos = greedy0[3]; // row 0 emits this as its 4th token
    List<long[]> prompts = List.of(cases.get(0).prompt(), cases.get(1).prompt());
    long[] greedy1 = HfParityTest.longs(cases.get(1).expected().get("greedy_ids"));
    try (CausalLM model = ModelFiles.load(dir, Device.cpu())) {
      List<Generator.Generation> out =
          new Generator(model, new long[] {eos}).generate(prompts, SamplingParams.greedy(16));
      int firstEos0 = indexOf(greedy0, eos);
      assertEquals(firstEos0 + 1, out.get(0).completionIds().length);
      assertEquals(Generator.FinishReason.EOS, out.get(0).finishReason());
      int firstEos1 = indexOf(greedy1, eos);
      int want1 = firstEos1 < 0 ? 16 : firstEos1 + 1;
      assertEquals(want1, out.get(1).completionIds().length);
      for (int j = 0; j < want1; j++) {
        assertEquals(greedy1[j], out.get(1).completionIds()[j]);
      }
    }
  }

  private static int indexOf(long[] a, long v) {
    for (int i = 0; i < a.length; i++) {
      if (a[i] == v) {
        return i;
      }
    }
    return -1;
  }

  /** Same seed, same samples; another seed, other samples; a row does not depend on its batch. */
  @Test
  void seededAndRowIndependent() throws IOException {
    Path dir = Fixtures.dir("hf-tiny/qwen2");
    List<HfParityTest.Case> cases = HfParityTest.cases(dir);
    List<long[]> prompts = List.of(cases.get(2).prompt(), cases.get(3).prompt());
    SamplingParams p = new SamplingParams(10, 1.0, 50, 0.95, false, true, 11);
    try (CausalLM model = ModelFiles.load(dir, Device.cpu())) {
      Generator g = new Generator(model, new long[0]);
      List<Generator.Generation> a = g.generate(prompts, p);
      List<Generator.Generation> b = g.generate(prompts, p);
      assertArrayEquals(a.get(1).completionIds(), b.get(1).completionIds());
      List<Generator.Generation> c =
          g.generate(prompts, new SamplingParams(10, 1.0, 50, 0.95, false, true, 12));
      assertTrue(!java.util.Arrays.equals(a.get(1).completionIds(), c.get(1).completionIds()));
      for (Generator.Generation gen : a) {
        for (float lp : gen.logprobs()) {
          assertTrue(lp <= 0 && lp > -20, "log-prob " + lp);
        }
      }
    }
  }

  /** Row r sampled alone (with its stream offset) equals row r sampled inside a batch. */
  @Test
  void aRowDoesNotDependOnItsBatch() throws IOException {
    Path dir = Fixtures.dir("hf-tiny/llama_gqa");
    List<long[]> prompts = new ArrayList<>();
    for (HfParityTest.Case c : HfParityTest.cases(dir)) {
      prompts.add(c.prompt());
    }
    SamplingParams p = new SamplingParams(8, 1.0, 0, 0.9, false, true, 21);
    try (CausalLM model = ModelFiles.load(dir, Device.cpu())) {
      Generator g = new Generator(model, new long[0]);
      List<Generator.Generation> batch = g.generate(prompts, p, true, 0);
      for (int r : new int[] {0, 3, 7}) {
        Generator.Generation alone = g.generate(List.of(prompts.get(r)), p, true, r).get(0);
        assertArrayEquals(batch.get(r).completionIds(), alone.completionIds(), "row " + r);
        for (int j = 0; j < alone.logprobs().length; j++) {
          assertEquals(batch.get(r).logprobs()[j], alone.logprobs()[j], 1e-5);
        }
      }
    }
  }

  /**
   * An observer sees every token as it is drawn, with the same top alternatives the result holds; a
   * row it ends stops there (STOPPED) and the other rows draw what they draw without it. Under
   * top-p the top log-probs are of the nucleus the token came from.
   */
  @Test
  void anObserverSeesEachTokenAndMayEndItsRow() throws IOException {
    Path dir = Fixtures.dir("hf-tiny/llama_gqa");
    List<long[]> prompts = new ArrayList<>();
    for (HfParityTest.Case c : HfParityTest.cases(dir)) {
      prompts.add(c.prompt());
    }
    prompts = prompts.subList(0, 3);
    SamplingParams p = new SamplingParams(8, 1.0, 0, 0.9, false, true, 0);
    long[] seeds = {4, 5, 6};
    try (CausalLM model = ModelFiles.load(dir, Device.cpu())) {
      Generator g = new Generator(model, new long[0]);
      List<Generator.Generation> plain = g.generateGroups(prompts, 2, p, seeds);
      List<List<Long>> seen = new ArrayList<>();
      for (int r = 0; r < 6; r++) {
        seen.add(new ArrayList<>());
      }
      List<Generator.Generation> watched =
          g.generateGroups(
              prompts,
              2,
              p,
              seeds,
              3,
              (row, token, logprob, topIds, topLogprobs) -> {
                seen.get(row).add(token);
                assertEquals(3, topIds.length);
                assertTrue(logprob <= topLogprobs[0] + 1e-5f, "the top one is the most likely");
                return row != 2 || seen.get(2).size() < 3; // row 2 ends after its 3rd token
              });
      for (int r = 0; r < 6; r++) {
        long[] want = plain.get(r).completionIds();
        long[] got = watched.get(r).completionIds();
        if (r == 2) {
          assertArrayEquals(java.util.Arrays.copyOf(want, 3), got);
          assertEquals(Generator.FinishReason.STOPPED, watched.get(r).finishReason());
        } else {
          assertArrayEquals(want, got, "row " + r);
          assertEquals(3, watched.get(r).topIds()[0].length);
        }
        assertEquals(got.length, seen.get(r).size());
      }
    }
  }

  /**
   * Rows stopping at EOS at different steps (so the cache drops rows) still equal recomputation.
   */
  @Test
  void cacheCompactionEqualsRecomputation() throws IOException {
    Path dir = Fixtures.dir("hf-tiny/qwen2");
    List<long[]> prompts = new ArrayList<>();
    for (HfParityTest.Case c : HfParityTest.cases(dir)) {
      prompts.add(c.prompt());
    }
    SamplingParams free = new SamplingParams(12, 1.0, 0, 1.0, false, true, 5);
    try (CausalLM model = ModelFiles.load(dir, Device.cpu())) {
      Generator probe = new Generator(model, new long[0]);
      List<Generator.Generation> first = probe.generate(prompts, free);
      // stop tokens: what rows 0 and 5 sample at steps 2 and 6, so several rows end early, at
      // different steps
      long[] eos = {first.get(0).completionIds()[2], first.get(5).completionIds()[6]};
      Generator g = new Generator(model, eos);
      SamplingParams stop = free.withIgnoreEos(false);
      List<Generator.Generation> cached = g.generate(prompts, stop, true);
      List<Generator.Generation> full = g.generate(prompts, stop, false);
      int stopped = 0;
      for (int i = 0; i < prompts.size(); i++) {
        assertArrayEquals(full.get(i).completionIds(), cached.get(i).completionIds(), "row " + i);
        assertEquals(full.get(i).finishReason(), cached.get(i).finishReason());
        for (int j = 0; j < full.get(i).logprobs().length; j++) {
          assertEquals(full.get(i).logprobs()[j], cached.get(i).logprobs()[j], 1e-5);
        }
        stopped += cached.get(i).finishReason() == Generator.FinishReason.EOS ? 1 : 0;
      }
      assertTrue(stopped >= 2 && stopped < prompts.size(), stopped + " rows stopped at EOS");
    }
  }

  /**
   * The one-call decode step (Llama-style families) gives the general path's logits within 1e-5 at
   * every step, and therefore its samples; other families take the general path.
   */
  @ParameterizedTest
  @MethodSource("ai.tilt.model.Fixtures#families")
  void fusedDecodeEqualsGeneralPath(String variant) throws IOException {
    Path dir = Fixtures.dir(variant);
    List<long[]> prompts = new ArrayList<>();
    for (HfParityTest.Case c : HfParityTest.cases(dir)) {
      prompts.add(c.prompt());
    }
    int width = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
    int steps = 10;
    try (CausalLM model = ModelFiles.load(dir, Device.cpu());
        NDManager m = model.manager().newSubManager();
        KvCache fused = new KvCache(m, model.config().numLayers(), width + steps);
        KvCache general = new KvCache(m, model.config().numLayers(), width + steps)) {
      int b = prompts.size();
      long[] ids = new long[b * width];
      long[] mask = new long[b * width];
      for (int r = 0; r < b; r++) {
        long[] p = prompts.get(r);
        System.arraycopy(p, 0, ids, r * width + width - p.length, p.length);
        java.util.Arrays.fill(mask, r * width + width - p.length, (r + 1) * width, 1L);
      }
      NDArray idArr = m.create(ids, new Shape(b, width));
      NDArray maskArr = m.create(mask, new Shape(b, width));
      NDArray pos = CausalLM.positionsFromMask(maskArr);
      model.hidden(idArr, maskArr, pos, fused);
      model.hidden(idArr, maskArr, pos, general);
      boolean llamaStyle =
          model.config().family() != ModelConfig.Family.GPT2
              && model.config().family() != ModelConfig.Family.GPT_NEOX;
      assertEquals(llamaStyle, model.fusedDecodeApplies(fused), variant);
      NDArray next = pos.get(":, -1:").add(1); // (B, 1)
      NDArray token = idArr.get(":, -1:"); // (B, 1)
      for (int step = 0; step < steps; step++) {
        try (NDManager s = m.newSubManager()) {
          NDArray t = s.create(token.toLongArray(), new Shape(b, 1));
          NDArray at = s.create(next.toLongArray(), new Shape(b, 1));
          model.setFusedDecode(true);
          float[] a = model.decodeLogits(t, at, fused).toFloatArray();
          model.setFusedDecode(false);
          NDArray g = model.decodeLogits(t, at, general);
          float[] c = g.toFloatArray();
          for (int j = 0; j < a.length; j++) {
            assertEquals(c[j], a[j], 1e-5 * Math.max(1, Math.abs(c[j])), variant + " step " + step);
          }
          token = g.argMax(-1).reshape(b, 1);
          token.attach(m);
          next = next.add(1);
        }
      }
      assertEquals(width + steps, fused.length());
      assertEquals(width + steps, general.length());
    }
  }

  /**
   * A prompt repeated C times (on-policy sampling) is prefilled once: every row equals the same row
   * generated from distinct prompts, with its own stream.
   */
  @Test
  void repeatedPromptsSharePrefill() throws IOException {
    Path dir = Fixtures.dir("hf-extra/qwen3");
    List<HfParityTest.Case> cases = HfParityTest.cases(dir);
    long[] p0 = cases.get(0).prompt();
    long[] p1 = cases.get(1).prompt();
    List<long[]> repeated = List.of(p0, p0.clone(), p1, p0, p1);
    SamplingParams params = new SamplingParams(9, 1.0, 0, 1.0, false, true, 3);
    try (CausalLM model = ModelFiles.load(dir, Device.cpu())) {
      Generator g = new Generator(model, new long[0]);
      List<Generator.Generation> shared = g.generate(repeated, params, true, 0);
      for (int r = 0; r < repeated.size(); r++) {
        Generator.Generation alone = g.generate(List.of(repeated.get(r)), params, false, r).get(0);
        assertArrayEquals(alone.completionIds(), shared.get(r).completionIds(), "row " + r);
        for (int j = 0; j < alone.logprobs().length; j++) {
          assertEquals(alone.logprobs()[j], shared.get(r).logprobs()[j], 1e-5);
        }
      }
      assertTrue(
          !java.util.Arrays.equals(shared.get(0).completionIds(), shared.get(1).completionIds()),
          "two samples of one prompt should differ");
    }
  }

  /** Writing past the capacity fails with the counts instead of corrupting memory. */
  @Test
  void aFullCacheSaysSo() throws IOException {
    Path dir = Fixtures.dir("hf-tiny/llama_gqa");
    try (CausalLM model = ModelFiles.load(dir, Device.cpu());
        NDManager m = model.manager().newSubManager();
        KvCache cache = new KvCache(m, model.config().numLayers(), 4)) {
      NDArray ids = m.create(new long[] {1, 2, 3, 4, 5}, new Shape(1, 5));
      NDArray mask = m.ones(new Shape(1, 5), ai.djl.ndarray.types.DataType.INT64);
      IllegalStateException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              IllegalStateException.class,
              () -> model.hidden(ids, mask, CausalLM.positionsFromMask(mask), cache));
      assertTrue(e.getMessage().contains("0 + 5 positions exceed its 4"), e.getMessage());
    }
  }
}
