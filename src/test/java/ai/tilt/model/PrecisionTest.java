package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.Torch;
import ai.tilt.sampling.Generator;
import ai.tilt.sampling.SamplingParams;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** bf16-mixed, bf16-held weights and fused attention against the fp32 NDArray path. */
class PrecisionTest {
  @TempDir Path tmp;

  @BeforeAll
  static void kernels() {
    Torch.init();
    assertTrue(Kernels.available(), "the TorchScript kernels must load: " + Kernels.loadError());
  }

  /** One padded batch of the fixture's sequences: ids, mask, and the (B, T-1) log-probs. */
  static NDArray logps(CausalLM m, NDManager s, Path dir) throws IOException {
    List<HfParityTest.Case> cases = HfParityTest.cases(dir);
    int t = 0;
    for (HfParityTest.Case c : cases) {
      t = Math.max(t, c.prompt().length + c.completion().length);
    }
    long[] ids = new long[cases.size() * t];
    long[] mask = new long[cases.size() * t];
    for (int r = 0; r < cases.size(); r++) {
      HfParityTest.Case c = cases.get(r);
      int len = c.prompt().length + c.completion().length;
      for (int j = 0; j < len; j++) {
        ids[r * t + j] =
            j < c.prompt().length ? c.prompt()[j] : c.completion()[j - c.prompt().length];
        mask[r * t + j] = 1;
      }
    }
    Shape shape = new Shape(cases.size(), t);
    return m.tokenLogprobs(s.create(ids, shape), s.create(mask, shape), 1)
        .mul(s.create(mask, shape).get(":, 1:").toType(DataType.FLOAT32, false));
  }

