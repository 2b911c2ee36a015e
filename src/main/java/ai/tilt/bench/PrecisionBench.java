package ai.tilt.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.tilt.model.CausalLM;
import ai.tilt.model.DeferredBackward;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.NoGrad;
import ai.tilt.runtime.Torch;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * What the bf16 kernels buy outside the optimizer step: the memory of a frozen reference held in
 * bf16 against fp32 (each measured in a fresh child JVM: resident memory after loading and one
 * scoring pass, minus the JVM's before loading), and fused against unfused attention at long
 * sequence lengths (time and resident-memory growth of forward + backward).
 */
public final class PrecisionBench {
  private PrecisionBench() {}

  /** One side of the memory comparison; runs in its own process. */
  public static Map<String, Object> referenceMemory(
      Path modelDir, Precision precision, int batch, int seqLen) throws IOException {
    Torch.init();
    Kernels.available(); // libtorch and the kernels are resident before the baseline
    try (NDManager warm = NDManager.newBaseManager()) {
      warm.ones(new Shape(64, 64)).matMul(warm.ones(new Shape(64, 64))).getFloat(0, 0);
    }
    long before = Rss.currentMb();
    Map<String, Object> out = new LinkedHashMap<>();
    try (CausalLM m = ModelFiles.load(modelDir, Devices.current(), precision);
        NDManager s = m.manager().newSubManager()) {
      // the reader's file mappings are released when collected: do it before measuring
      System.gc();
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      long loaded = Rss.currentMb();
      try (NoGrad off = NoGrad.enter()) {
        long[] ids =
            new SplittableRandom(0)
                .longs((long) batch * seqLen, 0, m.config().vocabSize())
                .toArray();
        NDArray x = s.create(ids, new Shape(batch, seqLen));
        m.tokenLogprobs(x, s.ones(new Shape(batch, seqLen), DataType.INT64), 1).sum().getFloat();
      }
      long tensorBytes = 0;
      for (NDArray p : m.parameters().values()) {
        boolean held = precision == Precision.BF16 && p.getShape().dimension() >= 2;
        tensorBytes += p.getShape().size() * (held ? 2 : 4);
      }
      out.put("precision", precision.label);
      out.put("tensor_mb", tensorBytes >> 20);
      out.put("rss_before_mb", before);
      out.put("weights_mb", loaded - before);
      out.put("after_scoring_mb", Rss.currentMb() - before);
    }
    return out;
  }

  /** Forward + backward of a model at one sequence length, fused or not: seconds and RSS growth. */
  public static Map<String, Object> attention(
      CausalLM m, boolean fused, int batch, int seqLen, int steps) {
    m.setFusedAttention(fused);
    for (NDArray p : m.parameters().values()) {
      p.setRequiresGradient(true);
    }
    long[] ids =
        new SplittableRandom(0).longs((long) batch * seqLen, 0, m.config().vocabSize()).toArray();
    double[] secs = new double[steps];
    long rssBefore = Rss.currentMb();
    long peak = 0;
    for (int i = -1; i < steps; i++) {
      try (NDManager s = m.manager().newSubManager()) {
        for (NDArray p : m.parameters().values()) {
          p.tempAttach(s);
        }
        NDArray x = s.create(ids, new Shape(batch, seqLen));
        NDArray mask = s.ones(new Shape(batch, seqLen), DataType.INT64);
        long t0 = System.nanoTime();
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          DeferredBackward.backward(gc, m.tokenLogprobs(x, mask, 1).mean().neg());
        }
        peak = Math.max(peak, Rss.currentMb());
        for (NDArray p : m.parameters().values()) {
          JniUtils.zeroGrad((PtNDArray) p);
        }
        if (i >= 0) {
          secs[i] = (System.nanoTime() - t0) / 1e9;
        }
      }
    }
    Arrays.sort(secs);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("fused", fused);
    out.put("step_s", GenerateBench.round(secs[steps / 2]));
    out.put("tokens_per_s", GenerateBench.round(batch * seqLen / secs[steps / 2]));
    out.put("rss_growth_mb", peak - rssBefore);
    return out;
  }

  /**
   * bf16-mixed against fp32 on one model and device: the smallest per-parameter cosine similarity
   * of the gradients of the summed log-probs, and the largest log-prob difference.
   */
  public static Map<String, Object> parity(CausalLM fp32, CausalLM mixed, int batch, int seqLen) {
    mixed.setPrecision(Precision.BF16_MIXED);
    long[] ids =
        new SplittableRandom(0)
            .longs((long) batch * seqLen, 0, fp32.config().vocabSize())
            .toArray();
    Map<String, float[]> ga = new LinkedHashMap<>();
    Map<String, float[]> gb = new LinkedHashMap<>();
    float[] la = gradients(fp32, ids, batch, seqLen, ga);
    float[] lb = gradients(mixed, ids, batch, seqLen, gb);
    double worst = 0;
    for (int i = 0; i < la.length; i++) {
      worst = Math.max(worst, Math.abs(la[i] - lb[i]));
    }
    double minCos = 1;
    String at = "";
    for (String k : ga.keySet()) {
      double dot = 0;
      double na = 0;
      double nb = 0;
      float[] a = ga.get(k);
      float[] b = gb.get(k);
      for (int i = 0; i < a.length; i++) {
        dot += (double) a[i] * b[i];
        na += (double) a[i] * a[i];
        nb += (double) b[i] * b[i];
      }
      double c = na == 0 && nb == 0 ? 1 : dot / Math.sqrt(na * nb);
      if (c < minCos) {
        minCos = c;
        at = k;
      }
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("min_gradient_cosine", minCos);
    out.put("min_at", at);
    out.put("max_logprob_diff", worst);
    return out;
  }

  private static float[] gradients(
      CausalLM m, long[] ids, int batch, int seqLen, Map<String, float[]> out) {
    for (NDArray p : m.parameters().values()) {
      p.setRequiresGradient(true);
    }
    try (NDManager s = m.manager().newSubManager()) {
      for (NDArray p : m.parameters().values()) {
        p.tempAttach(s);
      }
      NDArray x = s.create(ids, new Shape(batch, seqLen));
      NDArray logp;
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        logp = m.tokenLogprobs(x, s.ones(new Shape(batch, seqLen), DataType.INT64), 1);
        DeferredBackward.backward(gc, logp.sum().neg());
      }
      m.parameters()
          .forEach(
              (k, v) -> {
                out.put(k, v.getGradient().toFloatArray());
                JniUtils.zeroGrad((PtNDArray) v);
              });
      return logp.toFloatArray();
    }
  }
}
