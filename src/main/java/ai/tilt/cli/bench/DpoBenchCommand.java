package ai.tilt.cli.bench;

import ai.djl.ndarray.NDArray;
import ai.tilt.bench.DpoBench;
import ai.tilt.data.DataOptions;
import ai.tilt.data.PreferenceDataset;
import ai.tilt.data.ResponseGroup;
import ai.tilt.dist.Group;
import ai.tilt.dist.World;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Lora;
import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import ai.tilt.tokenizer.TextTokenizer;
import ai.tilt.train.MemoryEstimate;
import ai.tilt.train.Recipe;
import ai.tilt.train.RecipeLoader;
import ai.tilt.train.ReferenceModel;
import ai.tilt.train.Streams;
import ai.tilt.train.WorkShapes;
import ai.tilt.train.Workers;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
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

/**
 * {@code tilt bench dpo}: offline DPO optimizer steps, full fine-tuning with a frozen reference
 * copy or LoRA with the adapter-free base as the reference, with or without activation
 * checkpointing; pairs/s, tokens/s and peak memory.
 */
@Command(
    name = "dpo",
    mixinStandardHelpOptions = true,
    description =
        "Offline DPO optimizer steps (policy + reference): pairs/s, tokens/s and peak memory; defaults"
            + " match the TRL anchor's DPO benchmark (8 pairs of 64-token prompts with 65-token chosen"
            + " and rejected responses). --lora-rank and --gradient-checkpointing match"
            + " bench_trl.py dpo --peft-rank R --grad-ckpt.")
public final class DpoBenchCommand implements Callable<Integer> {
  @Mixin ModelChoice choice;

  @Option(
      names = "--data",
      description =
          "TRL-format preference JSONL whose first batch-size pairs to train on (needs --model)")
  Path data;

  @Option(names = "--batch-size", defaultValue = "8", description = "pairs per step")
  int batch;

  @Option(names = "--micro-batch-size", description = "pairs per forward (default: batch-size)")
  Integer micro;

  @Option(names = "--max-length", defaultValue = "512")
  int maxLength;

  @Option(names = "--prompt-len", defaultValue = "64")
  int promptLen;

  @Option(names = "--response-len", defaultValue = "65")
  int responseLen;

  @Option(
      names = "--steps",
      defaultValue = "5",
      description = "timed steps after the warm-up steps (median) (default: ${DEFAULT-VALUE})")
  int steps;

  @Option(
      names = "--warmup",
      defaultValue = "2",
      description = "untimed steps first (default: ${DEFAULT-VALUE})")
  int warmup;

  @Option(
      names = "--lora-rank",
      paramLabel = "R",
      description =
          "LoRA of rank R (alpha 2R) on every linear layer; the reference is the base without"
              + " adapters (default: full fine-tuning against a frozen copy)")
  Integer loraRank;

  @Option(names = "--gradient-checkpointing", description = "recompute the blocks in backward")
  boolean checkpointing;

  @Option(
      names = "--logits-chunk-tokens",
      defaultValue = "0",
      description = "tokens of logits at once (default: 0, automatic)")
  long chunk;

  @Option(
      names = "--precision",
      defaultValue = "fp32",
      description = "fp32 or bf16-mixed (default: ${DEFAULT-VALUE})")
  String precision;

  @Mixin WorkerRounds workers;

