package ai.tilt.bench;

import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelConfig;
import ai.tilt.sampling.Generator;
import ai.tilt.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Batched sampling throughput with and without the KV cache, the shape of the TRL anchor's {@code
 * bench_trl.py generate}: B random prompts of P tokens, exactly N new tokens each (EOS ignored),
 * temperature 1, no top-k/top-p.
 */
public final class GenerateBench {
  private GenerateBench() {}

  public static Map<String, Object> run(
      CausalLM model,
      String label,
      int batch,
      int promptLen,
      int newTokens,
      int repeats,
      int noCacheRepeats) {
    ModelConfig c = model.config();
    SplittableRandom rnd = new SplittableRandom(0);
    List<long[]> prompts = new ArrayList<>();
    for (int r = 0; r < batch; r++) {
      prompts.add(rnd.longs(promptLen, 0, c.vocabSize()).toArray());
    }
    Generator g = new Generator(model, new long[0]);
    SamplingParams params = new SamplingParams(newTokens, 1.0, 0, 1.0, false, true, 1);
    double peak = MatmulPeak.gflops(model.manager());
    g.generate(prompts, params.withIgnoreEos(true)); // warm-up
    double[] cached = new double[repeats];
    for (int i = 0; i < repeats; i++) {
      long t0 = System.nanoTime();
      g.generate(prompts, params);
      cached[i] = (System.nanoTime() - t0) / 1e9;
    }
    long t0 = System.nanoTime();
    g.generate(prompts, new SamplingParams(1, 1.0, 0, 1.0, false, true, 1));
    double prefill = (System.nanoTime() - t0) / 1e9;
    double[] uncached = new double[noCacheRepeats];
    for (int i = 0; i < noCacheRepeats; i++) {
      t0 = System.nanoTime();
      g.generate(prompts, params, false);
      uncached[i] = (System.nanoTime() - t0) / 1e9;
    }
    double peak2 = MatmulPeak.gflops(model.manager());
    Arrays.sort(cached);
    Arrays.sort(uncached);
    double s = cached[repeats / 2];
    double tokens = (double) batch * newTokens;
    // Model FLOPs: the prefill plus one position per row per step at its context length.
    double flops = batch * promptLen * c.forwardFlopsPerToken(promptLen);
    for (int k = 1; k < newTokens; k++) {
      flops += batch * c.forwardFlopsPerToken(promptLen + k);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", "generate");
    out.put("model", label);
    out.put("params_matmul", c.matmulParams());
    out.put("batch", batch);
    out.put("prompt_len", promptLen);
    out.put("new_tokens", newTokens);
    out.put("tokens_per_s", round(tokens / s));
    out.put(
        "tokens_per_s_no_cache",
        noCacheRepeats > 0 ? round(tokens / uncached[noCacheRepeats / 2]) : null);
    out.put(
        "kv_cache_speedup", noCacheRepeats > 0 ? round(uncached[noCacheRepeats / 2] / s) : null);
    out.put("ms_per_step", round(1000 * (s - prefill) / Math.max(1, newTokens - 1)));
    out.put("prefill_s", round(prefill));
    out.put("gflops", round(flops / s / 1e9));
    out.put("matmul_peak_gflops", round(Math.max(peak, peak2)));
    out.put("mfu", round(flops / s / 1e9 / Math.max(peak, peak2)));
    out.put("repeats", repeats);
    out.put("threads", JniUtils.getNumThreads());
    out.put("peak_rss_mb", Rss.peakMb());
    return out;
  }

  public static double round(double x) {
    return Math.round(x * 1000) / 1000.0;
  }
}
