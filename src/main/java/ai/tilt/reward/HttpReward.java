package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongConsumer;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A reward computed by a server (a judge, a verifier, a reward model served elsewhere): Tilt POSTs
 * {@code batch_size} completions at a time as one JSON object and reads one reward per completion.
 *
 * <p>Request ({@code Content-Type: application/json}), one list entry per completion, in order:
 *
 * <pre>{@code
 * {"prompts": ["text" or null, ...], "completions": ["text" or null, ...], "records": [{...}, ...],
 *  "prompt_ids": [[1, 2], ...], "completion_ids": [[5, 2], ... or null], "finished": [true, ...]}
 * }</pre>
 *
 * Response: HTTP 2xx with {@code {"rewards": [0.5, -1, ...]}}, as many finite numbers as
 * completions (other keys are ignored). {@code completion_ids} include the stop token when {@code
 * finished}; {@code completions} never hold special tokens (see {@link RewardInput}).
 *
 * <p>Failures: a connection error, a timeout (no full response within {@code timeout_s}), an HTTP
 * 5xx or an HTTP 429 is retried up to {@code retries} times, waiting 0.5 s before the first retry
 * and doubling each time (capped at 30 s); any other non-2xx status fails at once (a request the
 * server rejects will not improve). A response that is not JSON, lacks {@code rewards}, has the
 * wrong length or holds a non-number or non-finite value (NaN as Python's json writes it) fails at
 * once. Errors name the URL, the items, the HTTP status and the first 200 characters of the body.
 *
 * <p>Header values may refer to environment variables as {@code ${NAME}}, expanded when the reward
 * is created, so that tokens stay out of recipes and of the resolved recipe saved with each run.
 *
 * @param url http(s) URL to POST to (required)
 * @param timeoutS seconds to wait for each response (default 30)
 * @param retries retries after a failed attempt (default 3)
 * @param batchSize completions per request (default 64)
 * @param headers extra request headers (optional); values may use {@code ${ENV_VAR}}
 */
public record HttpReward(
    @Doc("http(s) URL that scores completions (required; protocol in HttpReward's Javadoc)")
        String url,
    @Doc("seconds to wait for each response (default 30)") Double timeoutS,
    @Doc(
            "retries on connection errors, timeouts, HTTP 5xx and 429, with exponential backoff (default 3)")
        Integer retries,
    @Doc("completions per request (default 64)") Integer batchSize,
    @Doc("extra request headers; values may use ${ENV_VAR} (optional)") Map<String, String> headers)
    implements RewardSpec {

  private static final Pattern ENV = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}");

  public HttpReward {
    Rules.required("url", url, "the http(s) URL of the reward server");
    uri(url);
    timeoutS = timeoutS == null ? 30.0 : timeoutS;
    retries = retries == null ? 3 : retries;
    batchSize = batchSize == null ? 64 : batchSize;
    Rules.positive("timeout_s", timeoutS);
    Rules.require(retries >= 0, "reward.retries must be >= 0, got " + retries);
    Rules.require(batchSize > 0, "reward.batch_size must be > 0, got " + batchSize);
    Map<String, String> copy = new LinkedHashMap<>();
    if (headers != null) {
      for (Map.Entry<String, String> h : headers.entrySet()) {
        Rules.require(
            h.getKey() != null && !h.getKey().isBlank(), "reward.headers: a header name is empty");
        Rules.require(h.getValue() != null, "reward.headers." + h.getKey() + " has no value");
        copy.put(h.getKey(), h.getValue());
      }
    }
    headers = Collections.unmodifiableMap(copy);
  }

  private static URI uri(String url) {
    try {
      URI u = new URI(url);
      String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
      if (!(scheme.equals("http") || scheme.equals("https")) || u.getHost() == null) {
        throw new IllegalArgumentException(
            "reward.url must be an http(s) URL with a host, got '" + url + "'");
      }
      return u;
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("reward.url is not a valid URL: " + e.getMessage());
    }
  }

  @Override
  @JsonIgnore
  public String type() {
    return "http";
  }

  @Override
  public Reward create(RewardContext ctx) {
    return create(System::getenv, HttpScorer.DEFAULT_BACKOFF, HttpScorer::sleep);
  }

  /**
   * With a given environment (for {@code ${NAME}} in header values), first backoff delay and way of
   * waiting between attempts.
   */
  Reward create(UnaryOperator<String> env, Duration backoff, LongConsumer sleep) {
    Map<String, String> resolved = new LinkedHashMap<>();
    HttpRequest.Builder check = HttpRequest.newBuilder(uri(url));
    for (Map.Entry<String, String> h : headers.entrySet()) {
      String value = expand(h.getKey(), h.getValue(), env);
      try {
        check.setHeader(
            h.getKey(), value); // the client refuses restricted or malformed headers: fail now
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("reward.headers." + h.getKey() + ": " + e.getMessage());
      }
      resolved.put(h.getKey(), value);
    }
    Duration timeout = Duration.ofNanos(Math.round(timeoutS * 1e9));
    return new HttpScorer(uri(url), timeout, retries, batchSize, resolved, backoff, sleep);
  }

  static String expand(String key, String value, UnaryOperator<String> env) {
    Matcher m = ENV.matcher(value);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String v = env.apply(m.group(1));
      if (v == null) {
        throw new IllegalArgumentException(
            "reward.headers." + key + ": environment variable " + m.group(1) + " is not set");
      }
      m.appendReplacement(sb, Matcher.quoteReplacement(v));
    }
    m.appendTail(sb);
    return sb.toString();
  }
}
