package ai.tilt.sampling;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * Where on-policy samples come from ({@code online.generator}): this process, or an
 * OpenAI-compatible inference server that gets the policy's weights after each update through a
 * directory both sides see.
 */
public record SamplerSpec(
    @Doc("in_process: sample with the policy here; server: POST /v1/completions to url") Type type,
    @Doc(
            "server: its root URL, e.g. http://gpu1:8000, or a list of servers; prompt g goes to"
                + " server g mod S, and every server gets the weights")
        List<String> url,
    @Doc("server: the model name requests use (vLLM's --served-model-name; tilt serve's)")
        String model,
    @Doc("server: requests (one per prompt, n = C) in flight at once, per server")
        Integer maxConcurrency,
    @Doc("server: seconds to wait for one response") Double timeoutS,
    @Doc("server: retries of a failed request (connection, timeout, 429, 5xx), backoff doubling")
        Integer retries,
    @Doc("server: first backoff in seconds") Double backoffS,
    @Doc(
            "server: how the new weights reach it after each update: weights_from_disk (SGLang,"
                + " tilt serve: POST /update_weights_from_disk), lora_adapter (vLLM, SGLang: POST"
                + " load_lora_adapter; needs model.lora) or none (the recipe samples from fixed weights)")
        Update update,
    @Doc(
            "server: the update route; default /update_weights_from_disk, or /v1/load_lora_adapter"
                + " (vLLM; SGLang serves /load_lora_adapter)")
        String updatePath,
    @Doc("server: where weights are written for the server to read (default RUN/sampler-weights)")
        String weightsDir,
    @Doc(
            "server: iterations the server's weights may lag the policy (0: every iteration samples the"
                + " current policy); logged as sampling/staleness")
        Integer staleness,
    @Doc(
            "server: sample iteration i+1 while the trainer updates on iteration i (one-step"
                + " off-policy, as verl's and AReaL's asynchronous rollouts): each iteration after a"
                + " process's first samples with weights one update old; needs staleness >= 1")
        Boolean overlap,
    @Doc(
            "server: truncated importance sampling (as TRL's vllm_importance_sampling_correction):"
                + " policy-gradient advantages are scaled per token by min(pi/pi_sampler, this); 0: off")
        Double importanceSamplingCap) {

  /** Which sampler. */
  public enum Type {
    @JsonProperty("in_process")
    IN_PROCESS,
    @JsonProperty("server")
    SERVER
  }

  /** How a server gets new weights. */
  public enum Update {
    @JsonProperty("weights_from_disk")
    WEIGHTS_FROM_DISK,
    @JsonProperty("lora_adapter")
    LORA_ADAPTER,
    @JsonProperty("none")
    NONE
  }

  public SamplerSpec {
    type = type == null ? Type.IN_PROCESS : type;
    maxConcurrency = maxConcurrency == null ? 8 : maxConcurrency;
    timeoutS = timeoutS == null ? 600.0 : timeoutS;
    retries = retries == null ? 3 : retries;
    backoffS = backoffS == null ? 1.0 : backoffS;
    update = update == null ? Update.WEIGHTS_FROM_DISK : update;
    updatePath =
        updatePath != null
            ? updatePath
            : update == Update.LORA_ADAPTER ? "/v1/load_lora_adapter" : "/update_weights_from_disk";
    staleness = staleness == null ? 0 : staleness;
    overlap = overlap != null && overlap;
    importanceSamplingCap = importanceSamplingCap == null ? 2.0 : importanceSamplingCap;
    url = url == null ? List.of() : List.copyOf(url);
    if (type == Type.SERVER && (url.isEmpty() || url.stream().anyMatch(String::isBlank))) {
      throw new IllegalArgumentException("online.generator.url is required when type is server");
    }
    for (String u : url) {
      if (!u.startsWith("http://") && !u.startsWith("https://")) {
        throw new IllegalArgumentException(
            "online.generator.url: '" + u + "' is not an http:// or https:// URL");
      }
    }
    if (type == Type.SERVER && (model == null || model.isBlank())) {
      throw new IllegalArgumentException(
          "online.generator.model is required when type is server (the served model's name)");
    }
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
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  public boolean server() {
    return type == Type.SERVER;
  }
}
