package ai.tilt.tokenizer.chat;

import ai.tilt.tokenizer.chat.PyObjects.Tuple;
import ai.tilt.tokenizer.chat.PyObjects.Undefined;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Jinja2's built-in filters used by chat templates, with transformers' {@code tojson}. */
final class JinjaFilters {
  private JinjaFilters() {}

  private static final Pattern WORD_START = Pattern.compile("([-\\s({\\[<]+)");
  private static final Pattern WORD = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);

  static Object apply(String name, Object v, List<Object> args, Map<String, Object> kw) {
    switch (name) {
      case "safe":
        return v;
      case "string":
        return PyObjects.str(v);
      case "length":
      case "count":
        return length(v);
      case "trim":
        return PyObjects.strip(PyObjects.str(v), (String) arg(args, kw, 0, "chars", null));
      case "upper":
        return PyObjects.str(v).toUpperCase(Locale.ROOT);
      case "lower":
        return PyObjects.str(v).toLowerCase(Locale.ROOT);
      case "capitalize":
        return PyStrings.capitalize(PyObjects.str(v));
      case "title":
        return title(PyObjects.str(v));
      case "replace":
        return PyStrings.call(PyObjects.str(v), "replace", args, kw);
      case "d":
      case "default":
        {
          boolean bool = PyObjects.truthy(arg(args, kw, 1, "boolean", false));
          boolean useDefault = v instanceof Undefined || (bool && !PyObjects.truthy(v));
          return useDefault ? arg(args, kw, 0, "default_value", "") : v;
        }
      case "tojson":
        {
          // transformers' signature:
          // tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
          boolean ascii = PyObjects.truthy(arg(args, kw, 0, "ensure_ascii", false));
          Object indent = arg(args, kw, 1, "indent", null);
          Object seps = arg(args, kw, 2, "separators", null);
          boolean sort = PyObjects.truthy(arg(args, kw, 3, "sort_keys", false));
          if (v instanceof Undefined u) {
            throw JinjaBuiltins.undefinedError(u);
          }
          String itemSep = indent == null ? ", " : ",";
          String keySep = ": ";
          if (seps != null) {
            List<Object> pair = JinjaBuiltins.iterate(seps);
            itemSep = PyObjects.str(pair.get(0));
            keySep = PyObjects.str(pair.get(1));
          }
          return PyJson.dumps(v, indent, ascii, sort, itemSep, keySep);
        }
      case "first":
      case "last":
        {
          List<Object> items = JinjaBuiltins.iterate(v);
          if (items.isEmpty()) {
            return new Undefined("No " + name + " item, sequence was empty.");
          }
          return items.get(name.equals("first") ? 0 : items.size() - 1);
        }
      case "list":
        return JinjaBuiltins.iterate(v);
      case "reverse":
        {
          if (v instanceof String s) {
            return new StringBuilder(s).reverse().toString();
          }
          List<Object> items = JinjaBuiltins.iterate(v);
          Collections.reverse(items);
          return items;
        }
      case "join":
        {
          String sep = PyObjects.str(arg(args, kw, 0, "d", ""));
          Object attr = arg(args, kw, 1, "attribute", null);
          StringBuilder sb = new StringBuilder();
          List<Object> items = JinjaBuiltins.iterate(v);
          for (int i = 0; i < items.size(); i++) {
            Object x = attr == null ? items.get(i) : attribute(items.get(i), attr);
            sb.append(i > 0 ? sep : "").append(PyObjects.str(x));
          }
          return sb.toString();
        }
      case "items":
        {
          List<Object> out = new ArrayList<>();
          if (v instanceof Map<?, ?> m) {
            m.forEach((k, x) -> out.add(new Tuple(List.of(k, x))));
          } else if (!(v instanceof Undefined)) {
            throw new IllegalArgumentException("Can only get item pairs from a mapping.");
          }
          return out;
        }
      case "dictsort":
        {
          boolean byValue = "value".equals(arg(args, kw, 1, "by", "key"));
          boolean rev = PyObjects.truthy(arg(args, kw, 2, "reverse", false));
          List<Object> out =
              apply("items", v, List.of(), Map.of()) instanceof List<?> l
                  ? new ArrayList<>(l)
                  : new ArrayList<>();
          out.sort(
              Comparator.comparing(
                  t -> sortKey(((List<?>) t).get(byValue ? 1 : 0), false), PyObjects::compare));
          if (rev) {
            Collections.reverse(out);
          }
          return out;
        }
      case "sort":
        {
          boolean rev = PyObjects.truthy(arg(args, kw, 0, "reverse", false));
          boolean cs = PyObjects.truthy(arg(args, kw, 1, "case_sensitive", false));
          Object attr = arg(args, kw, 2, "attribute", null);
          List<Object> items = JinjaBuiltins.iterate(v);
          items.sort(
              Comparator.comparing(
                  x -> sortKey(attr == null ? x : attribute(x, attr), cs), PyObjects::compare));
          if (rev) {
            Collections.reverse(items);
          }
          return items;
        }
      case "unique":
        {
          List<Object> out = new ArrayList<>();
          List<Object> seen = new ArrayList<>();
          for (Object x : JinjaBuiltins.iterate(v)) {
            Object key = sortKey(x, false);
            if (seen.stream().noneMatch(s -> PyObjects.equal(s, key))) {
              seen.add(key);
              out.add(x);
            }
          }
          return out;
        }
      case "min":
      case "max":
        {
          List<Object> items = JinjaBuiltins.iterate(v);
          if (items.isEmpty()) {
            return new Undefined("No aggregated item, sequence was empty.");
          }
          Comparator<Object> c = Comparator.comparing(x -> sortKey(x, false), PyObjects::compare);
          return name.equals("min") ? Collections.min(items, c) : Collections.max(items, c);
        }
      case "sum":
        {
          Object attr = arg(args, kw, 0, "attribute", null);
          Object total = arg(args, kw, 1, "start", 0L);
          for (Object x : JinjaBuiltins.iterate(v)) {
            total = JinjaBuiltins.binary("+", total, attr == null ? x : attribute(x, attr));
          }
          return total;
        }
      case "map":
        return map(v, args, kw);
      case "select":
      case "reject":
      case "selectattr":
      case "rejectattr":
        return select(name, v, args);
      case "attr":
        return JinjaBuiltins.getAttr(v, PyObjects.str(args.get(0)));
      case "abs":
        return v instanceof Double d
            ? (Object) Math.abs(d)
            : (Object) Math.abs(PyObjects.toLong(v));
      case "int":
        return toInt(v, arg(args, kw, 0, "default", 0L));
      case "float":
        return toFloat(v, arg(args, kw, 0, "default", 0.0));
      case "round":
        {
          long precision = PyObjects.toLong(arg(args, kw, 0, "precision", 0L));
          String method = (String) arg(args, kw, 1, "method", "common");
          double x = PyObjects.toDouble(v);
          if (method.equals("common")) {
            // Python's round(): half-even on the exact binary value (round(2.5) == 2.0).
            return new BigDecimal(x)
                .setScale((int) precision, RoundingMode.HALF_EVEN)
                .doubleValue();
          }
          double scale = Math.pow(10, precision);
          return (method.equals("ceil") ? Math.ceil(x * scale) : Math.floor(x * scale)) / scale;
        }
      case "indent":
        return indent(
            PyObjects.str(v),
            arg(args, kw, 0, "width", 4L),
            PyObjects.truthy(arg(args, kw, 1, "first", false)),
            PyObjects.truthy(arg(args, kw, 2, "blank", false)));
      case "e":
      case "escape":
        return PyObjects.str(v)
            .replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace("\"", "&#34;")
            .replace("'", "&#39;");
      case "wordcount":
        {
          Matcher m = WORD.matcher(PyObjects.str(v));
          long n = 0;
          while (m.find()) {
            n++;
          }
          return n;
        }
      default:
        throw new IllegalArgumentException("no filter named '" + name + "'");
    }
  }

  private static Object arg(
      List<Object> args, Map<String, Object> kw, int i, String key, Object dflt) {
    return i < args.size() ? args.get(i) : kw.getOrDefault(key, dflt);
  }

  static long length(Object v) {
    if (v instanceof String s) {
      return s.codePointCount(0, s.length());
    } else if (v instanceof List<?> l) {
      return l.size();
    } else if (v instanceof Map<?, ?> m) {
      return m.size();
    } else if (v instanceof Undefined) {
      return 0;
    }
    throw new IllegalArgumentException(
        "object of type '" + PyObjects.typeName(v) + "' has no len()");
  }

  /** Jinja's attribute lookup for filters: dotted path, item access first. */
  private static Object attribute(Object obj, Object path) {
    if (path instanceof Long) {
      return JinjaBuiltins.getItem(obj, path);
    }
    Object cur = obj;
    for (String part : PyObjects.str(path).split("\\.")) {
      Object key =
          part.chars().allMatch(Character::isDigit) && !part.isEmpty()
              ? (Object) Long.parseLong(part)
              : part;
      cur = JinjaBuiltins.getItem(cur, key);
    }
    return cur;
  }

  private static Object sortKey(Object x, boolean caseSensitive) {
    return !caseSensitive && x instanceof String s ? s.toLowerCase(Locale.ROOT) : x;
  }

  private static String title(String s) {
    StringBuilder sb = new StringBuilder();
    Matcher m = WORD_START.matcher(s);
    int last = 0;
    while (m.find()) {
      sb.append(PyStrings.capitalizeWord(s.substring(last, m.start())));
      sb.append(m.group());
      last = m.end();
    }
    return sb.append(PyStrings.capitalizeWord(s.substring(last))).toString();
  }

  private static Object map(Object v, List<Object> args, Map<String, Object> kw) {
    List<Object> out = new ArrayList<>();
    List<Object> items = JinjaBuiltins.iterate(v);
    if (kw.containsKey("attribute")) {
      for (Object x : items) {
        Object r = attribute(x, kw.get("attribute"));
        out.add(r instanceof Undefined && kw.containsKey("default") ? kw.get("default") : r);
      }
      return out;
    }
    String filter = PyObjects.str(args.get(0));
    List<Object> rest = args.subList(1, args.size());
    for (Object x : items) {
      out.add(apply(filter, x, rest, kw));
    }
    return out;
  }

  private static Object select(String name, Object v, List<Object> args) {
    boolean byAttr = name.endsWith("attr");
    boolean keep = name.startsWith("select");
    List<Object> out = new ArrayList<>();
    int t = byAttr ? 1 : 0;
    String test = args.size() > t ? PyObjects.str(args.get(t)) : null;
    List<Object> testArgs = args.size() > t + 1 ? args.subList(t + 1, args.size()) : List.of();
    for (Object x : JinjaBuiltins.iterate(v)) {
      Object subject = byAttr ? attribute(x, args.get(0)) : x;
      boolean ok =
          test == null ? PyObjects.truthy(subject) : JinjaBuiltins.test(test, subject, testArgs);
      if (ok == keep) {
        out.add(x);
      }
    }
    return out;
  }

  private static Object toInt(Object v, Object dflt) {
    if (v instanceof Long) {
      return v;
    }
    if (v instanceof Boolean || v instanceof Double) {
      return PyObjects.toLong(v);
    }
    if (v instanceof String s) {
      try {
        return Long.parseLong(PyObjects.strip(s, null).replace("_", ""));
      } catch (NumberFormatException e) {
        try {
          return (long) Double.parseDouble(PyObjects.strip(s, null));
        } catch (NumberFormatException e2) {
          return dflt;
        }
      }
    }
    return dflt;
  }

  private static Object toFloat(Object v, Object dflt) {
    if (PyObjects.isNumber(v)) {
      return PyObjects.toDouble(v);
    }
    if (v instanceof String s) {
      try {
        return Double.parseDouble(PyObjects.strip(s, null));
      } catch (NumberFormatException e) {
        return dflt;
      }
    }
    return dflt;
  }

  private static String indent(String s, Object width, boolean first, boolean blank) {
    String pad = width instanceof String w ? w : " ".repeat((int) PyObjects.toLong(width));
    String nl = "\n";
    if (s.endsWith(nl)) {
      return indent(s.substring(0, s.length() - 1), width, first, blank) + nl;
    }
    String[] lines = s.split("\n", -1);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < lines.length; i++) {
      String l = lines[i];
      boolean pre = (i > 0 || first) && (blank || !PyObjects.strip(l, null).isEmpty());
      sb.append(i > 0 ? nl : "").append(pre ? pad : "").append(l);
    }
    return sb.toString();
  }
}
