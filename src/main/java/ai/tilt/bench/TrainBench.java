package ai.tilt.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.data.SftExample;
import ai.tilt.dist.Group;
import ai.tilt.dist.Solo;
import ai.tilt.loss.Aggregation;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelConfig;
import ai.tilt.train.AdamW;
import ai.tilt.train.SftObjective;
import ai.tilt.train.TrainStep;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Full optimizer steps (forward, backward, clipping, AdamW) of the SFT loss on random tokens, the
 * shape of the TRL anchor's SFT benchmark (batch 8, 64-token prompts + 65-token completions, loss
 * on completions only). Also the soak test: many steps with RSS sampled, to show that native memory
 * does not grow.
 */
public final class TrainBench {
  private TrainBench() {}

  /** Random-token SFT rows: a prompt and a completion that is all targets. */
  public static List<SftExample> examples(
      int n, int promptLen, int completionLen, int vocab, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    List<SftExample> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long[] ids = rnd.longs(promptLen + completionLen, 0, vocab).toArray();
      boolean[] targets = new boolean[ids.length];
      Arrays.fill(targets, promptLen, ids.length, true);
      out.add(new SftExample(ids, targets, i + 1, false));
    }
    return out;
  }

  /** Throughput of optimizer steps. */
  public static Map<String, Object> run(
      CausalLM model,
      String label,
      int batch,
      int micro,
      int promptLen,
      int completionLen,
      int steps) {
    return run(
        model,
        label,
        examples(batch, promptLen, completionLen, model.config().vocabSize(), 0),
        micro,
        steps);
  }

  /** Throughput of optimizer steps on given examples (one batch, reused every step). */
  public static Map<String, Object> run(
      CausalLM model, String label, List<SftExample> data, int micro, int steps) {
    return run(model, label, data, micro, steps, Solo.INSTANCE);
  }

  /**
   * The same on every worker of {@code group}, each taking its contiguous block of the batch (the
   * examples are the global batch of one optimizer step), as data-parallel training does.
   */
  public static Map<String, Object> run(
      CausalLM model, String label, List<SftExample> data, int micro, int steps, Group group) {
    ModelConfig c = model.config();
    int batch = data.size();
    Map<String, NDArray> params = model.parameters();
    for (NDArray p : params.values()) {
      p.setRequiresGradient(true);
    }
    int each = (batch + group.size() - 1) / group.size();
    int from = Math.min(batch, group.rank() * each);
    int to = Math.min(batch, from + each);
    List<List<SftExample>> micros = new ArrayList<>();
    for (int i = from; i < to; i += micro) {
      micros.add(data.subList(i, Math.min(to, i + micro)));
    }
    double peak = MatmulPeak.gflops(model.manager());
    double[] secs = new double[steps];
    group.broadcast(new ArrayList<>(params.values()), 0);
    try (AdamW opt = new AdamW(params, 0.9, 0.999, 1e-8, 0.0)) {
      SftObjective objective = new SftObjective(model, 0, Aggregation.PER_TOKEN);
      TrainStep stepper = new TrainStep(model.manager(), params, opt, 1.0, group);
      SftObjective.SftWindow w = objective.window(micros);
      w.useDenominator(group.sum(w.denominator())[0]);
      for (int i = -2; i < steps; i++) { // two warm-up steps
        long t0 = System.nanoTime();
        stepper.run(micros.size(), (m, k) -> objective.microLoss(m, w, k), 1e-5);
        if (i >= 0) {
          secs[i] = (System.nanoTime() - t0) / 1e9;
        }
      }
    }
    double peak2 = MatmulPeak.gflops(model.manager());
    Arrays.sort(secs);
    double s = secs[steps / 2];
    long tokens = 0;
    long headPositions =
        0; // positions the LM head runs on: from the first target of each micro-batch
    double fwd = 0;
    double headFlops = 2.0 * c.hiddenSize() * c.vocabSize();
    for (SftExample e : data) {
      tokens += e.ids().length;
      headPositions += e.ids().length - e.firstTarget() + 1;
      fwd += e.ids().length * (c.forwardFlopsPerToken(e.ids().length) - headFlops);
    }
    fwd += headPositions * headFlops;
    double best = Math.max(peak, peak2);
    // the batch's FLOPs ran on every worker's cores: MFU is against all of their peaks (it read
    // 1.1-1.2 at 2 workers when it took one worker's)
    double peakAll = best * group.size();
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", "train");
    out.put("model", label);
    out.put("params_matmul", c.matmulParams());
    out.put("batch", batch);
    out.put("micro_batch", micro);
    out.put("mean_len", GenerateBench.round((double) tokens / batch));
    out.put("step_s", GenerateBench.round(s));
    out.put("tokens_per_s", GenerateBench.round(tokens / s));
    out.put("samples_per_s", GenerateBench.round(batch / s));
    out.put("model_gflops", GenerateBench.round(3 * fwd / s / 1e9));
    out.put("mfu_6n", GenerateBench.round(6.0 * c.matmulParams() * tokens / s / 1e9 / peakAll));
    out.put("mfu_model", GenerateBench.round(3 * fwd / s / 1e9 / peakAll));
    out.put("matmul_peak_gflops", GenerateBench.round(best)); // one worker's
    out.put("steps", steps);
    out.put("workers", group.size());
    out.put("threads", JniUtils.getNumThreads());
    out.put("peak_rss_mb", Rss.peakMb());
    return out;
  }

  /** Many steps of a tiny model, RSS sampled every {@code every} steps. */
  public static Map<String, Object> soak(
      CausalLM model, int steps, int every, PrintStream console) {
    Map<String, NDArray> params = model.parameters();
    for (NDArray p : params.values()) {
      p.setRequiresGradient(true);
    }
    List<SftExample> data = examples(64, 24, 24, model.config().vocabSize(), 1);
    List<Long> rss = new ArrayList<>();
    List<Long> jvm =
        new ArrayList<>(); // heap + non-heap (code cache, metaspace) committed by the JVM
    MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
    long t0 = System.nanoTime();
    try (AdamW opt = new AdamW(params, 0.9, 0.999, 1e-8, 0.01)) {
      SftObjective objective = new SftObjective(model, 0, Aggregation.PER_TOKEN);
      TrainStep stepper = new TrainStep(model.manager(), params, opt, 1.0);
      for (int i = 1; i <= steps; i++) {
        int start = (i * 8) % 64;
        List<List<SftExample>> micros =
            List.of(data.subList(start, start + 4), data.subList(start + 4, start + 8));
        SftObjective.SftWindow w = objective.window(micros);
        stepper.run(2, (m, k) -> objective.microLoss(m, w, k), 1e-4);
        if (i % every == 0) {
          long mb = Rss.currentMb();
          long j =
              (mem.getHeapMemoryUsage().getCommitted() + mem.getNonHeapMemoryUsage().getCommitted())
                  >> 20;
          rss.add(mb);
          jvm.add(j);
          console.printf(
              "soak: step %d, rss %d MB (JVM heap + non-heap committed %d MB, the rest %d MB),"
                  + " arrays in the model's manager %d%n",
              i, mb, j, mb - j, model.manager().getManagedArrays().size());
        }
      }
    }
    List<Long> after =
        rss.subList(Math.min(rss.size() - 1, 2), rss.size()); // warm-up: first 2 samples
    long lo = after.stream().mapToLong(Long::longValue).min().orElse(0);
    long hi = after.stream().mapToLong(Long::longValue).max().orElse(0);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", "soak");
    out.put("steps", steps);
    out.put("rss_mb", rss);
    out.put("jvm_committed_mb", jvm);
    out.put("rss_after_warmup_min_mb", lo);
    out.put("rss_after_warmup_max_mb", hi);
    out.put("rss_growth_pct", GenerateBench.round(100.0 * (hi - lo) / Math.max(1, lo)));
    out.put("within_5pct", hi <= lo * 1.05);
    out.put("seconds", GenerateBench.round((System.nanoTime() - t0) / 1e9));
    out.put("heap_max_mb", Runtime.getRuntime().maxMemory() / (1 << 20));
    return out;
  }
}
