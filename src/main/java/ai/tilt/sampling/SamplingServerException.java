package ai.tilt.sampling;

/**
 * An inference server did not give usable samples or take new weights: down, too slow, answering
 * 5xx after every retry, or answering something that is not what its API documents. The message
 * names the URL, the request and what was wrong.
 */
public final class SamplingServerException extends RuntimeException {
  public SamplingServerException(String message) {
    super(message);
  }

  public SamplingServerException(String message, Throwable cause) {
    super(message, cause);
  }
}
