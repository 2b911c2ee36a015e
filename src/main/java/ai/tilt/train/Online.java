package ai.tilt.train;

import ai.tilt.doc.Doc;
import ai.tilt.reward.RewardSpec;
import ai.tilt.sampling.GeneratorSpec;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The recipe section of on-policy training, named as in Tajwar et al. (2024), Algorithm 1: each
 * iteration takes B prompts, gets C responses per prompt (sampled from the current policy, or read
 * from the dataset when offline), labels them with the reward, then makes T passes of minibatch
 * updates over M prompts at a time.
 */
public record Online(
    @Doc(
            "on_policy: sample from the current policy; offline: take each prompt's responses from data.train")
        Source source,
    @Doc("B: prompts per iteration") Integer promptsPerIteration,
    @Doc("C: responses per prompt") Integer samplesPerPrompt,
    @Doc("M: prompts per optimizer step (default: B, one step per pass)") Integer minibatchSize,
    @Doc("T: passes over each collected batch") Integer reuse,
    @Doc("iterations of collect-then-update") Integer iterations,
    @Doc("sampling temperature") Double temperature,
    @Doc("nucleus mass; 1 keeps all") Double topP,
    @Doc("0 keeps all") Integer topK,
    @Doc("longest completion in tokens") Integer maxNewTokens,
    @Doc("pair losses: which pairs of the C responses: best_vs_worst, all or random") Pairs pairs,
    @Doc("pair losses: keep a pair only when its reward gap exceeds this") Double pairThreshold,
    @Doc("added to the reward of a completion that ends without EOS (null: none)")
        Double missingEosPenalty,
    @Doc(
            "KL penalty in the reward: per-token k1 = log pi - log pi_ref times this coefficient (0: none)")
        Double klCoef,
    @Doc("adapt kl_coef toward this per-sequence KL (Ziegler et al., 2019); null keeps it fixed")
        Double klTarget,
    @Doc("steps over which the adaptive KL controller moves") Long klHorizon,
    @Doc(
            "the training reward: {type: bump | min_length | mode_length | skew_length | regex | contains"
                + " | exact_match | math | overlong | model | http, ...}, or a list of them summed with"
                + " their weight keys")
        RewardSpec reward,
    @Doc("the gold reward evaluation reports (default: the training reward)") RewardSpec goldReward,
    @Doc("responses per eval prompt") Integer evalSamples,
    @Doc("warn when the first iteration's trainer and sampler log-probs differ by more than this")
        Double logpDiffWarn,
    @Doc(
            "where samples come from: {type: in_process} (default) or {type: server, url, model, ...},"
                + " an OpenAI-compatible server (vLLM, SGLang, tilt serve)")
        GeneratorSpec generator,
    @Doc(
            "policy-gradient losses: a completion cut at max_new_tokens trains nothing (DAPO's overlong"
                + " filtering; TRL's mask_truncated_completions; default false)")
        Boolean maskTruncatedCompletions,
    @Doc(
            "drop prompts whose C rewards all agree and sample more rounds of B prompts until B"
                + " informative ones are found (DAPO; verl's filter_groups): {max_extra_rounds: 4};"
                + " null: off")
        DynamicRounds dynamicSampling) {

  /**
   * The settings of DAPO's dynamic sampling ({@link DynamicSampling}).
   *
   * @param maxExtraRounds the most rounds of B more prompts an iteration samples (default 4)
   */
  public record DynamicRounds(
      @Doc("the most rounds of B more prompts an iteration samples (default 4)")
          Integer maxExtraRounds) {
    public DynamicRounds {
      maxExtraRounds = maxExtraRounds == null ? 4 : maxExtraRounds;
      require(
          maxExtraRounds >= 0,
          "online.dynamic_sampling.max_extra_rounds must be >= 0, got " + maxExtraRounds);
    }
  }

  /** Where an iteration's responses come from. */
  public enum Source {
    @JsonProperty("on_policy")
    ON_POLICY,
    @JsonProperty("offline")
    OFFLINE
  }

  /** How pair losses make pairs from the C responses of a prompt. */
  public enum Pairs {
    @JsonProperty("best_vs_worst")
    BEST_VS_WORST,
    @JsonProperty("all")
    ALL,
    @JsonProperty("random")
    RANDOM
  }

  public Online {
    source = source == null ? Source.ON_POLICY : source;
    promptsPerIteration = promptsPerIteration == null ? 8 : promptsPerIteration;
    samplesPerPrompt = samplesPerPrompt == null ? 4 : samplesPerPrompt;
    minibatchSize = minibatchSize == null ? promptsPerIteration : minibatchSize;
    reuse = reuse == null ? 1 : reuse;
    iterations = iterations == null ? 20 : iterations;
    temperature = temperature == null ? 1.0 : temperature;
    topP = topP == null ? 1.0 : topP;
    topK = topK == null ? 0 : topK;
    maxNewTokens = maxNewTokens == null ? 32 : maxNewTokens;
    pairs = pairs == null ? Pairs.BEST_VS_WORST : pairs;
    pairThreshold = pairThreshold == null ? 0.0 : pairThreshold;
    klCoef = klCoef == null ? 0.0 : klCoef;
    klHorizon = klHorizon == null ? 10_000L : klHorizon;
    evalSamples = evalSamples == null ? 1 : evalSamples;
    logpDiffWarn = logpDiffWarn == null ? 0.05 : logpDiffWarn;
    generator = generator == null ? new GeneratorSpec.InProcess() : generator;
    maskTruncatedCompletions = maskTruncatedCompletions != null && maskTruncatedCompletions;
    require(promptsPerIteration >= 1, "online.prompts_per_iteration must be >= 1");
    require(samplesPerPrompt >= 1, "online.samples_per_prompt must be >= 1");
    require(
        minibatchSize >= 1 && minibatchSize <= promptsPerIteration,
        "online.minibatch_size must be in [1, prompts_per_iteration]");
    require(reuse >= 1, "online.reuse must be >= 1");
    require(iterations >= 1, "online.iterations must be >= 1");
    require(maxNewTokens >= 1, "online.max_new_tokens must be >= 1");
    require(klCoef >= 0, "online.kl_coef must be >= 0");
    require(klTarget == null || klTarget > 0, "online.kl_target must be > 0");
    require(evalSamples >= 1, "online.eval_samples must be >= 1");
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  /** Optimizer steps per iteration: T passes over ceil(B / M) minibatches. */
  public int stepsPerIteration() {
    return reuse * ((promptsPerIteration + minibatchSize - 1) / minibatchSize);
  }

  /**
   * How an iteration collects its C responses per prompt; {@code fp32}: the policy computes in
   * fp32, so an in-process sampler at temperature 1 over the whole vocabulary gives the policy's
   * own log-probs (see {@link Collector.Settings#samplerIsPolicy}).
   */
  Collector.Settings collection(boolean fp32) {
    boolean samplerIsPolicy =
        fp32
            && reuse == 1
            && stepsPerIteration() == 1
            && klCoef == 0
            && source == Source.ON_POLICY
            && generator instanceof GeneratorSpec.InProcess
            && temperature == 1.0
            && topK == 0
            && topP == 1.0;
    return new Collector.Settings(
        source,
        samplesPerPrompt,
        maxNewTokens,
        temperature,
        topP,
        topK,
        missingEosPenalty,
        samplerIsPolicy);
  }

  /** How evaluation samples: evalSamples per prompt, from the model, no EOS penalty. */
  Collector.Settings evalCollection() {
    return new Collector.Settings(
        Source.ON_POLICY, evalSamples, maxNewTokens, temperature, topP, topK, null, false);
  }
}
