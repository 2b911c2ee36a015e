package ai.tilt.cli.bench;

import ai.tilt.bench.ForwardBench;
import ai.tilt.bench.GenerateBench;
import ai.tilt.bench.OnlineBench;
import ai.tilt.bench.PrecisionBench;
import ai.tilt.bench.TrainBench;
import ai.tilt.cli.Main;
import ai.tilt.data.DataOptions;
import ai.tilt.data.SftDataset;
import ai.tilt.data.SftExample;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelConfig.Family;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.model.Presets;
import ai.tilt.runtime.Devices;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tilt bench ...}: throughput figures, each run ending in one JSON line. */
@Command(
    name = "bench",
    description = "Benchmarks; each prints one JSON line with its figures and settings.",
    mixinStandardHelpOptions = true,
    subcommands = {
      BenchCommand.Generate.class,
      BenchCommand.Forward.class,
      BenchCommand.Train.class,
      DpoBenchCommand.class,
      BenchCommand.Online.class,
      BenchCommand.Memory.class,
      BenchCommand.Attention.class,
      BenchCommand.Parity.class,
      BenchCommand.Soak.class
    })
public final class BenchCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  /** Which model a benchmark runs: a preset made on the fly, or a HF directory. */
  static final class ModelChoice {
    @Option(names = "--model", description = "HF model directory (default: a random preset model)")
    Path model;

    @Option(
        names = "--preset",
        defaultValue = "small",
        description = "tiny, small or medium (default: ${DEFAULT-VALUE})")
    String preset;

    @Option(
        names = "--arch",
        defaultValue = "llama",
        description = "family of the preset model (default: ${DEFAULT-VALUE})")
    String arch;

    @Option(
        names = "--vocab-size",
        defaultValue = "50257",
        description = "vocabulary of the preset model (default: ${DEFAULT-VALUE}, GPT-2's)")
    int vocab;

    CausalLM load() throws Exception {
      if (model != null) {
        return ModelFiles.load(model, Devices.current());
      }
      Family f = Family.of(arch);
      return ModelFiles.random(
          Presets.config(f, preset, vocab, null, new long[0], null), 0, 0.02f, Devices.current());
    }

    String label() {
      return model != null ? model.toString() : arch + "-" + preset + "-v" + vocab;
    }
  }

  static void print(Map<String, Object> figures) throws Exception {
    System.out.println(new ObjectMapper().writeValueAsString(figures));
  }

  @Command(
      name = "generate",
      mixinStandardHelpOptions = true,
      description =
          "Batched sampling tokens/s with and without the KV cache, and GFLOP/s against a matmul peak measured in the same run.")
  static final class Generate implements Callable<Integer> {
    @Mixin ModelChoice choice;

    @Option(names = "--batch-size", defaultValue = "8")
    int batch;

    @Option(names = "--prompt-len", defaultValue = "64")
    int promptLen;

    @Option(names = "--new-tokens", defaultValue = "128")
    int newTokens;

    @Option(
        names = "--repeats",
        defaultValue = "3",
        description = "timed runs with the cache (median)")
    int repeats;

    @Option(
        names = "--no-cache-repeats",
        defaultValue = "1",
        description = "timed runs without the cache (0 skips)")
    int noCache;

    @Override
    public Integer call() throws Exception {
      try (CausalLM model = choice.load()) {
        print(
            GenerateBench.run(
                model, choice.label(), batch, promptLen, newTokens, repeats, noCache));
      }
      return 0;
    }
  }

  @Command(
      name = "forward",
      mixinStandardHelpOptions = true,
      description =
          "Forward and forward+backward tokens/s of the log-prob loss, and MFU against a matmul peak measured in the same run.")
  static final class Forward implements Callable<Integer> {
    @Mixin ModelChoice choice;

    @Option(names = "--batch-size", defaultValue = "8")
    int batch;

    @Option(names = "--seq-len", defaultValue = "128")
    int seqLen;

    @Option(names = "--steps", defaultValue = "3", description = "timed steps (median)")
    int steps;

    @Override
    public Integer call() throws Exception {
      try (CausalLM model = choice.load()) {
        print(ForwardBench.run(model, choice.label(), batch, seqLen, steps));
      }
      return 0;
    }
  }

  @Command(
      name = "train",
      mixinStandardHelpOptions = true,
      description =
          "Optimizer steps/s of the SFT loss (forward, backward, clip, AdamW) and MFU against a matmul"
              + " peak measured in the same run; defaults match the TRL anchor's SFT benchmark.")
  static final class Train implements Callable<Integer> {
    @Mixin ModelChoice choice;

    @Option(names = "--batch-size", defaultValue = "8")
    int batch;

    @Option(names = "--micro-batch-size", defaultValue = "8")
    int micro;

    @Option(names = "--prompt-len", defaultValue = "64")
    int promptLen;

    @Option(
        names = "--completion-len",
        defaultValue = "65",
        description = "loss tokens per row (64 + EOS in the anchor)")
    int completionLen;

    @Option(
        names = "--steps",
        defaultValue = "5",
        description = "timed steps after 2 warm-up steps (median)")
    int steps;

    @Option(
        names = "--data",
        description =
            "SFT JSONL whose first batch-size examples to train on (needs --model with a tokenizer)")
    Path data;

    @Option(
        names = "--precision",
        defaultValue = "fp32",
        description = "fp32 or bf16-mixed (default: ${DEFAULT-VALUE})")
    String precision;

    @Option(
        names = "--compare",
        description = "also run fp32 in the same process and report the bf16-mixed / fp32 ratio")
    boolean compare;

    @Option(
        names = "--max-length",
        defaultValue = "512",
        description = "truncation length for --data (default: ${DEFAULT-VALUE})")
    int maxLength;

    @Override
    public Integer call() throws Exception {
      try (CausalLM model = choice.load()) {
        if (data == null && compare) {
          Map<String, Object> fp32 =
              TrainBench.run(model, choice.label(), batch, micro, promptLen, completionLen, steps);
          try (CausalLM again = choice.load()) {
            again.setPrecision(Precision.of(precision));
            Map<String, Object> other =
                TrainBench.run(
                    again, choice.label(), batch, micro, promptLen, completionLen, steps);
            other.put("precision", precision);
            other.put("fp32_tokens_per_s", fp32.get("tokens_per_s"));
            other.put(
                "speedup_vs_fp32",
                GenerateBench.round(
                    (Double) other.get("tokens_per_s") / (Double) fp32.get("tokens_per_s")));
            print(other);
          }
          return 0;
        }
        model.setPrecision(Precision.of(precision));
        if (data == null) {
          Map<String, Object> out =
              TrainBench.run(model, choice.label(), batch, micro, promptLen, completionLen, steps);
          out.put("precision", precision);
          print(out);
          return 0;
        }
        if (choice.model == null) {
          throw new IllegalArgumentException("--data needs --model DIR (a model with a tokenizer)");
        }
        try (TextTokenizer tok = TextTokenizer.load(choice.model)) {
          List<SftExample> all = SftDataset.load(data, tok, DataOptions.of(maxLength)).examples();
          if (all.size() < batch) {
            throw new IllegalArgumentException(
                data + " has " + all.size() + " usable examples, fewer than --batch-size " + batch);
          }
          print(
              TrainBench.run(
                  model, choice.label() + " on " + data, all.subList(0, batch), micro, steps));
        }
      }
      return 0;
    }
  }

  @Command(
      name = "online",
      mixinStandardHelpOptions = true,
      description =
          "Seconds per on-policy iteration split into generation, reward, policy and reference log-probs and"
              + " training, with generated tokens/s; defaults match the TRL anchor's RLOO benchmark.")
  static final class Online implements Callable<Integer> {
    @Mixin ModelChoice choice;

    @Option(names = "--loss", defaultValue = "rloo")
    String loss;

    @Option(names = "--prompts", defaultValue = "4", description = "B")
    int prompts;

    @Option(names = "--samples", defaultValue = "4", description = "C")
    int samples;

    @Option(names = "--prompt-len", defaultValue = "64")
    int promptLen;

    @Option(names = "--new-tokens", defaultValue = "64")
    int newTokens;

    @Option(
        names = "--iterations",
        defaultValue = "3",
        description = "timed iterations after 1 warm-up")
    int iterations;

    @Option(names = "--kl-coef", defaultValue = "0.05")
    double klCoef;

    @Option(
        names = "--generator",
        paramLabel = "YAML",
        description =
            "online.generator, e.g. \"{type: server, url: 'http://127.0.0.1:8000', model: policy}\""
                + " (default: in-process sampling); start the server with a model of the same shape")
    String generator;

    @Option(
        names = "--serve",
        description =
            "start tilt serve on the bench's model as a child process and time in-process sampling,"
                + " the server, and the server overlapped with the update, in one run")
    boolean serve;

    @Override
    public Integer call() throws Exception {
      OnlineBench.Settings cfg =
          new OnlineBench.Settings(
              choice.label(), loss, prompts, samples, promptLen, newTokens, iterations, klCoef);
      try (CausalLM model = choice.load()) {
        print(
            serve ? OnlineBench.againstServer(model, cfg) : OnlineBench.run(model, cfg, generator));
      }
      return 0;
    }
  }

  @Command(
      name = "memory",
      mixinStandardHelpOptions = true,
      description =
          "Memory of a frozen reference (load + one scoring pass) held in bf16 against fp32, each in a fresh"
              + " child JVM.")
  static final class Memory implements Callable<Integer> {
    @Mixin ModelChoice choice;

    @Option(names = "--batch-size", defaultValue = "1")
    int batch;

    @Option(names = "--seq-len", defaultValue = "64")
    int seqLen;

    @Option(names = "--child", hidden = true)
    String child;

    @Override
    public Integer call() throws Exception {
      if (child != null) {
        print(PrecisionBench.referenceMemory(choice.model, Precision.of(child), batch, seqLen));
        return 0;
      }
      Path dir = Files.createTempDirectory("tilt-bench-memory");
      Path modelDir = choice.model;
      if (modelDir == null) {
        modelDir = dir.resolve("model");
        try (CausalLM m = choice.load()) {
          ModelFiles.save(m, modelDir, "F32", Long.MAX_VALUE);
        }
      }
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("bench", "memory");
      out.put("model", choice.label());
      for (String p : new String[] {"fp32", "bf16"}) {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb =
            new ProcessBuilder(
                javaBin,
                "-Dai.djl.offline=true",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "bench",
                "memory",
                "--child",
                p,
                "--model",
                modelDir.toString(),
                "--batch-size",
                Integer.toString(batch),
                "--seq-len",
                Integer.toString(seqLen));
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        // glibc would keep freed conversion buffers in its heap; a fixed mmap threshold returns
        // them
        pb.environment().putIfAbsent("MALLOC_MMAP_THRESHOLD_", "1048576");
        Process proc = pb.start();
        String last = new String(proc.getInputStream().readAllBytes()).trim();
        proc.waitFor();
        String[] lines = last.split("\n");
        out.put(p, new ObjectMapper().readTree(lines[lines.length - 1]));
      }
      JsonNode a = (JsonNode) out.get("fp32");
      JsonNode b = (JsonNode) out.get("bf16");
      out.put(
          "weights_ratio",
          GenerateBench.round(b.get("weights_mb").asDouble() / a.get("weights_mb").asDouble()));
      out.put(
          "tensor_ratio",
          GenerateBench.round(b.get("tensor_mb").asDouble() / a.get("tensor_mb").asDouble()));
      out.put(
          "after_scoring_ratio",
          GenerateBench.round(
              b.get("after_scoring_mb").asDouble() / a.get("after_scoring_mb").asDouble()));
      print(out);
      return 0;
    }
  }

  @Command(
      name = "attention",
      mixinStandardHelpOptions = true,
      description =
          "Forward + backward with fused (scaled_dot_product_attention) against unfused attention at a long"
              + " sequence: seconds and resident-memory growth, measured in one run.")
  static final class Attention implements Callable<Integer> {
    @Mixin ModelChoice choice;

    @Option(names = "--batch-size", defaultValue = "2")
    int batch;

    @Option(names = "--seq-len", defaultValue = "1024")
    int seqLen;

    @Option(names = "--steps", defaultValue = "2")
    int steps;

    @Option(names = "--child", hidden = true)
    String child;

    @Override
    public Integer call() throws Exception {
      if (child != null) {
        try (CausalLM m = choice.load()) {
          print(PrecisionBench.attention(m, child.equals("fused"), batch, seqLen, steps));
        }
        return 0;
      }
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("bench", "attention");
      out.put("model", choice.label());
      out.put("batch", batch);
      out.put("seq_len", seqLen);
      for (String mode : new String[] {"unfused", "fused"}) {
        // each in a fresh JVM, so neither inherits the other's memory
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd =
            new ArrayList<>(
                List.of(
                    javaBin,
                    "-Dai.djl.offline=true",
                    "-cp",
                    System.getProperty("java.class.path"),
                    Main.class.getName(),
                    "bench",
                    "attention",
                    "--child",
                    mode,
                    "--batch-size",
                    Integer.toString(batch),
                    "--seq-len",
                    Integer.toString(seqLen),
                    "--steps",
                    Integer.toString(steps),
                    "--preset",
                    choice.preset,
                    "--arch",
                    choice.arch,
                    "--vocab-size",
                    Integer.toString(choice.vocab)));
        if (choice.model != null) {
          cmd.addAll(List.of("--model", choice.model.toString()));
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        Process proc = pb.start();
        String[] lines = new String(proc.getInputStream().readAllBytes()).trim().split("\n");
        proc.waitFor();
        out.put(mode, new ObjectMapper().readTree(lines[lines.length - 1]));
      }
      JsonNode a = (JsonNode) out.get("unfused");
      JsonNode b = (JsonNode) out.get("fused");
      out.put(
          "fused_speedup",
          GenerateBench.round(a.get("step_s").asDouble() / b.get("step_s").asDouble()));
      out.put(
          "fused_memory_ratio",
          GenerateBench.round(
              b.get("rss_growth_mb").asDouble() / a.get("rss_growth_mb").asDouble()));
      print(out);
      return 0;
    }
  }

  @Command(
      name = "parity",
      mixinStandardHelpOptions = true,
      description =
          "bf16-mixed against fp32 on this device: the smallest per-parameter gradient cosine and the largest"
              + " log-prob difference (the GPU smoke check).")
  static final class Parity implements Callable<Integer> {
    @Mixin ModelChoice choice;

    @Option(names = "--batch-size", defaultValue = "4")
    int batch;

    @Option(names = "--seq-len", defaultValue = "64")
    int seqLen;

    @Override
    public Integer call() throws Exception {
      try (CausalLM a = choice.load();
          CausalLM b = choice.load()) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("bench", "parity");
        out.put("model", choice.label());
        out.put("device", a.manager().getDevice().toString());
        out.putAll(PrecisionBench.parity(a, b, batch, seqLen));
        print(out);
      }
      return 0;
    }
  }

  @Command(
      name = "soak",
      mixinStandardHelpOptions = true,
      description = {
        "Many optimizer steps of a tiny model with RSS sampled every N steps: native memory must stay flat.",
        "Runs in a child JVM with a fixed, pre-touched 128 MB heap and the C1 JIT only: a growing Java heap and"
            + " the C2 compiler's own arenas raise RSS during warm-up (measured: +20-30 MB in the first 1,000"
            + " steps, then flat) and would hide what this measures, the tensors' native memory."
      })
  static final class Soak implements Callable<Integer> {
    @Option(names = "--steps", defaultValue = "2000")
    int steps;

    @Option(names = "--every", defaultValue = "100")
    int every;

    @Option(names = "--same-jvm", description = "run in this JVM, with its own flags")
    boolean sameJvm;

    @Override
    public Integer call() throws Exception {
      if (!sameJvm) {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb =
            new ProcessBuilder(
                javaBin,
                "-Xms128m",
                "-Xmx128m",
                "-XX:+AlwaysPreTouch",
                "-XX:TieredStopAtLevel=1",
                "-Dai.djl.offline=true",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "bench",
                "soak",
                "--same-jvm",
                "--steps",
                Integer.toString(steps),
                "--every",
                Integer.toString(every));
        pb.inheritIO();
        return pb.start().waitFor();
      }
      ModelChoice tiny = new ModelChoice();
      tiny.preset = "tiny";
      tiny.arch = "llama";
      tiny.vocab = 512;
      try (CausalLM model = tiny.load()) {
        print(TrainBench.soak(model, steps, every, System.err));
      }
      return 0;
    }
  }
}
