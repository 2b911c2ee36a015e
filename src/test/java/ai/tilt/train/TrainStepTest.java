package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.tilt.data.SftExample;
import ai.tilt.loss.Aggregation;
import ai.tilt.model.CausalLM;
import ai.tilt.model.DeferredBackward;
import ai.tilt.model.ModelConfig;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Presets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TrainStepTest {
  @TempDir Path tmp;

  static CausalLM model() {
    ModelConfig c = Presets.config(ModelConfig.Family.LLAMA, "tiny", 97, null, new long[0], null);
    CausalLM m = ModelFiles.random(c, 11, 0.05f, Device.cpu());
    for (NDArray p : m.parameters().values()) {
      p.setRequiresGradient(true);
    }
    return m;
  }

  /** Sequences of different lengths with different prompt lengths, so padding and masks matter. */
  static List<SftExample> data(int n) {
    SplittableRandom r = new SplittableRandom(5);
    List<SftExample> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int prompt = 2 + r.nextInt(6);
      int len = prompt + 2 + r.nextInt(9);
      long[] ids = r.longs(len, 0, 97).toArray();
      boolean[] t = new boolean[len];
      for (int j = prompt; j < len; j++) {
        t[j] = true;
      }
      out.add(new SftExample(ids, t, i + 1, false));
    }
    return out;
  }

  static Map<String, float[]> step(
      List<List<SftExample>> micros, Aggregation norm, double[] lossOut) {
    try (CausalLM m = model()) {
      try (AdamW opt = new AdamW(m.parameters(), 0.9, 0.999, 1e-8, 0.0)) {
        SftObjective obj = new SftObjective(m, 0, norm);
        SftObjective.SftWindow w = obj.window(micros);
        TrainStep.Result r =
            new TrainStep(m.manager(), m.parameters(), opt, 0)
                .run(micros.size(), (s, i) -> obj.microLoss(s, w, i), 1e-2);
        lossOut[0] = r.loss();
        lossOut[1] = r.gradNorm();
        // after one step AdamW's first moment is (1 - beta1) * gradient: the accumulated gradient
        // itself
        Map<String, float[]> out = new LinkedHashMap<>();
        List<NDArray> moments = opt.stateArrays();
        int i = 0;
        for (String k : m.parameters().keySet()) {
          out.put(k, moments.get(i++).toFloatArray());
        }
        return out;
      }
    }
  }

  /**
   * k accumulated micro-batches give the update one batch k times larger gives, both
   * normalisations.
   */
  @ParameterizedTest
  @EnumSource(
      value = Aggregation.class,
      names = {"PER_TOKEN", "PER_SEQUENCE"})
  void accumulationEqualsOneLargeBatch(Aggregation norm) {
    List<SftExample> all = data(12);
    double[] big = new double[2];
    double[] small = new double[2];
    Map<String, float[]> a = step(List.of(all), norm, big);
    Map<String, float[]> b =
        step(List.of(all.subList(0, 4), all.subList(4, 8), all.subList(8, 12)), norm, small);
    assertEquals(big[0], small[0], 1e-5 * Math.abs(big[0]), "loss");
    assertEquals(big[1], small[1], 1e-4 * big[1], "grad norm");
    for (String k : a.keySet()) {
      float[] x = a.get(k);
      float[] y = b.get(k);
      double scale = 0;
      for (float v : x) {
        scale = Math.max(scale, Math.abs(v));
      }
      for (int i = 0; i < x.length; i++) {
        assertEquals(x[i], y[i], 1e-5 * scale + 1e-12, k + "[" + i + "]");
      }
    }
  }

  /**
   * The two normalisations against sums of per-token NLLs computed unpadded, one sequence at a
   * time: per_token divides by all target tokens, per_sequence averages each sequence's mean.
   */
  @Test
  void normalisationsMatchHandComputedMeans() {
    List<SftExample> d = data(12).subList(0, 3);
    double[][] nll = new double[d.size()][]; // per target token, each sequence alone
    try (CausalLM m = model();
        NDManager s = m.manager().newSubManager()) {
      for (int i = 0; i < d.size(); i++) {
        SftExample e = d.get(i);
        int n = e.ids().length;
        NDArray ids = s.create(e.ids(), new Shape(1, n));
        NDArray mask = s.ones(new Shape(1, n), DataType.INT64);
        float[] logp = m.tokenLogprobs(ids, mask, 1).toFloatArray(); // positions 1..n-1
        List<Double> v = new ArrayList<>();
        for (int t = 1; t < n; t++) {
          if (e.targets()[t]) {
            v.add((double) -logp[t - 1]);
          }
        }
        nll[i] = v.stream().mapToDouble(Double::doubleValue).toArray();
      }
    }
    double tokens = 0;
    double sum = 0;
    double meanOfMeans = 0;
    for (double[] seq : nll) {
      double seqSum = java.util.Arrays.stream(seq).sum();
      sum += seqSum;
      tokens += seq.length;
      meanOfMeans += seqSum / seq.length / nll.length;
    }
    assertTrue(nll[0].length != nll[1].length, "sequences of different lengths");
    double[] tok = new double[2];
    double[] seq = new double[2];
    step(List.of(d.subList(0, 2), d.subList(2, 3)), Aggregation.PER_TOKEN, tok);
    step(List.of(d.subList(0, 2), d.subList(2, 3)), Aggregation.PER_SEQUENCE, seq);
    assertEquals(sum / tokens, tok[0], 1e-5, "per_token: every target token weighs the same");
    assertEquals(meanOfMeans, seq[0], 1e-5, "per_sequence: every sequence weighs the same");
    assertTrue(Math.abs(sum / tokens - meanOfMeans) > 1e-3, "the data tells the two apart");
  }

  @Test
  void nonFiniteStepIsSkippedAndLeavesWeightsAndClearsGradients() {
    try (CausalLM m = model();
        AdamW opt = new AdamW(m.parameters(), 0.9, 0.999, 1e-8, 0.0)) {
      Map<String, float[]> before = new LinkedHashMap<>();
      m.parameters().forEach((k, v) -> before.put(k, v.toFloatArray()));
      SftObjective obj = new SftObjective(m, 0, Aggregation.PER_TOKEN);
      SftObjective.SftWindow w = obj.window(List.of(data(4)));
      TrainStep stepper = new TrainStep(m.manager(), m.parameters(), opt, 1.0);
      TrainStep.Result bad = stepper.run(1, (s, i) -> obj.microLoss(s, w, i).mul(Float.NaN), 1e-2);
      assertFalse(bad.applied());
      assertTrue(Double.isNaN(bad.loss()));
      m.parameters().forEach((k, v) -> assertArrayEquals(before.get(k), v.toFloatArray(), k));
      assertEquals(0, opt.step());
      // the next, finite step is unaffected by the NaN gradients of the skipped one
      TrainStep.Result good = stepper.run(1, (s, i) -> obj.microLoss(s, w, i), 1e-2);
      assertTrue(good.applied() && Double.isFinite(good.gradNorm()));
    }
  }

  @Test
  void clippingScalesTheGradientToTheLimit() {
    try (CausalLM m = model();
        AdamW opt = new AdamW(m.parameters(), 0.9, 0.999, 1e-8, 0.0)) {
      SftObjective obj = new SftObjective(m, 0, Aggregation.PER_TOKEN);
      SftObjective.SftWindow w = obj.window(List.of(data(4)));
      // the loss times 1000 has a gradient norm far above the clip; grad_norm is reported before
      // clipping
      TrainStep.Result r =
          new TrainStep(m.manager(), m.parameters(), opt, 0.5)
              .run(1, (s, i) -> obj.microLoss(s, w, i).mul(1000f), 1e-2);
      assertTrue(r.gradNorm() > 100, "norm " + r.gradNorm());
      // the first moment after one step is 0.1 x the clipped gradient: its global norm is 0.1 x 0.5
      double sq = 0;
      for (NDArray mom : opt.stateArrays().subList(0, m.parameters().size())) {
        sq += mom.square().sum().getFloat();
      }
      assertEquals(0.05, Math.sqrt(sq), 1e-4);
    }
  }

  @Test
  void referenceBuildsNoGraphInsideACollector() throws Exception {
    try (CausalLM m = model()) {
      ai.tilt.model.ModelFiles.save(m, tmp.resolve("ref"), "F32", Long.MAX_VALUE);
      Path dir = tmp.resolve("ref");
      java.nio.file.Files.writeString(
          dir.resolve("config.json"), ai.tilt.model.HfConfigWriter.toJson(m.config()).toString());
      try (ReferenceModel ref = ReferenceModel.load(dir, Device.cpu());
          NDManager s = m.manager().newSubManager()) {
        NDArray ids = s.create(new long[] {1, 5, 9, 3, 7}, new Shape(1, 5));
        NDArray mask = s.ones(new Shape(1, 5), DataType.INT64);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          NDArray r = ref.tokenLogprobs(ids, mask, 1);
          NDArray p = m.tokenLogprobs(ids, mask, 1);
          assertArrayEquals(p.toFloatArray(), r.toFloatArray(), 1e-6f);
          // no graph behind the reference's output: backward through it alone has nothing to follow
          assertThrows(ai.djl.engine.EngineException.class, () -> gc.backward(r.sum()));
          DeferredBackward.backward(gc, p.sum());
        }
        assertTrue(
            m.parameters().values().iterator().next().getGradient().abs().sum().getFloat() > 0);
        for (NDArray w : ref.model().parameters().values()) {
          assertFalse(
              ai.djl.pytorch.jni.JniUtils.requiresGrad((ai.djl.pytorch.engine.PtNDArray) w));
        }
      }
    }
  }
}
