package ai.tilt.data;

import ai.tilt.data.JsonFields.Invalid;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One row of a data set, whatever its format, as the JSON object a JSONL line would be, with its
 * place for messages: {@code file:line} for JSONL, {@code file: row R (row group G)} for Parquet,
 * {@code file: row R} for Arrow (rows count from 0 in a file, as {@code dataset[i]} does).
 */
final class Row {
  private final String where;
  private final int number;
  private final byte[] line; // a JSONL line, parsed in object() so that a bad one is skippable
  private final ObjectNode json;
  private final Columns columns;
  private JsonNode renamed; // object(), once: renaming moves fields

  /**
   * @param number the row's 1-based position in the data set (its line number in a JSONL file)
   */
  private Row(String where, int number, byte[] line, ObjectNode json, Columns columns) {
    this.where = where;
    this.number = number;
    this.line = line;
    this.json = json;
    this.columns = columns;
  }

  static Row ofLine(String where, int number, byte[] line, Columns columns) {
    return new Row(where, number, line, null, columns);
  }

  static Row ofObject(String where, int number, ObjectNode json, Columns columns) {
    return new Row(where, number, null, json, columns);
  }

  /** The row under TRL's column names ({@code data.columns} applied). */
  JsonNode object() throws Invalid {
    if (renamed == null) {
      renamed = columns.rename(json != null ? json : (ObjectNode) JsonFields.object(line));
    }
    return renamed;
  }

  String where() {
    return where;
  }

  int number() {
    return number;
  }

  /** {@code where: reason}, plus the file's columns when the reason is about them. */
  String message(Invalid e) {
    return where + ": " + e.getMessage() + (e.aboutColumns() ? columns.note() : "");
  }

  DataException error(String reason) {
    return new DataException(where + ": " + reason);
  }

  /**
   * How a file's columns map to TRL's names: {@code data.columns} (TRL's name to the file's), and
   * the file's own columns when its format has a schema (null for JSONL).
   */
  record Columns(Map<String, String> renames, List<String> schema) {
    static final Columns NONE = new Columns(Map.of(), null);

    ObjectNode rename(ObjectNode o) throws Invalid {
      if (renames.isEmpty()) {
        return o;
      }
      // every source read before any target is written: {prompt: completion, completion: prompt}
      // swaps, and a chain {a: b, b: c} reads b before it is overwritten
      Map<String, JsonNode> values = new LinkedHashMap<>();
      for (Map.Entry<String, String> e : renames.entrySet()) {
        if (!o.has(e.getValue())) {
          throw new Invalid(
              "missing field \""
                  + e.getValue()
                  + "\" (data.columns maps it to \""
                  + e.getKey()
                  + "\")",
              true);
        }
        values.put(e.getKey(), o.get(e.getValue()));
      }
      for (String source : renames.values()) {
        o.remove(source);
      }
      o.setAll(values);
      return o;
    }

    String note() {
      return schema == null ? "" : " (the file's columns: " + String.join(", ", schema) + ")";
    }

    /** The error of a data.columns rename naming no column of the schema, or null. */
    DataException missingRename(Object file) {
      for (Map.Entry<String, String> e : renames.entrySet()) {
        if (!schema.contains(e.getValue())) {
          return new DataException(
              file
                  + ": no column \""
                  + e.getValue()
                  + "\" (data.columns."
                  + e.getKey()
                  + ")"
                  + note());
        }
      }
      return null;
    }
  }
}