  @Option(
      names = "--zero",
      defaultValue = "0",
      description = "1: AdamW's moments sharded across the workers (train.zero: 1)")
  int zero;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    World world = World.fromEnvironment();
    if (workers.compareIfAsked(world, spec, "dpo")) {
      return 0;
    }
    try (Group group = Workers.join(world, Duration.ofMinutes(10), 25L << 20)) {
      return run(group);
    }
  }

  private int run(Group group) throws Exception {
    Precision p = Precision.of(precision);
    try (CausalLM policy = choice.load()) {
      List<ResponseGroup> pairs = pairs(policy);
      Map<String, NDArray> trainable;
      ReferenceModel reference;
      CausalLM frozen = null;
      if (loraRank != null) {
        Lora lora =
            Lora.create(
                policy,
                new Lora.Spec(loraRank, 2.0 * loraRank, 0, List.of("all-linear"), false),
                new Streams(0).loraInit()); // the adapters a recipe of seed 0 starts from
        policy.setLora(lora);
        policy.setPrecision(p == Precision.FP32 ? Precision.FP32 : Precision.BF16);
        trainable = lora.parameters();
        reference = ReferenceModel.adaptersOff(policy);
      } else {
        policy.setPrecision(p);
        trainable = policy.parameters();
        frozen = choice.load();
        frozen.setPrecision(p == Precision.FP32 ? Precision.FP32 : Precision.BF16);
        reference = ReferenceModel.of(frozen);
      }
      policy.setGradientCheckpointing(checkpointing);
      policy.setLogitsChunkTokens(chunk);
      try {
        Map<String, Object> out =
            DpoBench.run(
                policy,
                trainable,
                reference,
                choice.label(),
                pairs,
                micro == null ? batch : micro,
                warmup,
                steps,
                group,
                zero == 1);
        out.put("warmup", warmup);
        out.put("lora_rank", loraRank == null ? 0 : loraRank);
        out.put("gradient_checkpointing", checkpointing);
        out.put("logits_chunk_tokens", chunk); // 0: automatic
        out.put("precision", p.label);
        MemoryEstimate e = estimate(policy, pairs, p);
        out.put("estimated_peak_mb", e.total() >> 20);
        long measured =
            out.containsKey("peak_gpu_mb")
                ? ((Number) out.get("peak_gpu_mb")).longValue()
                : ((Number) out.get("peak_rss_mb")).longValue();
        out.put(
            "estimate_error",
            Math.round(1000.0 * ((e.total() >> 20) - measured) / measured) / 1000.0);
        if (group.isMain()) {
          BenchOutput.print(out);
        }
      } finally {
        if (frozen != null) {
          frozen.close();
        }
      }
    }
    return 0;
  }

  /** What tilt estimate predicts for the same run, as a recipe would set it up. */
  private MemoryEstimate estimate(CausalLM policy, List<ResponseGroup> pairs, Precision p) {
    ObjectNode tree = new ObjectMapper().createObjectNode();
    tree.putObject("model").put("path", choice.label());
    if (loraRank != null) {
      ((ObjectNode) tree.get("model"))
          .putObject("lora")
          .put("rank", loraRank)
          .put("alpha", 2.0 * loraRank);
    }
    tree.putObject("train")
        .put("batch_size", batch)
        .put("micro_batch_size", micro == null ? batch : micro)
        .put("gradient_checkpointing", checkpointing)
        .put("logits_chunk_tokens", chunk)
        .put("precision", p.label);
    tree.put("loss", "dpo");
    Recipe r = RecipeLoader.bind(tree, List.of(), "bench dpo");
    boolean gpu = Devices.current().isGpu();
    return MemoryEstimate.of(
        policy.config(), r, WorkShapes.packedGroups(pairs, micro == null ? batch : micro), gpu, -1);
  }

  private List<ResponseGroup> pairs(CausalLM policy) throws Exception {
    if (data == null) {
      return DpoBench.pairs(batch, promptLen, responseLen, policy.config().vocabSize());
    }
    if (choice.model == null) {
      throw new IllegalArgumentException("--data needs --model DIR (a model with a tokenizer)");
    }
    try (TextTokenizer tok = TextTokenizer.load(choice.model)) {
      List<ResponseGroup> all =
          PreferenceDataset.load(data, tok, new DataOptions(maxLength, null, false, true)).groups();
      if (all.size() < batch) {
        throw new IllegalArgumentException(
            data + " has " + all.size() + " usable pairs, fewer than --batch-size " + batch);
      }
      return all.subList(0, batch);
    }
  }
}