  static Map<String, float[]> gradients(CausalLM m, Path dir) throws IOException {
    for (NDArray p : m.parameters().values()) {
      p.setRequiresGradient(true);
    }
    Map<String, float[]> out = new LinkedHashMap<>();
    try (NDManager s = m.manager().newSubManager()) {
      for (NDArray p : m.parameters().values()) {
        p.tempAttach(s);
      }
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        DeferredBackward.backward(gc, logps(m, s, dir).sum().neg());
      }
      m.parameters()
          .forEach(
              (k, v) -> {
                out.put(k, v.getGradient().toFloatArray());
                JniUtils.zeroGrad((PtNDArray) v);
              });
    }
    return out;
  }

  static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return na == 0 && nb == 0 ? 1 : dot / Math.sqrt(na * nb);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "hf-tiny/llama_gqa",
        "hf-tiny/qwen2",
        "hf-tiny/gpt_neox",
        "hf-tiny/gpt2",
        "hf-extra/mistral_window"
      })
  void fusedAttentionEqualsTheNdArrayPath(String variant) throws IOException {
    Path dir = Fixtures.dir(variant);
    try (CausalLM m = ModelFiles.load(dir, Device.cpu());
        NDManager s = m.manager().newSubManager()) {
      m.setFusedAttention(true);
      float[] fused = logps(m, s, dir).toFloatArray();
      m.setFusedAttention(false);
      float[] plain = logps(m, s, dir).toFloatArray();
      for (int i = 0; i < fused.length; i++) {
        assertEquals(plain[i], fused[i], 2e-5, variant + " position " + i);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"hf-tiny/llama_gqa", "hf-tiny/qwen2", "hf-tiny/gpt_neox", "hf-tiny/gpt2"})
  void bf16MixedGradientsAndLogprobsTrackFp32(String variant) throws IOException {
    Path dir = Fixtures.dir(variant);
    try (CausalLM fp32 = ModelFiles.load(dir, Device.cpu());
        CausalLM mixed = ModelFiles.load(dir, Device.cpu())) {
      mixed.setPrecision(Precision.BF16_MIXED);
      try (NDManager s = fp32.manager().newSubManager()) {
        float[] a = logps(fp32, s, dir).toFloatArray();
        float[] b = logps(mixed, s, dir).toFloatArray();
        double worst = 0;
        double sum = 0;
        int n = 0;
        for (int i = 0; i < a.length; i++) {
          if (a[i] != 0) { // padded positions are 0 in both
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
            sum += Math.abs(a[i] - b[i]);
            n++;
          }
        }
        assertTrue(worst > 0, variant + ": bf16 must differ from fp32 at all");
        assertTrue(
            sum / n < 0.05, variant + ": mean |logprob diff| " + sum / n + " (max " + worst + ")");
      }
      Map<String, float[]> ga = gradients(fp32, dir);
      Map<String, float[]> gb = gradients(mixed, dir);
      for (String k : ga.keySet()) {
        double c = cosine(ga.get(k), gb.get(k));
        assertTrue(c > 0.99, variant + " " + k + ": cosine " + c);
      }
      // the masters stay float32 and are what a checkpoint writes
      for (NDArray p : mixed.parameters().values()) {
        assertEquals(DataType.FLOAT32, p.getDataType());
      }
    }
  }

  /**
   * At a trained model's weight scale (std 0.02) every bf16-mixed log-prob is within 0.05 of fp32.
   */
  @Test
  void bf16MixedLogprobsAtRealisticScale() {
    ModelConfig c =
        Presets.config(ModelConfig.Family.LLAMA, "small", 4096, null, new long[0], null);
    try (CausalLM fp32 = ModelFiles.random(c, 3, 0.02f, Device.cpu());
        CausalLM mixed = ModelFiles.random(c, 3, 0.02f, Device.cpu());
        NDManager s = fp32.manager().newSubManager()) {
      mixed.setPrecision(Precision.BF16_MIXED);
      long[] ids = new java.util.SplittableRandom(1).longs(4 * 96, 0, 4096).toArray();
      NDArray x = s.create(ids, new Shape(4, 96));
      NDArray mask = s.ones(new Shape(4, 96), DataType.INT64);
      float[] a = fp32.tokenLogprobs(x, mask, 1).toFloatArray();
      float[] b = mixed.tokenLogprobs(x, mask, 1).toFloatArray();
      double worst = 0;
      for (int i = 0; i < a.length; i++) {
        worst = Math.max(worst, Math.abs(a[i] - b[i]));
      }
      assertTrue(worst < 0.05 && worst > 0, "max |logprob diff| " + worst);
    }
  }

  @Test
  void weightsHeldInBf16InferButNeverReachDjlAsArrays() throws IOException {
    Path dir =
        Fixtures.dir(
            "hf-tiny/gpt2"); // tied head, Conv1D weights, learned positions: every w16 kernel
    try (CausalLM fp32 = ModelFiles.load(dir, Device.cpu());
        CausalLM held = ModelFiles.load(dir, Device.cpu());
        NDManager s = fp32.manager().newSubManager()) {
      held.setPrecision(Precision.BF16);
      float[] a = logps(fp32, s, dir).toFloatArray();
      float[] b = logps(held, s, dir).toFloatArray();
      for (int i = 0; i < a.length; i++) {
        assertEquals(a[i], b[i], 0.1, "position " + i);
      }
      // a held matrix reports an unknown dtype: only the kernels may touch it
      NDArray w16 = held.parameters().get("transformer.h.0.attn.c_attn.weight");
      assertEquals(DataType.UNKNOWN, w16.getDataType());
      assertEquals(
          DataType.FLOAT32, held.parameters().get("transformer.h.0.ln_1.weight").getDataType());
      Generator g = new Generator(held, new long[0]);
      assertEquals(
          5,
          g.generate(List.of(new long[] {5, 6}), SamplingParams.greedy(5))
              .get(0)
              .completionIds()
              .length);
      assertThrows(
          IllegalStateException.class,
          () -> ModelFiles.save(held, tmp.resolve("x"), "F32", Long.MAX_VALUE));
      assertThrows(IllegalStateException.class, () -> held.setPrecision(Precision.FP32));
    }
  }

  /**
   * Every op the kernels offer, on bf16 tensors, returns finite float32 and leaves the JVM alive.
   */
  @Test
  void kernelOpsOnBf16Tensors() {
    Kernels k = Kernels.on(Device.cpu());
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray w = m.randomNormal(new Shape(6, 4));
      NDArray x = m.randomNormal(new Shape(3, 4));
      NDArray w16 = k.toBf16(w);
      NDArray product = x.matMul(w.transpose()); // (3, 6) the fp32 result of the matmul ops
      NDArray rows = w.get(new NDIndex("{}", m.create(new long[] {0, 5, 2}))); // (3, 4)
      NDArray[][] cases = {
        {k.linearW16(x, w16, null), product},
        {k.linearW16(x, w16, m.zeros(new Shape(6))), product},
        {k.matmulW16(x, k.toBf16(w.transpose())), product},
        {k.embeddingW16(m.create(new long[] {0, 5, 2}), w16), rows},
        {k.linearBf16(x, w, null), product},
        {k.matmulBf16(x, w.transpose()), product}
      };
      for (int c = 0; c < cases.length; c++) {
        NDArray out = cases[c][0];
        NDArray exact = cases[c][1];
        assertEquals(DataType.FLOAT32, out.getDataType(), "case " + c);
        assertEquals(exact.getShape(), out.getShape(), "case " + c);
        // bf16 keeps 8 bits of mantissa: each input is rounded by at most 2^-9 relative, so a
        // 4-term dot product stays within 2% of the largest fp32 value, and a row copy within 0.4%
        double bound = (c == 3 ? 0.004 : 0.02) * exact.abs().max().getFloat();
        double err = out.sub(exact).abs().max().getFloat();
        assertTrue(err <= bound, "case " + c + ": max error " + err + " > " + bound);
        assertTrue(err > 0 || c == 3, "case " + c + " ran in bf16, not fp32");
      }
    }
  }
}
