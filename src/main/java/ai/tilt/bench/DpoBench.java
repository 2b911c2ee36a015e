package ai.tilt.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.data.ResponseGroup;
import ai.tilt.dist.Group;
import ai.tilt.dist.Solo;
import ai.tilt.loss.Dpo;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelConfig;
import ai.tilt.runtime.Devices;
import ai.tilt.train.AdamW;
import ai.tilt.train.Objective;
import ai.tilt.train.Optimizer;
import ai.tilt.train.PreferenceObjective;
import ai.tilt.train.ReferenceModel;
import ai.tilt.train.ShardedAdamW;
import ai.tilt.train.TrainStep;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Offline DPO optimizer steps (policy forward + backward, frozen reference forward, clipping,
 * AdamW), the shape of the TRL anchor's DPO benchmark: 8 pairs of a 64-token prompt with 65-token
 * chosen and rejected responses (64 + EOS), sigmoid loss, beta 0.1.
 */
public final class DpoBench {
  private DpoBench() {}

  public static List<ResponseGroup> pairs(int n, int promptLen, int responseLen, int vocab) {
    SplittableRandom rnd = new SplittableRandom(0);
    List<ResponseGroup> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long[] p = rnd.longs(promptLen, 0, vocab).toArray();
      List<long[]> r =
          List.of(
              rnd.longs(responseLen, 0, vocab).toArray(),
              rnd.longs(responseLen, 0, vocab).toArray());
      out.add(new ResponseGroup(p, r, new double[] {1, 0}, i + 1, false));
    }
    return out;
  }

  public static Map<String, Object> run(
      CausalLM policy,
      Map<String, NDArray> params,
      ReferenceModel reference,
      String label,
      List<ResponseGroup> data,
      int micro,
      int warmup,
      int steps) {
    return run(policy, params, reference, label, data, micro, warmup, steps, Solo.INSTANCE, false);
  }

  /**
   * The same steps on every worker of {@code group}: each takes its contiguous block of the batch
   * (the pairs are the global batch of one optimizer step), as data-parallel training does.
   */
  public static Map<String, Object> run(
      CausalLM policy,
      Map<String, NDArray> params,
      ReferenceModel reference,
      String label,
      List<ResponseGroup> data,
      int micro,
      int warmup,
      int steps,
      Group group,
      boolean zero) {
    ModelConfig c = policy.config();
    for (NDArray p : params.values()) {
      p.setRequiresGradient(true);
    }
    int batch = data.size();
    int each = (batch + group.size() - 1) / group.size();
    int from = Math.min(batch, group.rank() * each);
    int to = Math.min(batch, from + each);
    List<List<Integer>> micros = new ArrayList<>();
    for (int i = from; i < to; i += micro) {
      List<Integer> m = new ArrayList<>();
      for (int j = i; j < Math.min(to, i + micro); j++) {
        m.add(j);
      }
      micros.add(m);
    }
    double peak = MatmulPeak.gflops(policy.manager());
    double[] secs = new double[steps];
    double[] reduceSecs = new double[steps];
    long gpuPeak = -1;
    long elements = 0;
    for (NDArray p : params.values()) {
      elements += p.getShape().size();
    }
    group.broadcast(new ArrayList<>(params.values()), 0);
    try (Optimizer adam =
            zero
                ? ShardedAdamW.of(params, group, 0.9, 0.999, 1e-8, 0.0)
                : new AdamW(params, 0.9, 0.999, 1e-8, 0.0);
        PreferenceObjective objective =
            PreferenceObjective.against(policy, reference, new Dpo(0.1, 0.0), 0, data)) {
      TimedReduce opt = new TimedReduce(adam);
      TrainStep stepper = new TrainStep(policy.manager(), params, opt, 1.0, group);
      for (int i = -warmup; i < steps; i++) {
        Objective.Window w = objective.prepare(micros);
        w.useDenominator(group.sum(w.denominator())[0]);
        long t0 = System.nanoTime();
        stepper.run(w.microBatches(), (m, k) -> objective.microLoss(m, w, k), 1e-6);
        if (i >= 0) {
          secs[i] = (System.nanoTime() - t0) / 1e9;
          reduceSecs[i] = opt.seconds;
        }
        gpuPeak = Math.max(gpuPeak, Devices.gpuUsedMb().orElse(-1));
      }
    }
    Arrays.sort(reduceSecs);
    double peak2 = MatmulPeak.gflops(policy.manager());
    Arrays.sort(secs);
    double s = secs[steps / 2];
    long tokens = 0; // prompt + chosen + rejected, as the anchor counts a pair
    long rowTokens = 0; // what the forward passes process: the prompt twice
    for (ResponseGroup g : data) {
      tokens += g.prompt().length + g.responses().get(0).length + g.responses().get(1).length;
      rowTokens +=
          2L * g.prompt().length + g.responses().get(0).length + g.responses().get(1).length;
    }
    double best = Math.max(peak, peak2);
    // the batch's FLOPs ran on every worker's cores: MFU is against all of their peaks (it read
    // 1.1-1.2 at 2 workers when it took one worker's)
    double peakAll = best * group.size();
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", "dpo");
    out.put("model", label);
    out.put("params_matmul", c.matmulParams());
    out.put("pairs", batch);
    out.put("micro_batch", micro);
    out.put("step_s", GenerateBench.round(s));
    out.put("pairs_per_s", GenerateBench.round(batch / s));
    out.put("tokens_per_s", GenerateBench.round(tokens / s));
    out.put("row_tokens_per_s", GenerateBench.round(rowTokens / s));
    out.put("mfu_6n", GenerateBench.round(6.0 * c.matmulParams() * tokens / s / 1e9 / peakAll));
    out.put("matmul_peak_gflops", GenerateBench.round(best)); // one worker's
    out.put("steps", steps);
    out.put("workers", group.size());
    out.put("zero", zero ? 1 : 0);
    if (group.size() > 1) {
      // a ring all-reduce sends and receives 2 (W - 1) / W of the gradient bytes per worker
      out.put("gradient_reduce_s", GenerateBench.round(reduceSecs[steps / 2])); // + the norm
      out.put("allreduce_mb", GenerateBench.round(elements * 4.0 / (1 << 20)));
      out.put(
          "allreduce_traffic_mb",
          GenerateBench.round(elements * 4.0 * 2 * (group.size() - 1) / group.size() / (1 << 20)));
    }
    out.put("threads", JniUtils.getNumThreads());
    out.put("peak_rss_mb", Rss.peakMb());
    if (gpuPeak >= 0) {
      out.put("peak_gpu_mb", gpuPeak); // device-wide use, sampled after each step
    }
    return out;
  }
}
