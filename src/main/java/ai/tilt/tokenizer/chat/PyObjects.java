package ai.tilt.tokenizer.chat;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python value semantics for the Jinja interpreter: values are {@code null} (None), Boolean, Long,
 * Double, String, List, {@link Tuple}, Map, {@link Undefined}, {@link Namespace} or a {@link
 * Callable}. Printing, truthiness, equality and {@code json.dumps} follow CPython so rendered
 * templates are byte-identical to transformers' output.
 */
final class PyObjects {
  private PyObjects() {}

  /** Jinja's default (non-strict) Undefined: prints as "", falsy, iterates empty. */
  record Undefined(String hint) {}

  /** Jinja's {@code namespace()}: the one object templates may mutate ({@code set ns.x}). */
  static final class Namespace {
    final Map<String, Object> attrs = new LinkedHashMap<>();
  }

  /** An immutable Python tuple (prints with parentheses, otherwise a list). */
  static final class Tuple extends AbstractList<Object> {
    private final Object[] items;

    Tuple(Collection<?> items) {
      this.items = items.toArray();
    }

    @Override
    public Object get(int i) {
      return items[i];
    }

    @Override
    public int size() {
      return items.length;
    }
  }

  @FunctionalInterface
  interface Callable {
    Object call(List<Object> args, Map<String, Object> kwargs);
  }

  static boolean isSpace(int c) {
    return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85;
  }

  /** Converts host values (Jackson/Java collections, ints, floats) to interpreter values. */
  static Object normalize(Object v) {
    if (v instanceof Integer || v instanceof Short || v instanceof Byte) {
      return ((Number) v).longValue();
    }
    if (v instanceof BigInteger b) {
      return b.longValueExact();
    }
    if (v instanceof Float || v instanceof BigDecimal) {
      return ((Number) v).doubleValue();
    }
    if (v instanceof Map<?, ?> m) {
      Map<Object, Object> out = new LinkedHashMap<>();
      m.forEach((k, x) -> out.put(normalize(k), normalize(x)));
      return out;
    }
    if (v instanceof Collection<?> c && !(v instanceof Tuple)) {
      List<Object> out = new ArrayList<>();
      c.forEach(x -> out.add(normalize(x)));
      return out;
    }
    if (v instanceof Object[] a) {
      return normalize(Arrays.asList(a));
    }
    return v;
  }

  static String typeName(Object v) {
    if (v == null) {
      return "NoneType";
    } else if (v instanceof Boolean) {
      return "bool";
    } else if (v instanceof Long) {
      return "int";
    } else if (v instanceof Double) {
      return "float";
    } else if (v instanceof String) {
      return "str";
    } else if (v instanceof Tuple) {
      return "tuple";
    } else if (v instanceof List) {
      return "list";
    } else if (v instanceof Map) {
      return "dict";
    } else if (v instanceof Undefined) {
      return "Undefined";
    } else if (v instanceof Namespace) {
      return "Namespace";
    }
    return "function";
  }

  static boolean truthy(Object v) {
    if (v == null || v instanceof Undefined) {
      return false;
    } else if (v instanceof Boolean b) {
      return b;
    } else if (v instanceof Long l) {
      return l != 0;
    } else if (v instanceof Double d) {
      return d != 0.0;
    } else if (v instanceof String s) {
      return !s.isEmpty();
    } else if (v instanceof Collection<?> c) {
      return !c.isEmpty();
    } else if (v instanceof Map<?, ?> m) {
      return !m.isEmpty();
    }
    return true;
  }

  static boolean isNumber(Object v) {
    return v instanceof Long || v instanceof Double || v instanceof Boolean;
  }

  static double toDouble(Object v) {
    return v instanceof Boolean b ? (b ? 1 : 0) : ((Number) v).doubleValue();
  }

  static long toLong(Object v) {
    return v instanceof Boolean b ? (b ? 1 : 0) : ((Number) v).longValue();
  }

