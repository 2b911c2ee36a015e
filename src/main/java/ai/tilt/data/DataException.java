package ai.tilt.data;

/** Bad input data; the message names the file and line (or key) at fault. */
public final class DataException extends RuntimeException {
  public DataException(String message) {
    super(message);
  }
}
