package ai.tilt.bench;

import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelFiles;
import ai.tilt.runtime.FileTrees;
import ai.tilt.train.Recipe;
import ai.tilt.train.RecipeLoader;
import ai.tilt.train.Trainer;
import ai.tilt.train.TrainingRun;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * On-policy iterations of the real loop (sample, score, policy and reference log-probs, update),
 * timed by stage. Defaults are the TRL anchor's RLOO benchmark: 4 prompts of 64 tokens x 4
 * completions of 64 new tokens, one optimizer step of 16 completions as 2 accumulated micro-batches
 * of 8, KL 0.05 in the reward, reward = minus the completion length. With a generator spec the
 * samples come from an inference server (its weights are synced from the bench's model).
 */
public final class OnlineBench {
  private OnlineBench() {}

  /**
   * What one benchmark samples and trains.
   *
   * @param prompts B
   * @param samples C
   * @param iterations timed iterations, after one warm-up
   */
  public record Settings(
      String label,
      String loss,
      int prompts,
      int samples,
      int promptLen,
      int newTokens,
      int iterations,
      double klCoef) {}

  /**
   * @param generator the recipe's online.generator (YAML), or null for in-process sampling
   */
  public static Map<String, Object> run(CausalLM model, Settings cfg, String generator)
      throws IOException {
    String label = cfg.label();
    String loss = cfg.loss();
    int prompts = cfg.prompts();
    int samples = cfg.samples();
    int promptLen = cfg.promptLen();
    int newTokens = cfg.newTokens();
    int iterations = cfg.iterations();
    double klCoef = cfg.klCoef();
    Path dir = Files.createTempDirectory("tilt-bench-online");
    try {
      Path modelDir = dir.resolve("model");
      ModelFiles.save(model, modelDir, "F32", Long.MAX_VALUE);
      SplittableRandom rnd = new SplittableRandom(0);
      StringBuilder lines = new StringBuilder();
      for (int i = 0; i < prompts * (iterations + 1); i++) {
        lines
            .append("{\"prompt_ids\": ")
            .append(Arrays.toString(rnd.longs(promptLen, 0, model.config().vocabSize()).toArray()))
            .append("}\n");
      }
      Path promptFile = Files.writeString(dir.resolve("prompts.jsonl"), lines.toString());
      String yaml =
          String.join(
              "\n",
              "name: bench-online",
              "model: {path: '" + modelDir + "'}",
              "data: {train: '" + promptFile + "'}",
              "train: {lr: 1.0e-6, micro_batch_size: " + Math.max(1, prompts / 2) + "}",
              // GRPO keeps its KL in the loss (TRL's beta); the others in the reward
              "loss: " + (loss.equals("grpo") ? "{type: grpo, beta: " + klCoef + "}" : loss),
              "online: {prompts_per_iteration: "
                  + prompts
                  + ", samples_per_prompt: "
                  + samples
                  + ", iterations: "
                  + (iterations + 1)
                  + ", max_new_tokens: "
                  + newTokens
                  + ", reward: min_length, kl_coef: "
                  + (loss.equals("grpo") ? 0.0 : klCoef)
                  + (generator == null ? "" : ", generator: " + generator)
                  + "}",
              "checkpoint: {every_steps: 0, keep_last: 1}",
              "");
      Recipe r =
          RecipeLoader.bind(
              (ObjectNode) new YAMLMapper().readTree(yaml), List.of(), "bench online");
      double peak = MatmulPeak.gflops(model.manager());
      ByteArrayOutputStream console = new ByteArrayOutputStream();
      PrintStream quiet = new PrintStream(console, true);
      try (TrainingRun run = TrainingRun.prepare(r, "bench", dir.resolve("run"), null, quiet)) {
        int exit = new Trainer(run).train(quiet);
        if (exit != 0) {
          throw new IllegalStateException(
              "the benchmark's run stopped (exit " + exit + "): " + console);
        }
      }
      List<JsonNode> its = new ArrayList<>();
      for (String line : Files.readAllLines(dir.resolve("run/metrics.jsonl"))) {
        JsonNode n = new ObjectMapper().readTree(line);
        if (n.has("timing/iteration_s")) {
          its.add(n);
        }
      }
      its = its.subList(1, its.size()); // the first iteration warms up
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("bench", "online");
      out.put("model", label);
      out.put("loss", loss);
      out.put("prompts_per_iteration", prompts);
      out.put("samples_per_prompt", samples);
      out.put("prompt_len", promptLen);
      out.put("max_new_tokens", newTokens);
      out.put("kl_coef", klCoef);
      out.put("generator", generator == null ? "in_process" : generator);
      List<String> keys =
          new ArrayList<>(
              List.of(
                  "timing/iteration_s",
                  "timing/generate_s",
                  "timing/reward_s",
                  "timing/policy_logps_s",
                  "timing/reference_s",
                  "timing/train_s"));
      if (generator != null) {
        keys.addAll(List.of("timing/weight_sync_s", "sampling/staleness", "sampling/logp_diff"));
      }
      keys.addAll(List.of("perf/generated_tokens_per_s", "completions/mean_length"));
      for (String k : keys) {
        out.put(k.substring(k.indexOf('/') + 1), GenerateBench.round(median(its, k)));
      }

      out.put(
          "completions_per_s",
          GenerateBench.round(prompts * samples / median(its, "timing/iteration_s")));
      out.put("iterations", its.size());
      out.put("matmul_peak_gflops", GenerateBench.round(peak));
      out.put("threads", JniUtils.getNumThreads());
      out.put("peak_rss_mb", Rss.peakMb());
      return out;
    } finally {
      FileTrees.deleteTree(dir);
    }
  }

  /**
   * The same iterations sampled in-process, on {@code tilt serve} (a child JVM on this machine),
   * and on it overlapped with the update ({@code staleness: 1, overlap: true}), in one run: the
   * in-process run's figures plus each mode's iteration, generation-wait and sync seconds and the
   * ratios.
   */
  public static Map<String, Object> againstServer(CausalLM model, Settings cfg)
      throws IOException, InterruptedException {
    Map<String, Object> out = new LinkedHashMap<>();
    try (ServedModel server = ServedModel.start(model)) {
      String url = "{type: server, url: '" + server.url() + "', model: bench";
      String[][] modes = {
        {"in_process", null},
        {"server", url + "}"},
        {"overlap", url + ", staleness: 1, overlap: true}"}
      };
      for (String[] mode : modes) {
        Map<String, Object> r = run(model, cfg, mode[1]);
        if (out.isEmpty()) {
          out.putAll(r);
          for (String k :
              new String[] {
                "generator",
                "iteration_s",
                "generate_s",
                "reward_s",
                "policy_logps_s",
                "reference_s",
                "train_s",
                "peak_rss_mb"
              }) {
            out.remove(k);
          }
        }
        for (String k : new String[] {"iteration_s", "generate_s", "weight_sync_s"}) {
          if (r.containsKey(k)) {
            out.put(mode[0] + "_" + k, r.get(k));
          }
        }
        System.err.printf(
            "tilt bench online: %s %s s per iteration%n", mode[0], r.get("iteration_s"));
      }
    }
    double in = (Double) out.get("in_process_iteration_s");
    double served = (Double) out.get("server_iteration_s");
    out.put("server_vs_in_process", GenerateBench.round(served / in));
    out.put(
        "overlap_vs_server", GenerateBench.round((Double) out.get("overlap_iteration_s") / served));
    out.put("peak_rss_mb", Rss.peakMb());
    return out;
  }

  private static double median(List<JsonNode> rows, String key) {
    double[] v =
        rows.stream().mapToDouble(n -> n.path(key).asDouble(Double.NaN)).sorted().toArray();
    return v.length == 0 ? Double.NaN : v[v.length / 2];
  }
}
