package ai.tilt.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A {@code .json} file holding one array of row objects ({@code [{"prompt": ...}, ...]}, as
 * Alpaca's data and {@code Dataset.to_json(lines=False)} are), streamed an element at a time; rows
 * are named {@code file: row R}, counted from 0 as {@code dataset[R]} does.
 */
final class JsonArrayRows implements RowSource {
  private final Path file;
  private final Row.Columns columns;
  private final JsonParser parser;
  private int row = -1;

  JsonArrayRows(Path file, Row.Columns columns) throws IOException {
    this.file = file;
    this.columns = columns;
    this.parser = Jsonl.mapper().createParser(file.toFile());
    try {
      if (parser.nextToken() != JsonToken.START_ARRAY) {
        throw new DataException(file + ": not a JSON array of rows");
      }
    } catch (JsonProcessingException e) {
      parser.close();
      throw invalid(e);
    } catch (DataException e) {
      parser.close();
      throw e;
    }
  }

  /**
   * Whether a {@code .json} file is an array (else it is read as JSON Lines, as HF's loader does).
   */
  static boolean isArray(Path file) throws IOException {
    try (var in = java.nio.file.Files.newInputStream(file)) {
      int b;
      while ((b = in.read()) != -1) {
        if (!Character.isWhitespace(b) && b != 0xEF && b != 0xBB && b != 0xBF) { // BOM too
          return b == '[';
        }
      }
      return false;
    }
  }

  @Override
  public Row next(int first) throws IOException {
    JsonToken t;
    try {
      t = parser.nextToken();
      if (t == JsonToken.END_ARRAY || t == null) {
        return null;
      }
      row++;
      JsonNode node = parser.readValueAsTree();
      if (!(node instanceof ObjectNode o)) {
        throw new DataException(
            file + ": row " + row + ": expected a JSON object, got " + node.getNodeType());
      }
      return Row.ofObject(file + ": row " + row, first, o, columns);
    } catch (JsonProcessingException e) {
      throw invalid(e);
    }
  }

  private DataException invalid(JsonProcessingException e) {
    return new DataException(
        file
            + ":"
            + e.getLocation().getLineNr()
            + ":"
            + e.getLocation().getColumnNr()
            + ": invalid JSON: "
            + e.getOriginalMessage());
  }

  @Override
  public void close() throws IOException {
    parser.close();
  }
}
