package ai.tilt.reward;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongConsumer;

/**
 * The {@link Reward} of an {@link HttpReward}: the protocol and retry policy are documented there.
 */
final class HttpScorer implements Reward {
  static final Duration DEFAULT_BACKOFF = Duration.ofMillis(500);
  private static final long MAX_BACKOFF_MS = 30_000;
  // NaN/Infinity literals (Python's json.dumps writes them) parse, so they are reported as
  // non-finite
  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

  private final HttpClient client;
  private final URI uri;
  private final Duration timeout;
  private final int retries;
  private final int batchSize;
  private final Map<String, String> headers;
  private final Duration backoff;
  private final LongConsumer sleep; // waits that many milliseconds before a retry

  HttpScorer(
      URI uri,
      Duration timeout,
      int retries,
      int batchSize,
      Map<String, String> headers,
      Duration backoff,
      LongConsumer sleep) {
    this.uri = uri;
    this.timeout = timeout;
    this.retries = retries;
    this.batchSize = batchSize;
    this.headers = headers;
    this.backoff = backoff;
    this.sleep = sleep;
    // HTTP/1.1: plain-http servers (uvicorn, Flask) need no h2c upgrade attempt
    this.client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeout)
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
  }

  @Override
  public double[] score(List<RewardInput> batch) {
    double[] out = new double[batch.size()];
    for (int start = 0; start < out.length; start += batchSize) {
      int end = Math.min(out.length, start + batchSize);
      System.arraycopy(post(batch.subList(start, end), start), 0, out, start, end - start);
    }
    return out;
  }

  private double[] post(List<RewardInput> items, int first) {
    String where =
        "reward http: POST " + uri + " (items " + first + ".." + (first + items.size() - 1) + ")";
    HttpRequest.Builder b =
        HttpRequest.newBuilder(uri)
            .timeout(timeout)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body(items, first)));
    headers.forEach(b::setHeader);
    HttpRequest request = b.build();
    String last = null;
    for (int attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) {
        sleep.accept(Math.min(MAX_BACKOFF_MS, backoff.toMillis() << Math.min(attempt - 1, 20)));
      }
      HttpResponse<String> response;
      try {
        response = send(request, where);
      } catch (HttpTimeoutException | TimeoutException e) {
        last = "no response within " + timeout.toMillis() / 1000.0 + " s";
        continue;
      } catch (IOException e) {
        last = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        continue;
      }
      int status = response.statusCode();
      if (status >= 500 || status == 429) {
        last = "HTTP " + status + ": " + snippet(response.body());
        continue;
      }
      if (status < 200 || status >= 300) {
        throw new RewardException(
            where + ": HTTP " + status + " (not retried): " + snippet(response.body()));
      }
      return parse(response.body(), items.size(), first, where);
    }
    throw new RewardException(
        where + ": failed after " + (retries + 1) + " attempt(s); last: " + last);
  }

  /**
   * One exchange, bounded by the timeout as a whole (the request timeout alone does not cover the
   * body).
   */
  private HttpResponse<String> send(HttpRequest request, String where)
      throws IOException, TimeoutException {
    CompletableFuture<HttpResponse<String>> f =
        client.sendAsync(request, HttpResponse.BodyHandlers.ofString());
    try {
      return f.get(timeout.toMillis() + 50, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw e;
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw new RewardException(where + ": interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new RewardException(where + ": " + e.getCause(), e.getCause());
    }
  }

  private static byte[] body(List<RewardInput> items, int first) {
    ObjectNode root = JSON.createObjectNode();
    ArrayNode prompts = root.putArray("prompts");
    ArrayNode completions = root.putArray("completions");
    ArrayNode records = root.putArray("records");
    ArrayNode promptIds = root.putArray("prompt_ids");
    ArrayNode completionIds = root.putArray("completion_ids");
    ArrayNode finished = root.putArray("finished");
    for (int i = 0; i < items.size(); i++) {
      RewardInput in = items.get(i);
      if (in == null) {
        throw new RewardException("reward http: item " + (first + i) + " is null");
      }
      prompts.add(in.prompt());
      completions.add(in.completion());
      records.add(in.record());
      ArrayNode p = promptIds.addArray();
      for (long id : in.promptIds()) {
        p.add(id);
      }
      if (in.completionIds() == null) {
        completionIds.addNull();
      } else {
        ArrayNode c = completionIds.addArray();
        for (long id : in.completionIds()) {
          c.add(id);
        }
      }
      finished.add(in.finished());
    }
    try {
      return JSON.writeValueAsBytes(root);
    } catch (JsonProcessingException e) {
      throw new RewardException(
          "reward http: cannot write the request: " + e.getOriginalMessage(), e);
    }
  }

  private static double[] parse(String text, int n, int first, String where) {
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new RewardException(
          where + ": response is not JSON (" + e.getOriginalMessage() + "): " + snippet(text));
    }
    JsonNode rewards = root == null ? null : root.get("rewards");
    if (rewards == null || !rewards.isArray()) {
      throw new RewardException(where + ": response has no \"rewards\" list: " + snippet(text));
    }
    if (rewards.size() != n) {
      throw new RewardException(
          where
              + ": response has "
              + rewards.size()
              + " rewards for "
              + n
              + " completions: "
              + snippet(text));
    }
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      JsonNode r = rewards.get(i);
      if (!r.isNumber() || !Double.isFinite(r.asDouble())) {
        String shown = r.isNumber() ? String.valueOf(r.asDouble()) : r.toString(); // NaN unquoted
        throw new RewardException(
            where
                + ": rewards["
                + i
                + "] (item "
                + (first + i)
                + ") is "
                + shown
                + ", not a finite number");
      }
      out[i] = r.asDouble();
    }
    return out;
  }

  /** The first 200 characters of a body, for error messages. */
  static String snippet(String body) {
    if (body == null || body.isEmpty()) {
      return "(empty body)";
    }
    return body.length() <= 200 ? body : body.substring(0, 200) + "...";
  }

  /** The real wait between attempts. */
  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RewardException("reward http: interrupted while waiting to retry");
    }
  }
}
