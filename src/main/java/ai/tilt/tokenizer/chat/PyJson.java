package ai.tilt.tokenizer.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Python's {@code json.dumps} for interpreter values, byte for byte (separators, escapes). */
final class PyJson {
  private PyJson() {}

  /**
   * transformers' {@code tojson}: {@code json.dumps(x, ensure_ascii, indent, separators,
   * sort_keys)} with ensure_ascii=False by default (Jinja's own filter would HTML-escape).
   */
  static String dumps(
      Object v,
      Object indent,
      boolean ensureAscii,
      boolean sortKeys,
      String itemSep,
      String keySep) {
    String ind =
        indent == null
            ? null
            : indent instanceof String s
                ? s
                : " ".repeat((int) Math.max(0, PyObjects.toLong(indent)));
    StringBuilder sb = new StringBuilder();
    new Json(sb, ind, ensureAscii, sortKeys, itemSep, keySep).write(v, 0);
    return sb.toString();
  }

  /** One {@code json.dumps} call's settings. */
  private record Json(
      StringBuilder sb, String ind, boolean ascii, boolean sort, String itemSep, String keySep) {
    private void write(Object v, int depth) {
      if (v == null) {
        sb.append("null");
      } else if (v instanceof Boolean b) {
        sb.append(b ? "true" : "false");
      } else if (v instanceof Long l) {
        sb.append(l);
      } else if (v instanceof Double d) {
        sb.append(
            d.isNaN()
                ? "NaN"
                : d.isInfinite() ? (d > 0 ? "Infinity" : "-Infinity") : PyObjects.floatRepr(d));
      } else if (v instanceof String s) {
        jsonString(sb, s, ascii);
      } else if (v instanceof List<?> l) {
        if (l.isEmpty()) {
          sb.append("[]");
          return;
        }
        sb.append('[');
        for (int i = 0; i < l.size(); i++) {
          sb.append(i > 0 ? itemSep : "");
          newline(depth + 1);
          write(l.get(i), depth + 1);
        }
        newline(depth);
        sb.append(']');
      } else if (v instanceof Map<?, ?> m) {
        if (m.isEmpty()) {
          sb.append("{}");
          return;
        }
        List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
        if (sort) {
          entries.sort((a, b) -> PyObjects.compare(jsonKey(a.getKey()), jsonKey(b.getKey())));
        }
        sb.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : entries) {
          sb.append(first ? "" : itemSep);
          first = false;
          newline(depth + 1);
          jsonString(sb, jsonKey(e.getKey()), ascii);
          sb.append(keySep);
          write(e.getValue(), depth + 1);
        }
        newline(depth);
        sb.append('}');
      } else {
        throw new IllegalArgumentException(
            "Object of type " + PyObjects.typeName(v) + " is not JSON serializable");
      }
    }

    private void newline(int depth) {
      if (ind != null) {
        sb.append('\n').append(ind.repeat(depth));
      }
    }
  }

  private static String jsonKey(Object k) {
    if (k instanceof String s) {
      return s;
    }
    if (k == null || k instanceof Boolean) {
      return k == null ? "null" : ((Boolean) k ? "true" : "false");
    }
    return PyObjects.repr(k);
  }

  private static void jsonString(StringBuilder sb, String s, boolean ascii) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (c < 0x20 || (ascii && c > 0x7e)) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }
}
