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
import ai.tilt.model.ModelConfig;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Forward and forward+backward throughput of the per-token log-prob loss on B x T random tokens:
 * the work every training step does before the optimizer. Model FLOPs count 2N per token forward
 * and 4N backward, plus attention (ModelConfig#forwardFlopsPerToken).
 */
public final class ForwardBench {
  private ForwardBench() {}

  public static Map<String, Object> run(
      CausalLM model, String label, int batch, int seqLen, int steps) {
    ModelConfig c = model.config();
    SplittableRandom rnd = new SplittableRandom(0);
    long[] ids = rnd.longs((long) batch * seqLen, 0, c.vocabSize()).toArray();
    for (NDArray p : model.parameters().values()) {
      p.setRequiresGradient(true);
    }
    double peak = MatmulPeak.gflops(model.manager());
    double[] fwd = new double[steps];
    double[] train = new double[steps];
    for (int i = -1; i < steps; i++) { // i = -1 warms up
      try (NDManager step = model.manager().newSubManager()) {
        NDArray x = step.create(ids, new Shape(batch, seqLen));
        NDArray mask = step.ones(new Shape(batch, seqLen), DataType.INT64);
        long t0 = System.nanoTime();
        model.tokenLogprobs(x, mask, 1).mean().getFloat();
        if (i >= 0) {
          fwd[i] = (System.nanoTime() - t0) / 1e9;
        }
      }
      try (NDManager step = model.manager().newSubManager()) {
        for (NDArray p : model.parameters().values()) {
          p.tempAttach(step); // gradient wrappers and op results land in the step, not the model
        }
        NDArray x = step.create(ids, new Shape(batch, seqLen));
        NDArray mask = step.ones(new Shape(batch, seqLen), DataType.INT64);
        long t0 = System.nanoTime();
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          NDArray loss = model.tokenLogprobs(x, mask, 1).mean().neg();
          DeferredBackward.backward(gc, loss);
        }
        for (NDArray p : model.parameters().values()) {
          JniUtils.zeroGrad((PtNDArray) p);
        }
        if (i >= 0) {
          train[i] = (System.nanoTime() - t0) / 1e9;
        }
      }
    }
    double peak2 = MatmulPeak.gflops(model.manager());
    Arrays.sort(fwd);
    Arrays.sort(train);
    double tokens = (double) batch * seqLen;
    double fwdFlops = tokens * c.forwardFlopsPerToken(seqLen);
    double peakBest = Math.max(peak, peak2);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", "forward");
    out.put("model", label);
    out.put("params_matmul", c.matmulParams());
    out.put("batch", batch);
    out.put("seq_len", seqLen);
    out.put("forward_tokens_per_s", GenerateBench.round(tokens / fwd[steps / 2]));
    out.put("train_tokens_per_s", GenerateBench.round(tokens / train[steps / 2]));
    out.put("forward_gflops", GenerateBench.round(fwdFlops / fwd[steps / 2] / 1e9));
    out.put("train_gflops", GenerateBench.round(3 * fwdFlops / train[steps / 2] / 1e9));
    out.put("matmul_peak_gflops", GenerateBench.round(peakBest));
    out.put("train_mfu", GenerateBench.round(3 * fwdFlops / train[steps / 2] / 1e9 / peakBest));
    out.put("steps", steps);
    out.put("threads", JniUtils.getNumThreads());
    out.put("peak_rss_mb", Rss.peakMb());
    return out;
  }
}
