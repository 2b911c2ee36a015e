package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.tilt.runtime.Torch;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Activation checkpointing and chunked big-vocabulary log-probs change memory, not numbers: the
 * log-probs and every gradient equal the plain path's, for every family, with and without LoRA, in
 * fp32 and bf16-mixed.
 */
class TrainingMemoryTest {
  static final String[] FAMILIES = {
    "hf-tiny/llama_gqa",
    "hf-tiny/qwen2",
    "hf-tiny/gpt_neox",
    "hf-tiny/gpt2",
    "hf-extra/mistral_window",
    "hf-extra/qwen3"
  };

  /** Log-probs and the gradients of a weighted sum of them, with these memory settings. */
  record Run(float[] logps, Map<String, float[]> grads) {}

  static Run run(CausalLM m, Map<String, NDArray> trainable, boolean ckpt, long chunk) {
    m.setGradientCheckpointing(ckpt);
    m.setLogitsChunkTokens(chunk);
    int b = 3;
    int t = 11;
    SplittableRandom r = new SplittableRandom(7);
    long[] ids = new long[b * t];
    long[] mask = new long[b * t];
    float[] weights = new float[b * (t - 1)];
    for (int i = 0; i < b; i++) {
      int len = t - 3 * i; // right padding: rows of 11, 8 and 5 tokens
      for (int j = 0; j < t; j++) {
        ids[i * t + j] = r.nextInt(m.config().vocabSize());
        mask[i * t + j] = j < len ? 1 : 0;
      }
    }
    for (int i = 0; i < weights.length; i++) {
      weights[i] = (float) r.nextDouble(-1, 1);
    }
    Map<String, float[]> grads = new LinkedHashMap<>();
    boolean frozen = !ChunkedLogprobs.autogradOnly && m.lora() != null;
    float[] logps;
    try (NDManager s = m.manager().newSubManager()) {
      for (NDArray p : trainable.values()) {
        p.tempAttach(s);
      }
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        NDArray idArr = s.create(ids, new Shape(b, t));
        NDArray maskArr = s.create(mask, new Shape(b, t));
        NDArray lp = m.tokenLogprobs(idArr, maskArr, 1); // (B, T - 1)
        NDArray valid = maskArr.get(":, 1:").toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
        NDArray loss = lp.mul(valid).mul(s.create(weights, new Shape(b, t - 1))).sum();
        logps = lp.mul(valid).toFloatArray();
        gc.backward(loss);
        assertEquals(
            // a frozen head's gradient reaches the states in the loss's own backward; a head
            // that trains gets its own after it (fp32's kernel), or recomputes chunks
            ckpt
                || (!frozen
                    && (chunk < b * (t - 1)
                        || (!ChunkedLogprobs.autogradOnly && m.precision() == Precision.FP32))),
            DeferredBackward.pending(),
            "deferred work");
        DeferredBackward.run();
      }
      for (Map.Entry<String, NDArray> e : trainable.entrySet()) {
        NDArray g = e.getValue().getGradient();
        grads.put(e.getKey(), g.toFloatArray());
        JniUtils.zeroGrad((PtNDArray) e.getValue());
      }
    }
    return new Run(logps, grads);
  }

  /**
   * Equal log-probs (1e-6 relative) and gradients ({@code rel} of each tensor's largest gradient).
   */
  static void same(Run want, Run got, String what, double rel) {
    for (int i = 0; i < want.logps.length; i++) {
      double tol = (rel > 1e-5 ? 1e-2 : 1e-6) * Math.max(1, Math.abs(want.logps[i]));
      assertEquals(want.logps[i], got.logps[i], tol, what + ": logp " + i);
    }
    int nonZero = 0;
    for (Map.Entry<String, float[]> e : want.grads.entrySet()) {
      float[] a = e.getValue();
      float[] b = got.grads.get(e.getKey());
      double scale = 0;
      for (float v : a) {
        scale = Math.max(scale, Math.abs(v));
      }
      nonZero += scale > 0 ? 1 : 0;
      for (int i = 0; i < a.length; i++) {
        assertEquals(a[i], b[i], rel * scale + 1e-12, what + ": " + e.getKey() + "[" + i + "]");
      }
    }
    assertTrue(nonZero > want.grads.size() / 2, what + ": most gradients are non-zero");
  }

  @ParameterizedTest
  @CsvSource({"fp32,false", "fp32,true", "bf16-mixed,false", "bf16-mixed,true"})
  void checkpointingAndChunksKeepGradients(String precision, boolean lora) throws IOException {
    assertFalse(DeferredBackward.pending());
    for (String family : FAMILIES) {
      Path dir = Fixtures.dir(family);
      try (CausalLM m = ModelFiles.load(dir, Device.cpu())) {
        m.setPrecision(Precision.of(precision));
        Map<String, NDArray> trainable = m.parameters();
        if (lora) {
          Lora adapters = Lora.create(m, new Lora.Spec(4, 8, 0.0, List.of("all-linear"), false), 3);
          // B starts at zero, which would leave A without a gradient: give it a value
          Engine.getInstance().setRandomSeed(11);
          for (Map.Entry<String, NDArray> e : adapters.parameters().entrySet()) {
            if (e.getKey().endsWith("lora_B.weight")) {
              NDArray v =
                  m.manager()
                      .randomNormal(0f, 0.05f, e.getValue().getShape(), e.getValue().getDataType());
              Torch.copyInto(e.getValue(), v);
              v.close();
            }
          }
          m.setLora(adapters);
          trainable = adapters.parameters();
          for (NDArray p : m.parameters().values()) {
            p.setRequiresGradient(false);
          }
        }
        for (NDArray p : trainable.values()) {
          p.setRequiresGradient(true);
        }
        String what = family + " " + precision + (lora ? " lora" : "");
        // recomputing a block repeats its arithmetic exactly; chunks of the head, or its gradient
        // taken in the forward (a frozen head), change the order and shape of the products, which
        // bf16's 8-bit mantissa shows at 0.2-1.5% of the largest gradient (measured), fp32 at 1e-6
        double chunked = precision.equals("fp32") ? 1e-5 : 2.5e-2;
        // a recomputed block repeats its fp32 arithmetic bitwise; bf16 matmuls on CPUs with AMX
        // (oneDNN's brgemm) do not always: their accumulation order follows the buffers'
        // alignment, so a recompute can round differently (measured on an Intel Xeon: 1 run in 6
        // off by a few bf16 ulps, never with ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16)
        double recomputed = precision.equals("fp32") ? 1e-5 : chunked;
        // the reference: autograd through the whole logits (with LoRA the frozen head's shortcut,
        // its gradient computed in the forward, is what the other runs use)
        ChunkedLogprobs.autogradOnly = true;
        Run autograd;
        try {
          autograd = run(m, trainable, false, 1 << 20);
        } finally {
          ChunkedLogprobs.autogradOnly = false;
        }
        Run plain = run(m, trainable, false, 1 << 20);
        same(autograd, plain, what + " one chunk", chunked);
        same(plain, run(m, trainable, true, 1 << 20), what + " checkpointed", recomputed);
        same(plain, run(m, trainable, false, 7), what + " chunks of 7 tokens", chunked);
        Run both = run(m, trainable, true, 4);
        same(plain, both, what + " both", chunked);
        same(run(m, trainable, false, 4), both, what + " checkpointed chunks", recomputed);
      }
    }
  }
}
