package ai.tilt.train;

import ai.tilt.data.DataSpec;
import ai.tilt.doc.Doc;
import ai.tilt.loss.Aggregation;
import ai.tilt.loss.Loss;
import ai.tilt.loss.Sft;
import ai.tilt.model.Precision;
import ai.tilt.runtime.HubCache;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

/**
 * A training run, as read from a YAML recipe. Every key, its default and its help text live here,
 * once; {@link RecipeLoader} binds YAML to these records (unknown keys fail naming the key), and
 * {@code tilt recipe explain} prints them. Keys are snake_case in YAML ({@code max_steps}).
 *
 * <p>Over 400 lines because the schema is in one place on purpose: every section's keys, defaults,
 * ranges and help side by side, as a user reads them in {@code tilt recipe explain}.
 */
public record Recipe(
    @Doc("run name; the run directory defaults to checkpoints/<name>") String name,
    @Doc("seed of every random stream (data order, initialisation, sampling)") Long seed,
    @Doc("auto (the first GPU libtorch sees, else the CPU), cpu, cuda or cuda:N") String device,
    @Doc("the policy model") Model model,
    @Doc("training (and evaluation) data") Data data,
    @Doc("optimisation") Train train,
    @Doc(
            "the objective: sft, a preference loss (dpo, ipo, hinge, simpo, orpo, kto, pref_ft, rwr, best_of_n,"
                + " best_of_n_neg), a policy-gradient loss (reinforce, rloo, grpo, ppo) or reward_model; NAME or {type: NAME, key: value}")
        Loss loss,
    @Doc("checkpoints") Checkpoint checkpoint,
    @Doc("metrics, console output and plots") Log log,
    @Doc("held-out evaluation (data.eval)") Eval eval,
    @Doc(
            "on-policy training (Tajwar et al., 2024, Algorithm 1); absent for training on a fixed dataset")
        Online online,
    @Doc("data parallelism across workers (tilt train --nproc N, torchrun, SLURM)") Dist dist) {

  public Recipe {
    name = name == null ? "run" : name;
    seed = seed == null ? 0L : seed;
    device = device == null ? "auto" : device;
    model = model == null ? Model.defaults() : model;
    data = data == null ? Data.defaults() : data;
    train = train == null ? Train.defaults() : train;
    loss = loss == null ? new Sft() : loss;
    checkpoint = checkpoint == null ? Checkpoint.defaults() : checkpoint;
    log = log == null ? Log.defaults() : log;
    eval = eval == null ? Eval.defaults() : eval;
    dist = dist == null ? Dist.defaults() : dist;
  }

  /**
   * Checks the rules that tie sections together (a section's own ranges are checked when it is
   * bound); every message names the keys at fault. Called before a run or an estimate is set up.
   */
  public void validate() {
    RecipeRules.check(this);
  }

  /** {@link #validate()}, and the rules of a data-parallel run of {@code workers}. */
  public void validate(int workers) {
    RecipeRules.check(this);
    RecipeRules.checkWorkers(this, workers);
  }

  /** This recipe with another model section. */
  public Recipe withModel(Model m) {
    return new Recipe(
        name, seed, device, m, data, train, loss, checkpoint, log, eval, online, dist);
  }

  /** This recipe with another train section. */
  public Recipe withTrain(Train t) {
    return new Recipe(
        name, seed, device, model, data, t, loss, checkpoint, log, eval, online, dist);
  }

  /** Where the policy comes from: a HF directory, or a fresh random model. */
  public record Model(
      @Doc(
              "HF model directory (config.json, safetensors, tokenizer files), or a hub name such as"
                  + " Qwen/Qwen2.5-0.5B found offline in the HuggingFace cache (HF_HUB_CACHE, HF_HOME,"
                  + " ~/.cache/huggingface/hub); a local directory wins")
          String path,
      @Doc("with a hub name in path: the branch, tag or commit of its snapshot (default main)")
          String revision,
      @Doc("or: a randomly initialised model, e.g. {arch: llama, preset: tiny}") Init init,
      @Doc(
              "regular expressions over HF weight names; matching weights train, others stay frozen (default: all)")
          List<String> trainable,
      @Doc(
              "compute the reference model's log-probs once before training and cache them in the run directory"
                  + " (saves the reference forward every step and its memory); losses that need a reference only")
          Boolean precomputeReference,
      @Doc(
              "precision of the frozen reference: fp32, bf16-mixed or bf16 (weights held in bf16: half the"
                  + " memory); default fp32, or bf16 when train.precision is bf16-mixed")
          Precision referencePrecision,
      @Doc(
              "LoRA adapters on the base's linear layers (PEFT's format): the base stays frozen (in"
                  + " bf16 under train.precision bf16-mixed), the reference is the base itself")
          Lora lora) {
    /** Every key at its default. */
    public static Model defaults() {
      return new Model(null, null, null, null, null, null, null);
    }

    /** This section with LoRA adapters (and every weight of the base frozen). */
    public Model withLora(Lora l) {
      return new Model(path, revision, init, null, precomputeReference, referencePrecision, l);
    }

    /** The model directory {@link #path} names: itself if it exists, else its hub snapshot. */
    public Path directory() throws IOException {
      return HubCache.resolve(HubCache.RepoType.MODEL, path, revision);
    }

    public Model {
      if (revision != null && path == null) {
        throw new IllegalArgumentException("model.revision needs model.path (a hub name)");
      }
      precomputeReference = precomputeReference != null && precomputeReference;
      if (lora != null && trainable != null) {
        throw new IllegalArgumentException(
            "model.trainable and model.lora exclude each other: with LoRA only the adapters train");
      }
    }
  }

  /** LoRA (Hu et al., 2021), as PEFT's LoraConfig. */
  public record Lora(
      @Doc("r, the adapters' rank (default 16)") Integer rank,
      @Doc("the update is scaled by alpha / r (default 2 r)") Double alpha,
      @Doc("dropout on the adapted layers' inputs, training only (default 0)") Double dropout,
      @Doc(
              "all-linear (every linear layer of the blocks, not the head) or HF module names, e.g."
                  + " [q_proj, v_proj]")
          List<String> targetModules,
      @Doc("rsLoRA: scale by alpha / sqrt(r) (default false)") Boolean useRslora) {
    /** Every key at its default: r 16, alpha 32, on every linear layer. */
    public static Lora defaults() {
      return new Lora(null, null, null, null, null);
    }

    public Lora {
      rank = rank == null ? 16 : rank;
      alpha = alpha == null ? 2.0 * rank : alpha;
      dropout = dropout == null ? 0.0 : dropout;
      targetModules = targetModules == null ? List.of("all-linear") : targetModules;
      useRslora = useRslora != null && useRslora;
      // range checks, naming the keys (the fields are not assigned yet: the parameters are)
      new ai.tilt.model.Lora.Spec(rank, alpha, dropout, targetModules, useRslora);
    }

    public ai.tilt.model.Lora.Spec spec() {
      return new ai.tilt.model.Lora.Spec(rank, alpha, dropout, targetModules, useRslora);
    }
  }

  /** A fresh model made like {@code tilt init-model}. */
  public record Init(
      @Doc("llama, mistral, qwen2, qwen3, gpt_neox or gpt2") String arch,
      @Doc("nano (d48, 3 layers: minGPT's gpt-nano), tiny, small or medium") String preset,
      @Doc("initialisation seed (default: the recipe seed)") Long seed,
      @Doc("directory whose tokenizer files to use (default: Tilt's byte-level BPE)")
          String tokenizer,
      @Doc(
              "or: a model over token ids 0..N-1 with no tokenizer files and no EOS (generation runs to"
                  + " max_new_tokens); data must then be ids (prompt_ids, completion_ids)")
          Integer vocabSize,
      @Doc(
              "warm the fresh model up with SFT before the run (it becomes the run's start and reference)")
          WarmUp sft) {
    public Init {
      arch = arch == null ? "llama" : arch;
      preset = preset == null ? "tiny" : preset;
      if (vocabSize != null && (vocabSize < 2 || tokenizer != null)) {
        throw new IllegalArgumentException(
            "model.init.vocab_size must be >= 2, and excludes model.init.tokenizer");
      }
    }
  }

  /**
   * SFT of a fresh model before the run proper: what an on-policy run starts from and is anchored
   * to.
   */
  public record WarmUp(
      @Doc("SFT JSONL") String data,
      @Doc("optimizer steps") Long steps,
      @Doc("peak learning rate (cosine to a tenth)") Double lr,
      @Doc("sequences per step") Integer batchSize,
      @Doc("longest sequence in tokens") Integer maxLength) {
    public WarmUp {
      steps = steps == null ? 300L : steps;
      lr = lr == null ? 3e-3 : lr;
      batchSize = batchSize == null ? 16 : batchSize;
      maxLength = maxLength == null ? 128 : maxLength;
      if (data == null) {
        throw new IllegalArgumentException("model.init.sft.data is required");
      }
    }
  }

  /** Data sets and tokenisation limits. */
  public record Data(
      @Doc(
              "training data: a .jsonl or .parquet file, a folder of Parquet shards, a save_to_disk"
                  + " folder, or a hub dataset name (org/name) found in the local hub cache")
          String train,
      @Doc("evaluation data, in any of data.train's forms (optional)") String eval,
      @Doc(
              "the split of data.train where it has several (a DatasetDict folder, a hub dataset;"
                  + " default train)")
          String split,
      @Doc("the split of data.eval where it has several (default test)") String evalSplit,
      @Doc(
              "the dataset's config (subset) name, as load_dataset's second argument (default: its own)")
          String config,
      @Doc("the hub revision of a dataset named by name: branch, tag or commit (default main)")
          String revision,
      @Doc(
              "TRL's column names to the data's own, e.g. {prompt: question, chosen: good, rejected:"
                  + " bad}")
          Map<String, String> columns,
      @Doc("longest sequence in tokens; longer examples are truncated (completion end first)")
          Integer maxLength,
      @Doc("longest prompt in tokens; longer prompts keep their last tokens (default: no limit)")
          Integer maxPromptLength,
      @Doc("skip and count bad lines instead of stopping at the first") Boolean skipInvalid,
      @Doc("append EOS after each completion (once; never for chat-formatted data)")
          Boolean appendEos) {
    /** Every key at its default. */
    public static Data defaults() {
      return new Data(null, null, null, null, null, null, null, null, null, null, null);
    }

    public Data {
      split = split == null ? "train" : split;
      evalSplit = evalSplit == null ? "test" : evalSplit;
      columns = columns == null ? Map.of() : Map.copyOf(columns);
      maxLength = maxLength == null ? 512 : maxLength;
      skipInvalid = skipInvalid != null && skipInvalid;
      appendEos = appendEos == null || appendEos;
    }

    /** The training data set as the data room reads it. */
    public DataSpec trainSet() {
      return new DataSpec(train, split, config, revision, columns);
    }

    /** The evaluation data set, or null without data.eval. */
    public DataSpec evalSet() {
      return eval == null ? null : new DataSpec(eval, evalSplit, config, revision, columns);
    }
  }

  /** Optimisation: steps, batches, AdamW, schedule, clipping. */
  public record Train(
      @Doc("optimizer steps; 0 means derive from epochs") Long maxSteps,
      @Doc("passes over the training data, used when max_steps is 0") Double epochs,
      @Doc("sequences per optimizer step") Integer batchSize,
      @Doc(
              "sequences per forward/backward pass; batch_size / micro_batch_size passes are accumulated")
          Integer microBatchSize,
      @Doc("peak learning rate") Double lr,
      @Doc("constant, linear or cosine (after warm-up)") LrSchedule.Kind schedule,
      @Doc("linear warm-up steps") Long warmupSteps,
      @Doc("learning-rate floor at the end of the decay") Double minLr,
      @Doc("AdamW decoupled weight decay (matrices and embeddings only)") Double weightDecay,
      @Doc("AdamW beta1") Double beta1,
      @Doc("AdamW beta2") Double beta2,
      @Doc("AdamW epsilon") Double eps,
      @Doc("global gradient-norm clip; 0 disables") Double maxGradNorm,
      @Doc(
              "per_token (token_mean; TRL's dapo; Yu et al., 2025): every loss token of the step"
                  + " weighs the same; per_sequence (seq_mean_token_mean; TRL's grpo; Shao et al.,"
                  + " 2024): every sequence weighs the same; seq_mean_token_sum_norm (TRL's dr_grpo;"
                  + " Liu et al., 2025; policy-gradient losses): token sums over sequences x"
                  + " online.max_new_tokens")
          Aggregation lossNormalization,
      @Doc(
              "fp32, or bf16-mixed: fp32 master weights and optimizer state, matmuls and attention in bf16,"
                  + " norms, softmax and losses in fp32")
          Precision precision,
      @Doc("stop after this many consecutive steps with a NaN/Inf loss or gradient norm")
          Integer maxBadSteps,
      @Doc(
              "keep only each decoder block's input in the forward and recompute the block in"
                  + " backward: activation memory of one block instead of all (default false)")
          Boolean gradientCheckpointing,
      @Doc(
              "tokens whose logits exist at once, forward and backward (0: automatic, about 128 MB of"
                  + " fp32 logits: 220 tokens at a vocabulary of 152k)")
          Long logitsChunkTokens,
      @Doc(
              "ZeRO stage: 0 keeps AdamW's moments on every worker; 1 shards them across the workers"
                  + " of a data-parallel run (8/W bytes per weight instead of 8; full fine-tuning)")
          Integer zero) {
    /** Every key at its default. */
    public static Train defaults() {
      return new Train(
          null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
          null, null, null, null);
    }

    /** This section with activation checkpointing on or off. */
    public Train withGradientCheckpointing(boolean on) {
      return new Train(
          maxSteps,
          epochs,
          batchSize,
          microBatchSize,
          lr,
          schedule,
          warmupSteps,
          minLr,
          weightDecay,
          beta1,
          beta2,
          eps,
          maxGradNorm,
          lossNormalization,
          precision,
          maxBadSteps,
          on,
          logitsChunkTokens,
          zero);
    }

    /** This section computing in another precision. */
    public Train withPrecision(Precision p) {
      return new Train(
          maxSteps,
          epochs,
          batchSize,
          microBatchSize,
          lr,
          schedule,
          warmupSteps,
          minLr,
          weightDecay,
          beta1,
          beta2,
          eps,
          maxGradNorm,
          lossNormalization,
          p,
          maxBadSteps,
          gradientCheckpointing,
          logitsChunkTokens,
          zero);
    }

    /** This section with another ZeRO stage. */
    public Train withZero(int stage) {
      return new Train(
          maxSteps,
          epochs,
          batchSize,
          microBatchSize,
          lr,
          schedule,
          warmupSteps,
          minLr,
          weightDecay,
          beta1,
          beta2,
          eps,
          maxGradNorm,
          lossNormalization,
          precision,
          maxBadSteps,
          gradientCheckpointing,
          logitsChunkTokens,
          stage);
    }

    /** This section with another micro-batch size (and the same batch size). */
    public Train withMicroBatchSize(int micro) {
      return new Train(
          maxSteps,
          epochs,
          batchSize,
          micro,
          lr,
          schedule,
          warmupSteps,
          minLr,
          weightDecay,
          beta1,
          beta2,
          eps,
          maxGradNorm,
          lossNormalization,
          precision,
          maxBadSteps,
          gradientCheckpointing,
          logitsChunkTokens,
          zero);
    }

    public Train {
      maxSteps = maxSteps == null ? 0L : maxSteps;
      batchSize = batchSize == null ? 16 : batchSize;
      microBatchSize = microBatchSize == null ? batchSize : microBatchSize;
      lr = lr == null ? 1e-5 : lr;
      schedule = schedule == null ? LrSchedule.Kind.COSINE : schedule;
      warmupSteps = warmupSteps == null ? 0L : warmupSteps;
      minLr = minLr == null ? 0.0 : minLr;
      weightDecay = weightDecay == null ? 0.0 : weightDecay;
      beta1 = beta1 == null ? 0.9 : beta1;
      beta2 = beta2 == null ? 0.999 : beta2;
      eps = eps == null ? 1e-8 : eps;
      maxGradNorm = maxGradNorm == null ? 1.0 : maxGradNorm;
      lossNormalization = lossNormalization == null ? Aggregation.PER_TOKEN : lossNormalization;
      precision = precision == null ? Precision.FP32 : precision;
      maxBadSteps = maxBadSteps == null ? 5 : maxBadSteps;
      gradientCheckpointing = gradientCheckpointing != null && gradientCheckpointing;
      logitsChunkTokens = logitsChunkTokens == null ? 0L : logitsChunkTokens;
      zero = zero == null ? 0 : zero;
      if (zero != 0 && zero != 1) {
        throw new IllegalArgumentException("train.zero must be 0 or 1, got " + zero);
      }
      if (logitsChunkTokens < 0) {
        throw new IllegalArgumentException(
            "train.logits_chunk_tokens must be >= 0 (0: automatic), got " + logitsChunkTokens);
      }
    }
  }

  /** When checkpoints are written and how many are kept. */
  public record Checkpoint(
      @Doc(
              "write a checkpoint every N optimizer steps, at the end of the iteration that reaches"
                  + " a multiple of N (0: only at the end and when stopped)")
          Long everySteps,
      @Doc("keep the newest N checkpoints (0 keeps all)") Integer keepLast,
      @Doc("largest safetensors shard in bytes") Long maxShardBytes) {
    /** Every key at its default. */
    public static Checkpoint defaults() {
      return new Checkpoint(null, null, null);
    }

    public Checkpoint {
      everySteps = everySteps == null ? 0L : everySteps;
      keepLast = keepLast == null ? 2 : keepLast;
      maxShardBytes = maxShardBytes == null ? 2_000_000_000L : maxShardBytes;
    }
  }

  /** What is logged, and how often. */
  public record Log(
      @Doc("console line every N steps (metrics.jsonl gets a line every iteration)") Integer every,
      @Doc("write PNG plots of every curve at the end") Boolean plots,
      @Doc(
              "where metrics go: jsonl (metrics.jsonl, always) and tensorboard (event files in"
                  + " RUN/tensorboard); a list, or one name as TRL's report_to (also none, all)")
          List<ReportTo> reportTo) {
    /** Every key at its default. */
    public static Log defaults() {
      return new Log(null, null, null);
    }

    public Log {
      every = every == null ? 10 : every;
      plots = plots == null || plots;
      if (every < 1) {
        throw new IllegalArgumentException("log.every must be >= 1, got " + every);
      }
      // metrics.jsonl is what resume, plots and the lab read: it is written whatever the list
      // says, and the resolved recipe says so
      EnumSet<ReportTo> set = EnumSet.of(ReportTo.JSONL);
      for (ReportTo r : reportTo == null ? List.<ReportTo>of() : reportTo) {
        if (r == null) {
          throw new IllegalArgumentException(
              "log.report_to has an empty entry (known: jsonl, tensorboard)");
        }
        switch (r) {
          case NONE -> {} // TRL's "none": Tilt's own metrics.jsonl only
          case ALL -> set.add(ReportTo.TENSORBOARD); // TRL's "all": every destination there is
          default -> set.add(r);
        }
      }
      reportTo = List.copyOf(set);
    }
  }

  /** A destination of metrics ({@code log.report_to}); TRL's word for them. */
  public enum ReportTo {
    @JsonProperty("jsonl")
    JSONL,
    @JsonProperty("tensorboard")
    TENSORBOARD,
    /** TRL's word for no integration: metrics.jsonl only. */
    @JsonProperty("none")
    NONE,
    /** TRL's word for every integration installed: here jsonl and tensorboard. */
    @JsonProperty("all")
    ALL
  }

  /** Held-out evaluation on data.eval. */
  public record Eval(
      @Doc(
              "evaluate every N optimizer steps, at the end of the iteration that reaches a"
                  + " multiple of N (0: only at the end; on-policy runs also evaluate the start)")
          Long everySteps) {
    /** Every key at its default. */
    public static Eval defaults() {
      return new Eval(null);
    }

    public Eval {
      everySteps = everySteps == null ? 0L : everySteps;
      if (everySteps < 0) {
        throw new IllegalArgumentException("eval.every_steps must be >= 0, got " + everySteps);
      }
    }
  }
}
