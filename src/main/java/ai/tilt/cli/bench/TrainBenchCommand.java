package ai.tilt.cli.bench;

import ai.tilt.bench.GenerateBench;
import ai.tilt.bench.TrainBench;
import ai.tilt.data.DataOptions;
import ai.tilt.data.SftDataset;
import ai.tilt.data.SftExample;
import ai.tilt.dist.Group;
import ai.tilt.dist.World;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Precision;
import ai.tilt.tokenizer.TextTokenizer;
import ai.tilt.train.Workers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tilt bench train}: optimizer steps/s of the SFT loss, and MFU against a matmul peak. */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    description =
        "Optimizer steps/s of the SFT loss (forward, backward, clip, AdamW) and MFU against a matmul"
            + " peak measured in the same run; defaults match the TRL anchor's SFT benchmark.")
final class TrainBenchCommand implements Callable<Integer> {
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

  @Mixin WorkerRounds workers;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    World world = World.fromEnvironment();
    if (workers.compareIfAsked(world, spec, "train")) {
      return 0;
    }
    if (world.distributed()) {
      try (Group group = Workers.join(world, Duration.ofMinutes(10), 25L << 20);
          CausalLM model = choice.load()) {
        model.setPrecision(Precision.of(precision));
        List<SftExample> examples =
            data == null
                ? TrainBench.examples(
                    batch, promptLen, completionLen, model.config().vocabSize(), 0)
                : fromFile();
        Map<String, Object> out =
            TrainBench.run(model, choice.label(), examples, micro, steps, group);
        out.put("precision", precision);
        if (group.isMain()) {
          BenchOutput.print(out);
        }
      }
      return 0;
    }
    try (CausalLM model = choice.load()) {
      if (data == null && compare) {
        Map<String, Object> fp32 =
            TrainBench.run(model, choice.label(), batch, micro, promptLen, completionLen, steps);
        try (CausalLM again = choice.load()) {
          again.setPrecision(Precision.of(precision));
          Map<String, Object> other =
              TrainBench.run(again, choice.label(), batch, micro, promptLen, completionLen, steps);
          other.put("precision", precision);
          other.put("fp32_tokens_per_s", fp32.get("tokens_per_s"));
          other.put(
              "speedup_vs_fp32",
              GenerateBench.round(
                  (Double) other.get("tokens_per_s") / (Double) fp32.get("tokens_per_s")));
          BenchOutput.print(other);
        }
        return 0;
      }
      model.setPrecision(Precision.of(precision));
      if (data == null) {
        Map<String, Object> out =
            TrainBench.run(model, choice.label(), batch, micro, promptLen, completionLen, steps);
        out.put("precision", precision);
        BenchOutput.print(out);
        return 0;
      }
      BenchOutput.print(
          TrainBench.run(model, choice.label() + " on " + data, fromFile(), micro, steps));
    }
    return 0;
  }

  /** The first batch-size examples of --data. */
  private List<SftExample> fromFile() throws Exception {
    if (choice.model == null) {
      throw new IllegalArgumentException("--data needs --model DIR (a model with a tokenizer)");
    }
    try (TextTokenizer tok = TextTokenizer.load(choice.model)) {
      List<SftExample> all = SftDataset.load(data, tok, DataOptions.of(maxLength)).examples();
      if (all.size() < batch) {
        throw new IllegalArgumentException(
            data + " has " + all.size() + " usable examples, fewer than --batch-size " + batch);
      }
      return all.subList(0, batch);
    }
  }
}
