package ai.tilt.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Field checks shared by the JSONL parsers ({@link SftDataset}, {@link PreferenceLines}). */
final class JsonFields {
  private static final TypeReference<Map<String, Object>> OBJECT = new TypeReference<>() {};

  private JsonFields() {}

  /** A bad row; the loader prefixes the reason with the row's place ({@code file:line}). */
  static final class Invalid extends Exception {
    private final boolean aboutColumns;

    Invalid(String reason) {
      this(reason, false);
    }

    /**
     * @param aboutColumns a missing field or fields of no known kind: the message of a columnar
     *     file then lists the file's columns
     */
    Invalid(String reason, boolean aboutColumns) {
      super(reason);
      this.aboutColumns = aboutColumns;
    }

    boolean aboutColumns() {
      return aboutColumns;
    }
  }

  static boolean present(JsonNode o, String field) {
    return o.has(field) && !o.get(field).isNull();
  }

  static JsonNode required(JsonNode o, String field) throws Invalid {
    if (!present(o, field)) {
      throw new Invalid("missing field \"" + field + "\"", true);
    }
    return o.get(field);
  }

  static String type(JsonNode v) {
    return v.getNodeType().toString().toLowerCase();
  }

  /**
   * A chat: a non-empty list of objects with string {@code role} and {@code content}, as maps for
   * the template.
   */
  static List<Map<String, Object>> messageList(JsonNode v, String field) throws Invalid {
    if (v == null || !v.isArray() || v.isEmpty()) {
      throw new Invalid("field \"" + field + "\" must be a non-empty list of messages");
    }
    List<Map<String, Object>> out = new ArrayList<>();
    for (int i = 0; i < v.size(); i++) {
      JsonNode m = v.get(i);
      if (!m.isObject()) {
        throw new Invalid(field + "[" + i + "] must be an object, got " + type(m));
      }
      for (String key : new String[] {"role", "content"}) {
        JsonNode s = m.get(key);
        if (s == null || !s.isTextual()) {
          throw new Invalid(
              field
                  + "["
                  + i
                  + "]."
                  + key
                  + " must be a string, got "
                  + (s == null ? "nothing" : type(s)));
        }
      }
      out.add(Jsonl.mapper().convertValue(m, OBJECT));
    }
    return out;
  }

  /** One JSONL line as a JSON object: its own UTF-8 bytes decoded, parsed, checked. */
  static JsonNode object(byte[] raw) throws Invalid {
    JsonNode o;
    try {
      // Decoded line by line: a Reader decodes ahead in blocks and would blame the wrong line.
      String text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(raw)).toString();
      o = Jsonl.mapper().readTree(text);
    } catch (CharacterCodingException e) {
      throw new Invalid("not valid UTF-8");
    } catch (JsonProcessingException e) {
      throw new Invalid("invalid JSON: " + e.getOriginalMessage());
    }
    if (o == null || !o.isObject()) {
      throw new Invalid("expected a JSON object");
    }
    return o;
  }
}
