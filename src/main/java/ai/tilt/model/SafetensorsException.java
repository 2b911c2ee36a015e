package ai.tilt.model;

import java.io.IOException;

/**
 * A safetensors checkpoint that cannot be read as asked: a malformed or truncated file, a header
 * that contradicts itself, an unknown or unsupported dtype, a tensor or shard that is not there.
 * The message always names the file (or index) and, where one is involved, the tensor and dtype.
 */
public class SafetensorsException extends IOException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a message that names the file and tensor involved. */
  public SafetensorsException(String message) {
    super(message);
  }

  /** Creates the exception with its underlying cause (e.g. a JSON parse error). */
  public SafetensorsException(String message, Throwable cause) {
    super(message, cause);
  }
}