  static boolean equal(Object a, Object b) {
    if (a == null || b == null) {
      return a == b;
    }
    if (isNumber(a) && isNumber(b)) {
      return a instanceof Double || b instanceof Double
          ? toDouble(a) == toDouble(b)
          : toLong(a) == toLong(b);
    }
    if (a instanceof List<?> x && b instanceof List<?> y) {
      if (x.size() != y.size() || (a instanceof Tuple) != (b instanceof Tuple)) {
        return false;
      }
      for (int i = 0; i < x.size(); i++) {
        if (!equal(x.get(i), y.get(i))) {
          return false;
        }
      }
      return true;
    }
    if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
      if (x.size() != y.size()) {
        return false;
      }
      for (Map.Entry<?, ?> e : x.entrySet()) {
        if (!y.containsKey(e.getKey()) || !equal(e.getValue(), y.get(e.getKey()))) {
          return false;
        }
      }
      return true;
    }
    if (a instanceof Undefined && b instanceof Undefined) {
      return true;
    }
    return a.equals(b);
  }

  /** Python ordering for {@code < <= > >=}, sort and min/max. */
  static int compare(Object a, Object b) {
    if (isNumber(a) && isNumber(b)) {
      return Double.compare(toDouble(a), toDouble(b));
    }
    if (a instanceof String x && b instanceof String y) {
      return x.compareTo(y);
    }
    if (a instanceof List<?> x && b instanceof List<?> y) {
      for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
        if (!equal(x.get(i), y.get(i))) {
          return compare(x.get(i), y.get(i));
        }
      }
      return Integer.compare(x.size(), y.size());
    }
    throw new IllegalArgumentException(
        "'<' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
  }

  /** Python {@code str()}, as {@code {{ x }}} prints it (Undefined prints nothing). */
  static String str(Object v) {
    if (v instanceof String s) {
      return s;
    }
    if (v instanceof Undefined) {
      return "";
    }
    return repr(v);
  }

  static String repr(Object v) {
    if (v == null) {
      return "None";
    } else if (v instanceof Boolean b) {
      return b ? "True" : "False";
    } else if (v instanceof Double d) {
      return floatRepr(d);
    } else if (v instanceof String s) {
      return strRepr(s);
    } else if (v instanceof Tuple t) {
      StringBuilder sb = new StringBuilder("(");
      for (int i = 0; i < t.size(); i++) {
        sb.append(i > 0 ? ", " : "").append(repr(t.get(i)));
      }
      return sb.append(t.size() == 1 ? ",)" : ")").toString();
    } else if (v instanceof List<?> l) {
      StringBuilder sb = new StringBuilder("[");
      for (int i = 0; i < l.size(); i++) {
        sb.append(i > 0 ? ", " : "").append(repr(l.get(i)));
      }
      return sb.append("]").toString();
    } else if (v instanceof Map<?, ?> m) {
      StringBuilder sb = new StringBuilder("{");
      m.forEach(
          (k, x) ->
              sb.append(sb.length() > 1 ? ", " : "").append(repr(k)).append(": ").append(repr(x)));
      return sb.append("}").toString();
    } else if (v instanceof Undefined) {
      return "Undefined";
    } else if (v instanceof Namespace ns) {
      return "<Namespace " + repr(ns.attrs) + ">";
    }
    return v.toString();
  }

  private static String strRepr(String s) {
    char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
    StringBuilder sb = new StringBuilder().append(q);
    s.codePoints()
        .forEach(
            c -> {
              if (c == q || c == '\\') {
                sb.append('\\').appendCodePoint(c);
              } else if (c == '\n') {
                sb.append("\\n");
              } else if (c == '\r') {
                sb.append("\\r");
              } else if (c == '\t') {
                sb.append("\\t");
              } else if (c < 0x20 || c == 0x7f) {
                sb.append(String.format("\\x%02x", c));
              } else {
                sb.appendCodePoint(c);
              }
            });
    return sb.append(q).toString();
  }

  /** CPython's {@code repr(float)}: shortest digits, exponent form outside [1e-4, 1e16). */
  static String floatRepr(double d) {
    if (Double.isNaN(d)) {
      return "nan";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "inf" : "-inf";
    }
    if (d == 0) {
      return (1 / d < 0) ? "-0.0" : "0.0";
    }
    BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
    String digits = bd.unscaledValue().toString();
    int n = digits.length();
    int point = n - bd.scale();
    int exp = point - 1;
    String sign = d < 0 ? "-" : "";
    if (exp >= -4 && exp < 16) {
      if (point <= 0) {
        return sign + "0." + "0".repeat(-point) + digits;
      }
      if (point >= n) {
        return sign + digits + "0".repeat(point - n) + ".0";
      }
      return sign + digits.substring(0, point) + "." + digits.substring(point);
    }
    String mant = n > 1 ? digits.charAt(0) + "." + digits.substring(1) : digits;
    return sign + mant + "e" + (exp < 0 ? "-" : "+") + String.format("%02d", Math.abs(exp));
  }

  /** Python's unicode-escape decoding of a Jinja string literal body. */
  static String unescape(String s) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '\\' || i + 1 >= s.length()) {
        sb.append(c);
        continue;
      }
      char e = s.charAt(++i);
      switch (e) {
        case 'n' -> sb.append('\n');
        case 't' -> sb.append('\t');
        case 'r' -> sb.append('\r');
        case '\\', '\'', '"' -> sb.append(e);
        case 'a' -> sb.append('\u0007');
        case 'b' -> sb.append('\b');
        case 'f' -> sb.append('\f');
        case 'v' -> sb.append('\u000b');
        case '\n' -> {}
        case 'x', 'u', 'U' -> {
          int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          sb.appendCodePoint(Integer.parseInt(s.substring(i + 1, i + 1 + len), 16));
          i += len;
        }
        default -> {
          if (e >= '0' && e <= '7') {
            int j = i;
            while (j < s.length() && j < i + 3 && s.charAt(j) >= '0' && s.charAt(j) <= '7') {
              j++;
            }
            sb.appendCodePoint(Integer.parseInt(s.substring(i, j), 8));
            i = j - 1;
          } else {
            sb.append('\\').append(e);
          }
        }
      }
    }
    return sb.toString();
  }

  static String strip(String s, String chars) {
    return rstrip(lstrip(s, chars), chars);
  }

  static String lstrip(String s, String chars) {
    int i = 0;
    while (i < s.length()) {
      int c = s.codePointAt(i);
      if (!(chars == null ? isSpace(c) : chars.indexOf(c) >= 0)) {
        break;
      }
      i += Character.charCount(c);
    }
    return s.substring(i);
  }

  static String rstrip(String s, String chars) {
    int i = s.length();
    while (i > 0) {
      int c = s.codePointBefore(i);
      if (!(chars == null ? isSpace(c) : chars.indexOf(c) >= 0)) {
        break;
      }
      i -= Character.charCount(c);
    }
    return s.substring(0, i);
  }
}
