package ai.tilt.sampling;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;

/**
 * Where on-policy samples come from ({@code online.generator}), bound once when the recipe is read:
 * {@link InProcess} (the policy samples in this process, the default) or a {@link Server}, an
 * OpenAI-compatible inference server that gets the policy's weights after each update through a
 * directory both sides see. A server's keys exist only under {@code type: server}; an absent {@code
 * online.generator} is in-process.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = GeneratorSpec.InProcess.class, name = "in_process"),
  @JsonSubTypes.Type(value = GeneratorSpec.Server.class, name = "server")
})
public sealed interface GeneratorSpec permits GeneratorSpec.InProcess, GeneratorSpec.Server {

  /** Every recipe name, in declaration order (for error messages and help). */
  static List<String> names() {
    return List.of("in_process", "server");
  }

  /** The record bound to a recipe name, or null when there is none. */
  static Class<? extends GeneratorSpec> classOf(String name) {
    return switch (name) {
      case "in_process" -> InProcess.class;
      case "server" -> Server.class;
      default -> null;
    };
  }

  /** The policy samples in this process, with a KV cache, between updates. */
  record InProcess() implements GeneratorSpec {}

  /** How a server gets new weights. */
  enum Update {
    @JsonProperty("weights_from_disk")
    WEIGHTS_FROM_DISK,
    @JsonProperty("lora_adapter")
    LORA_ADAPTER,
    @JsonProperty("none")
    NONE
  }

  /** One or more OpenAI-compatible servers: vLLM, SGLang or {@code tilt serve}. */
  record Server(
      @Doc(
              "its root URL, e.g. http://gpu1:8000, or a list of servers; prompt g goes to server g"
                  + " mod S, and every server gets the weights")
          List<String> url,
      @Doc("the model name requests use (vLLM's --served-model-name; tilt serve's)") String model,
      @Doc("requests (one per prompt, n = C) in flight at once, per server") Integer maxConcurrency,
      @Doc("seconds to wait for one response") Double timeoutS,
      @Doc("retries of a failed request (connection, timeout, 429, 5xx), backoff doubling")
          Integer retries,
      @Doc("first backoff in seconds") Double backoffS,
      @Doc(
              "how the new weights reach it after each update: weights_from_disk (SGLang, tilt"
                  + " serve: POST /update_weights_from_disk), lora_adapter (vLLM, SGLang: POST"
                  + " load_lora_adapter; needs model.lora) or none (the recipe samples from fixed"
                  + " weights)")
          Update update,
      @Doc(
              "the update route; default /update_weights_from_disk, or /v1/load_lora_adapter (vLLM;"
                  + " SGLang serves /load_lora_adapter)")
          String updatePath,
      @Doc("where weights are written for the server to read (default RUN/sampler-weights)")
          String weightsDir,
      @Doc(
              "iterations the server's weights may lag the policy (0: every iteration samples the"
                  + " current policy); logged as sampling/staleness")
          Integer staleness,
      @Doc(
              "sample iteration i+1 while the trainer updates on iteration i (one-step off-policy,"
                  + " as verl's and AReaL's asynchronous rollouts): each iteration after a"
                  + " process's first samples with weights one update old; needs staleness >= 1")
          Boolean overlap,
      @Doc(
              "truncated importance sampling (as TRL's vllm_importance_sampling_correction):"
                  + " policy-gradient advantages are scaled per token by min(pi/pi_sampler, this);"
                  + " 0: off")
          Double importanceSamplingCap,
      @Doc(
              "the environment variable holding the Bearer key sent to every server (tilt serve"
                  + " --api-key, vLLM --api-key); unset: TILT_API_KEY, sent when it is set. A"
                  + " variable's name, never the key: recipes are copied into checkpoints")
          String apiKeyEnv)
      implements GeneratorSpec {

    /** The name of the variable read when {@code api_key_env} is not given. */
    public static final String DEFAULT_API_KEY_ENV = "TILT_API_KEY";

    public Server {
      maxConcurrency = maxConcurrency == null ? 8 : maxConcurrency;
      timeoutS = timeoutS == null ? 600.0 : timeoutS;
      retries = retries == null ? 3 : retries;
      backoffS = backoffS == null ? 1.0 : backoffS;
      update = update == null ? Update.WEIGHTS_FROM_DISK : update;
      updatePath =
          updatePath != null
              ? updatePath
              : update == Update.LORA_ADAPTER
                  ? "/v1/load_lora_adapter"
                  : "/update_weights_from_disk";
      staleness = staleness == null ? 0 : staleness;
      overlap = overlap != null && overlap;
      importanceSamplingCap = importanceSamplingCap == null ? 2.0 : importanceSamplingCap;
      url = url == null ? List.of() : List.copyOf(url);
      require(
          !url.isEmpty() && url.stream().noneMatch(String::isBlank),
          "online.generator.url is required when type is server");
      for (String u : url) {
        require(
            u.startsWith("http://") || u.startsWith("https://"),
            "online.generator.url: '" + u + "' is not an http:// or https:// URL");
      }
      require(
          model != null && !model.isBlank(),
          "online.generator.model is required when type is server (the served model's name)");
      require(maxConcurrency >= 1, "online.generator.max_concurrency must be >= 1");
      require(timeoutS > 0, "online.generator.timeout_s must be > 0");
      require(retries >= 0, "online.generator.retries must be >= 0");
      require(backoffS >= 0, "online.generator.backoff_s must be >= 0");
      require(staleness >= 0, "online.generator.staleness must be >= 0");
      require(
          !overlap || staleness >= 1,
          "online.generator.overlap samples with weights one update old: set staleness >= 1");
      require(
          !overlap || update != Update.NONE,
          "online.generator.overlap needs weight updates: update must not be none");
      require(
          importanceSamplingCap == 0 || importanceSamplingCap >= 1,
          "online.generator.importance_sampling_cap must be 0 (off) or >= 1");
      require(updatePath.startsWith("/"), "online.generator.update_path must start with /");
      require(
          apiKeyEnv == null || apiKeyEnv.matches("[A-Za-z_][A-Za-z0-9_]*"),
          "online.generator.api_key_env must name an environment variable (e.g. TILT_API_KEY),"
              + " not hold the key itself");
    }

    /**
     * The key to send, read from the environment: null when {@code api_key_env} is not given and
     * TILT_API_KEY is unset.
     *
     * @throws IllegalArgumentException when the variable {@code api_key_env} names is unset
     */
    public String apiKey(java.util.function.UnaryOperator<String> env) {
      String value = env.apply(apiKeyEnv == null ? DEFAULT_API_KEY_ENV : apiKeyEnv);
      if (apiKeyEnv != null && (value == null || value.isEmpty())) {
        throw new IllegalArgumentException(
            "online.generator.api_key_env names "
                + apiKeyEnv
                + ", which is not set in this process's environment");
      }
      return value == null || value.isEmpty() ? null : value;
    }

    private static void require(boolean ok, String message) {
      if (!ok) {
        throw new IllegalArgumentException(message);
      }
    }

    /**
     * How a run's first log line describes these servers; {@code plainSampling}: temperature 1
     * without top-k or top-p, where importance sampling applies.
     */
    public String describe(boolean plainSampling) {
      return String.format(
          "; sampling on %s (model %s, %d in flight, weights by %s%s)%s",
          String.join(", ", url),
          model,
          maxConcurrency,
          update.name().toLowerCase(),
          overlap
              ? ", sampling the next iteration during each update"
              : staleness > 0 ? ", up to " + staleness + " iterations stale" : "",
          importanceSamplingCap > 0 && !plainSampling
              ? "; no importance sampling: the sampler's log-probs are after temperature,"
                  + " top-k and top-p, the trainer's are not"
              : "");
    }
  }
}
