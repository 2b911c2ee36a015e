package ai.tilt.model;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads JSON files (config.json, safetensors indexes, trainer state) so that a broken one is
 * reported as {@code FILE:LINE:COLUMN: not valid JSON: what is wrong}, not as Jackson's message
 * about a redacted source.
 */
public final class JsonFiles {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private JsonFiles() {}

  /**
   * The file's JSON tree.
   *
   * @throws IOException when the file is missing, unreadable, empty or not valid JSON, naming it
   */
  public static JsonNode read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException(file + ": no such file");
    }
    try {
      JsonNode node = JSON.readTree(file.toFile());
      if (node == null || node.isMissingNode()) {
        throw new IOException(file + ": empty, expected JSON");
      }
      return node;
    } catch (JsonProcessingException e) {
      throw new IOException(where(file, e) + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  /** {@code file:line:column} of a parse error (the file alone when Jackson knows no place). */
  public static String where(Path file, JsonProcessingException e) {
    JsonLocation at = e.getLocation();
    if (at == null || at.getLineNr() < 1) {
      return file.toString();
    }
    return file + ":" + at.getLineNr() + ":" + at.getColumnNr();
  }
}
