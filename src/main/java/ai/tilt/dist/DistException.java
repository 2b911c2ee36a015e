package ai.tilt.dist;

/**
 * A collective or the rendezvous failed: a rank that never joined (the timeout), a peer that died
 * ("Connection closed by peer"), a library that is missing. Thrown by the native library too.
 */
public final class DistException extends RuntimeException {
  public DistException(String message) {
    super(message);
  }

  public DistException(String message, Throwable cause) {
    super(message, cause);
  }
}
