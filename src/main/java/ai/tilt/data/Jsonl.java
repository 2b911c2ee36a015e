package ai.tilt.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** JSON Lines input with errors that name the file and line. */
public final class Jsonl {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Jsonl() {}

  /**
   * One parsed line (or row of another format): its 1-based number, its object, and its place in
   * messages ({@code file:line}, or a Parquet or Arrow row's).
   */
  public record Line(Path file, int number, JsonNode json, String where) {
    public Line(Path file, int number, JsonNode json) {
      this(file, number, json, file + ":" + number);
    }

    /** An error about this line: "where: message". */
    public DataException error(String message) {
      return new DataException(where + ": " + message);
    }

    /** A required text field. */
    public String text(String field) {
      JsonNode v = json.get(field);
      if (v == null || v.isNull()) {
        throw error("missing field '" + field + "'");
      }
      if (!v.isTextual()) {
        throw error(
            "field '"
                + field
                + "' must be a string, got "
                + v.getNodeType().toString().toLowerCase());
      }
      return v.asText();
    }

    /** A required array of non-negative integer ids. */
    public long[] ids(String field) {
      JsonNode v = json.get(field);
      if (v == null || v.isNull()) {
        throw error("missing field '" + field + "'");
      }
      if (!v.isArray()) {
        throw error("field '" + field + "' must be an array of token ids");
      }
      long[] out = new long[v.size()];
      for (int i = 0; i < out.length; i++) {
        JsonNode e = v.get(i);
        if (!e.canConvertToLong() || e.isFloatingPointNumber() || e.asLong() < 0) {
          throw error("field '" + field + "'[" + i + "] is not a token id: " + e);
        }
        out[i] = e.asLong();
      }
      return out;
    }

    public boolean has(String field) {
      JsonNode v = json.get(field);
      return v != null && !v.isNull();
    }
  }

  /**
   * Reads every non-blank line. Invalid JSON or a line that is not an object is an error naming the
   * file and line.
   */
  public static List<Line> read(Path file) throws IOException {
    if (!Files.exists(file)) {
      throw new IOException("no such file: " + file);
    }
    List<Line> out = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String s;
      int n = 0;
      while ((s = r.readLine()) != null) {
        n++;
        if (s.isBlank()) {
          continue;
        }
        JsonNode node;
        try {
          node = JSON.readTree(s);
        } catch (JsonProcessingException e) {
          throw new DataException(file + ":" + n + ": invalid JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
          throw new DataException(file + ":" + n + ": expected a JSON object");
        }
        out.add(new Line(file, n, node));
      }
    }
    return out;
  }

  static boolean isBlankLine(byte[] line) {
    for (byte b : line) {
      if (b != ' ' && b != '\t' && b != '\r' && b != '\f' && b != 0x0B) {
        return false;
      }
    }
    return true;
  }

  public static ObjectMapper mapper() {
    return JSON;
  }
}
