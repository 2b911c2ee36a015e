package ai.tilt.train;

import ai.tilt.loss.Aggregation;
import ai.tilt.loss.Loss;
import ai.tilt.model.Precision;
import ai.tilt.sampling.GeneratorSpec;

/**
 * The rules that tie a recipe's sections together, in one place ({@link Recipe#validate}). A
 * section's own ranges are checked by its record when it is bound; what needs two sections (the
 * loss and whether the run is on-policy, LoRA and the server's weight updates, the batch and its
 * micro-batches) is checked here, before anything is loaded, and every message names the keys.
 */
final class RecipeRules {
  private RecipeRules() {}

  static void check(Recipe r) {
    Recipe.Train t = r.train();
    Loss loss = r.loss();
    require(
        (r.model().path() == null) != (r.model().init() == null),
        "set exactly one of model.path and model.init");
    require(
        r.data().train() != null,
        "data.train is required"
            + (r.online() != null ? " (the prompts of an on-policy run)" : ""));
    require(
        t.batchSize() >= 1 && t.microBatchSize() >= 1 && t.batchSize() % t.microBatchSize() == 0,
        "train.batch_size ("
            + t.batchSize()
            + ") must be a positive multiple of train.micro_batch_size ("
            + t.microBatchSize()
            + ")");
    require(
        t.precision() != Precision.BF16 || r.model().lora() != null,
        "train.precision bf16 holds the weights in bf16, which cannot train; use bf16-mixed (or"
            + " LoRA, whose frozen base may be held in bf16)");
    require(
        t.zero() == 0 || (r.model().lora() == null && t.precision() != Precision.BF16),
        "train.zero: 1 shards the moments of full fine-tuning; LoRA's adapters are small enough"
            + " to keep plain data parallelism (set train.zero: 0)");
    require(
        t.maxSteps() >= 0 && (t.maxSteps() > 0 || t.epochs() == null || t.epochs() > 0),
        "train.max_steps must be > 0, or train.epochs > 0");
    require(
        r.online() != null // on-policy runs never precompute: their responses are new each time
            || !(loss.needsKlBatch() && loss.needsReference() && r.model().precomputeReference()),
        "model.precompute_reference does not work with "
            + loss.type()
            + ", whose KL estimate pairs prompts with other prompts' responses at random");
    require(
        t.lossNormalization() != Aggregation.SEQ_MEAN_TOKEN_SUM_NORM
            || (r.online() != null && loss.weighsTokens()),
        "train.loss_normalization: seq_mean_token_sum_norm divides by online.max_new_tokens, so it"
            + " is for the policy-gradient losses of an online: run, not "
            + loss.type());
    if (r.online() == null) {
      require(
          !loss.learnsFromRollouts() || loss.scoresGroups(),
          "loss "
              + loss.type()
              + " learns from sampled completions: add an online: section (online.source:"
              + " offline reads fixed responses instead)");
      return;
    }
    Online o = r.online();
    require(o.reward() != null, "online.reward is required");
    require(
        !o.maskTruncatedCompletions() || loss.weighsTokens(),
        "online.mask_truncated_completions masks tokens of a policy-gradient loss; "
            + loss.type()
            + " trains on whole responses (use online.missing_eos_penalty instead)");
    require(
        loss.learnsFromRollouts(),
        "an on-policy run trains a preference or policy-gradient loss, not " + loss.type());
    require(
        t.maxSteps() == 0 && t.epochs() == null,
        "train.max_steps and train.epochs do not apply to an on-policy run, whose length is"
            + " online.iterations (each makes online.reuse x ceil(B / M) steps)");
    if (o.dynamicSampling() != null) {
      require(
          o.source() == Online.Source.ON_POLICY && o.samplesPerPrompt() >= 2,
          "online.dynamic_sampling samples more prompts when a group's rewards all agree: it needs"
              + " online.source on_policy and samples_per_prompt >= 2");
      require(
          !(o.generator() instanceof GeneratorSpec.Server s && s.overlap()),
          "online.dynamic_sampling does not work with online.generator.overlap: true, which"
              + " samples the next iteration before this one knows how many rounds it needs");
    }
    if (o.generator() instanceof GeneratorSpec.Server s) {
      require(
          o.source() == Online.Source.ON_POLICY,
          "online.generator: a server samples on-policy; offline runs (online.source: offline)"
              + " read their responses from data.train");
      require(
          s.update() != GeneratorSpec.Update.LORA_ADAPTER || r.model().lora() != null,
          "online.generator.update lora_adapter needs model.lora: without adapters there is"
              + " nothing to load; use weights_from_disk");
      require(
          s.update() != GeneratorSpec.Update.WEIGHTS_FROM_DISK || r.model().lora() == null,
          "online.generator.update weights_from_disk sends full weights, but model.lora trains"
              + " adapters: use update lora_adapter (vLLM, SGLang and tilt serve load PEFT"
              + " adapters)");
    }
  }

  /**
   * The rules of a data-parallel run of {@code workers}: checked by every worker from the same
   * recipe before it joins a collective, so every worker refuses alike and none waits for the
   * others.
   */
  static void checkWorkers(Recipe r, int workers) {
    if (workers > 1
        && r.online() != null
        && r.online().generator() instanceof GeneratorSpec.Server s) {
      require(
          !s.overlap(),
          "online.generator.overlap: true samples the next iteration during the update from one"
              + " process; with "
              + workers
              + " workers each samples its own share after rank 0 sent the weights, so set"
              + " overlap: false (staleness: k still lets the servers lag)");
    }
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException("recipe: " + message);
    }
  }
}
