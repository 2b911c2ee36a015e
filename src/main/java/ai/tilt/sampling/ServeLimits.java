package ai.tilt.sampling;

/**
 * What one request to {@code tilt serve} may ask for; each refusal names the flag that raises it.
 * The context limit is the model's own ({@code max_position_embeddings}).
 *
 * @param apiKey the Bearer token every route but {@code /health} requires; null: none (loopback
 *     only)
 * @param maxRequestBytes a larger body is refused with 413 before it is read
 * @param maxPrompts prompts in one completions request
 * @param maxN {@code n}
 * @param maxRequestTokens n x (prompt + max_tokens) over a request's prompts: the tokens of KV
 *     cache one request may hold
 */
public record ServeLimits(
    String apiKey, long maxRequestBytes, int maxPrompts, int maxN, long maxRequestTokens) {
  public static final long DEFAULT_MAX_REQUEST_BYTES = 4L << 20;
  public static final int DEFAULT_MAX_PROMPTS = 256;
  public static final int DEFAULT_MAX_N = 128; // OpenAI's own cap on n
  // 256k tokens: 2 GB of fp32 cache for llama-small, 6 GB for Qwen2.5-0.5B's 24 layers
  public static final long DEFAULT_MAX_REQUEST_TOKENS = 1L << 18;

  public ServeLimits {
    if (apiKey != null && apiKey.isBlank()) {
      throw new IllegalArgumentException("--api-key is empty");
    }
    if (maxRequestBytes < 1 || maxPrompts < 1 || maxN < 1 || maxRequestTokens < 1) {
      throw new IllegalArgumentException(
          "--max-request-bytes, --max-prompts, --max-n and --max-request-tokens must be >= 1");
    }
  }

  /** No key, the default limits: a loopback server for tests and one machine. */
  public static ServeLimits defaults() {
    return new ServeLimits(
        null,
        DEFAULT_MAX_REQUEST_BYTES,
        DEFAULT_MAX_PROMPTS,
        DEFAULT_MAX_N,
        DEFAULT_MAX_REQUEST_TOKENS);
  }

  public ServeLimits withApiKey(String key) {
    return new ServeLimits(key, maxRequestBytes, maxPrompts, maxN, maxRequestTokens);
  }

  @Override
  public String toString() { // never prints the key
    return String.format(
        "ServeLimits[apiKey=%s, maxRequestBytes=%d, maxPrompts=%d, maxN=%d, maxRequestTokens=%d]",
        apiKey == null ? "none" : "set", maxRequestBytes, maxPrompts, maxN, maxRequestTokens);
  }
}
