package ai.tilt.tokenizer.chat;

import ai.tilt.tokenizer.chat.PyObjects.Namespace;
import ai.tilt.tokenizer.chat.PyObjects.Tuple;
import ai.tilt.tokenizer.chat.PyObjects.Undefined;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Operators, attribute/item access, tests and Python methods with Jinja2 semantics (as in
 * ImmutableSandboxedEnvironment: no mutating list/dict methods). Filters: {@link JinjaFilters}.
 *
 * <p>Over 400 lines because Python's str, list and dict methods that chat templates call are one
 * dispatch table by receiver type; split, a method name would be looked up in several places.
 */
final class JinjaBuiltins {
  private JinjaBuiltins() {}

  private static final Set<String> DICT_METHODS = Set.of("items", "keys", "values", "get");
  private static final Set<String> STR_METHODS =
      Set.of(
          "startswith",
          "endswith",
          "split",
          "rsplit",
          "strip",
          "lstrip",
          "rstrip",
          "upper",
          "lower",
          "title",
          "capitalize",
          "replace",
          "find",
          "rfind",
          "count",
          "join",
          "splitlines",
          "isdigit",
          "isalpha",
          "isalnum",
          "isspace",
          "isupper",
          "islower",
          "format",
          "swapcase");
  private static final Set<String> UNSAFE =
      Set.of(
          "append",
          "extend",
          "insert",
          "pop",
          "remove",
          "clear",
          "update",
          "setdefault",
          "popitem",
          "sort",
          "reverse");

  static UnsupportedOperationException undefinedError(Undefined u) {
    return new UnsupportedOperationException(u.hint());
  }

  static List<Object> iterate(Object v) {
    if (v instanceof List<?> l) {
      return new ArrayList<>(l);
    } else if (v instanceof Map<?, ?> m) {
      return new ArrayList<>(m.keySet());
    } else if (v instanceof String s) {
      List<Object> out = new ArrayList<>();
      s.codePoints().forEach(c -> out.add(new String(Character.toChars(c))));
      return out;
    } else if (v instanceof Undefined) {
      return new ArrayList<>();
    }
    throw new IllegalArgumentException("'" + PyObjects.typeName(v) + "' object is not iterable");
  }

  static Object getAttr(Object obj, String name) {
    if (obj instanceof Undefined u) {
      throw undefinedError(u);
    }
    if (obj instanceof Namespace ns) {
      return ns.attrs.containsKey(name) ? ns.attrs.get(name) : missing(obj, name);
    }
    if (obj instanceof Map<?, ?> m) {
      // Jinja tries the Python attribute first, so d.items is the method even if a key exists.
      if (DICT_METHODS.contains(name) || UNSAFE.contains(name)) {
        return method(obj, name);
      }
      return m.containsKey(name) ? m.get(name) : missing(obj, name);
    }
    if ((obj instanceof String && STR_METHODS.contains(name))
        || (obj instanceof List
            && (name.equals("index") || name.equals("count") || UNSAFE.contains(name)))) {
      return method(obj, name);
    }
    return missing(obj, name);
  }

  private static Undefined missing(Object obj, String name) {
    return new Undefined(
        "'" + PyObjects.typeName(obj) + " object' has no attribute '" + name + "'");
  }

  static Object getItem(Object obj, Object key) {
    if (obj instanceof Undefined u) {
      throw undefinedError(u);
    }
    if (obj instanceof Map<?, ?> m) {
      if (m.containsKey(key)) {
        return m.get(key);
      }
    } else if ((obj instanceof List || obj instanceof String)
        && (key instanceof Long || key instanceof Boolean)) {
      List<Object> seq = obj instanceof List<?> l ? new ArrayList<>(l) : iterate(obj);
      long i = PyObjects.toLong(key);
      if (i < 0) {
        i += seq.size();
      }
      if (i >= 0 && i < seq.size()) {
        return seq.get((int) i);
      }
      return new Undefined(PyObjects.typeName(obj) + " index out of range");
    }
    if (key instanceof String s) {
      return getAttr(obj, s);
    }
    return new Undefined(
        "'" + PyObjects.typeName(obj) + " object' has no element " + PyObjects.repr(key));
  }

  /** Python slicing {@code obj[start:stop:step]} on lists, tuples and strings (code points). */
  static Object slice(Object obj, Object start, Object stop, Object step) {
    if (obj instanceof Undefined u) {
      throw undefinedError(u);
    }
    List<Object> seq = iterate(obj);
    int n = seq.size();
    long st = step == null ? 1 : PyObjects.toLong(step);
    if (st == 0) {
      throw new IllegalArgumentException("slice step cannot be zero");
    }
    long lo = bound(start, n, st > 0 ? 0 : n - 1, st);
    long hi = bound(stop, n, st > 0 ? n : -1, st);
    List<Object> out = new ArrayList<>();
    for (long i = lo; st > 0 ? i < hi : i > hi; i += st) {
      out.add(seq.get((int) i));
    }
    if (obj instanceof String) {
      return String.join("", out.stream().map(String.class::cast).toList());
    }
    return obj instanceof Tuple ? new Tuple(out) : out;
  }

  private static long bound(Object v, int n, long dflt, long step) {
    if (v == null) {
      return dflt;
    }
    long i = PyObjects.toLong(v);
    if (i < 0) {
      i += n;
      if (i < 0) {
        i = step > 0 ? 0 : -1;
      }
    } else if (i >= n) {
      i = step > 0 ? n : n - 1;
    }
    return i;
  }

  static Object unary(String op, Object v) {
    if (v instanceof Undefined u) {
      throw undefinedError(u);
    }
    if (!PyObjects.isNumber(v)) {
      throw new IllegalArgumentException(
          "bad operand type for unary " + op + ": '" + PyObjects.typeName(v) + "'");
    }
    if (op.equals("+")) {
      return v instanceof Boolean ? (Object) PyObjects.toLong(v) : v;
    }
    return v instanceof Double d ? (Object) (-d) : (Object) (-PyObjects.toLong(v));
  }

  static Object binary(String op, Object a, Object b) {
    if (op.equals("~")) {
      return PyObjects.str(a) + PyObjects.str(b);
    }
    if (a instanceof Undefined u) {
      throw undefinedError(u);
    }
    if (b instanceof Undefined u) {
      throw undefinedError(u);
    }
    if (PyObjects.isNumber(a) && PyObjects.isNumber(b)) {
      return arithmetic(op, a, b);
    }
    if (op.equals("+") && a instanceof String x && b instanceof String y) {
      return x + y;
    }
    if (op.equals("+")
        && a instanceof List<?> x
        && b instanceof List<?> y
        && (a instanceof Tuple) == (b instanceof Tuple)) {
      List<Object> out = new ArrayList<>(x);
      out.addAll(y);
      return a instanceof Tuple ? new Tuple(out) : out;
    }
    if (op.equals("*")
        && (a instanceof String || a instanceof List)
        && (b instanceof Long || b instanceof Boolean)) {
      long k = PyObjects.toLong(b);
      if (a instanceof String s) {
        return s.repeat((int) Math.max(0, k));
      }
      List<Object> out = new ArrayList<>();
      for (long i = 0; i < k; i++) {
        out.addAll((List<?>) a);
      }
      return out;
    }
    if (op.equals("*") && (b instanceof String || b instanceof List) && a instanceof Long) {
      return binary(op, b, a);
    }
    throw new IllegalArgumentException(
        "unsupported operand type(s) for "
            + op
            + ": '"
            + PyObjects.typeName(a)
            + "' and '"
            + PyObjects.typeName(b)
            + "'");
  }

  private static Object arithmetic(String op, Object a, Object b) {
    boolean dbl = a instanceof Double || b instanceof Double;
    if (op.equals("/") || (dbl && !op.equals("//") && !op.equals("%"))) {
      double x = PyObjects.toDouble(a);
      double y = PyObjects.toDouble(b);
      switch (op) {
        case "+":
          return x + y;
        case "-":
          return x - y;
        case "*":
          return x * y;
        case "**":
          return Math.pow(x, y);
        default:
          if (y == 0) {
            throw new ArithmeticException("division by zero");
          }
          return x / y;
      }
    }
    if (dbl) {
      double x = PyObjects.toDouble(a);
      double y = PyObjects.toDouble(b);
      if (y == 0) {
        throw new ArithmeticException("float division by zero");
      }
      double q = Math.floor(x / y);
      return op.equals("//") ? (Object) q : (Object) (x - q * y);
    }
    long x = PyObjects.toLong(a);
    long y = PyObjects.toLong(b);
    switch (op) {
      case "+":
        return Math.addExact(x, y);
      case "-":
        return Math.subtractExact(x, y);
      case "*":
        return Math.multiplyExact(x, y);
      case "**":
        return y >= 0 ? (Object) Math.round(Math.pow(x, y)) : (Object) Math.pow(x, y);
      default:
        if (y == 0) {
          throw new ArithmeticException("integer division or modulo by zero");
        }
        return op.equals("//") ? Math.floorDiv(x, y) : Math.floorMod(x, y);
    }
  }

  static boolean compare(String op, Object a, Object b) {
    switch (op) {
      case "==":
        return PyObjects.equal(a, b);
      case "!=":
        return !PyObjects.equal(a, b);
      case "in":
        return contains(b, a);
      case "not in":
        return !contains(b, a);
      default:
        break;
    }
    if (a instanceof Undefined u) {
      throw undefinedError(u);
    }
    if (b instanceof Undefined u) {
      throw undefinedError(u);
    }
    int c = PyObjects.compare(a, b);
    switch (op) {
      case "<":
        return c < 0;
      case "<=":
        return c <= 0;
      case ">":
        return c > 0;
      default:
        return c >= 0;
    }
  }

  static boolean contains(Object container, Object item) {
    if (container instanceof String s) {
      if (!(item instanceof String x)) {
        throw new IllegalArgumentException(
            "'in <string>' requires string as left operand, not " + PyObjects.typeName(item));
      }
      return s.contains(x);
    }
    if (container instanceof Map<?, ?> m) {
      return m.containsKey(item);
    }
    for (Object o : iterate(container)) {
      if (PyObjects.equal(o, item)) {
        return true;
      }
    }
    return false;
  }

  static boolean test(String name, Object v, List<Object> args) {
    switch (name) {
      case "defined":
        return !(v instanceof Undefined);
      case "undefined":
        return v instanceof Undefined;
      case "none":
        return v == null;
      case "boolean":
        return v instanceof Boolean;
      case "true":
        return Boolean.TRUE.equals(v);
      case "false":
        return Boolean.FALSE.equals(v);
      case "integer":
        return v instanceof Long;
      case "float":
        return v instanceof Double;
      case "number":
        return PyObjects.isNumber(v);
      case "string":
        return v instanceof String;
      case "mapping":
        return v instanceof Map;
      case "iterable":
        return v instanceof List
            || v instanceof Map
            || v instanceof String
            || v instanceof Undefined;
      case "sequence":
        return v instanceof List || v instanceof Map || v instanceof String;
      case "callable":
        return v instanceof PyObjects.Callable;
      case "even":
        return PyObjects.toLong(v) % 2 == 0;
      case "odd":
        return PyObjects.toLong(v) % 2 != 0;
      case "divisibleby":
        return PyObjects.toLong(v) % PyObjects.toLong(args.get(0)) == 0;
      case "lower":
        return PyObjects.str(v).equals(PyObjects.str(v).toLowerCase());
      case "upper":
        return PyObjects.str(v).equals(PyObjects.str(v).toUpperCase());
      case "sameas":
        Object o = args.get(0);
        return v == o || (v instanceof Boolean && v.equals(o));
      case "in":
        return contains(args.get(0), v);
      case "eq":
      case "equalto":
      case "==":
        return compare("==", v, args.get(0));
      case "ne":
      case "!=":
        return compare("!=", v, args.get(0));
      case "lt":
      case "lessthan":
      case "<":
        return compare("<", v, args.get(0));
      case "le":
      case "<=":
        return compare("<=", v, args.get(0));
      case "gt":
      case "greaterthan":
      case ">":
        return compare(">", v, args.get(0));
      case "ge":
      case ">=":
        return compare(">=", v, args.get(0));
      default:
        throw new IllegalArgumentException("no test named '" + name + "'");
    }
  }

  private static PyObjects.Callable method(Object obj, String name) {
    return (args, kwargs) -> {
      if (UNSAFE.contains(name)) {
        throw new UnsupportedOperationException(
            "access to mutating method '"
                + name
                + "' is not allowed in a chat template (sandboxed, like transformers)");
      }
      if (obj instanceof String s) {
        return PyStrings.call(s, name, args, kwargs);
      }
      if (obj instanceof Map<?, ?> m) {
        switch (name) {
          case "items":
            {
              List<Object> out = new ArrayList<>();
              m.forEach((k, v) -> out.add(new Tuple(Arrays.asList(k, v))));
              return out;
            }
          case "keys":
            return new ArrayList<>(m.keySet());
          case "values":
            return new ArrayList<>(m.values());
          default:
            {
              Object key = args.isEmpty() ? kwargs.get("key") : args.get(0);
              Object dflt = args.size() > 1 ? args.get(1) : kwargs.get("default");
              return m.containsKey(key) ? m.get(key) : dflt;
            }
        }
      }
      List<?> l = (List<?>) obj;
      long count = 0;
      for (int i = 0; i < l.size(); i++) {
        if (PyObjects.equal(l.get(i), args.get(0))) {
          if (name.equals("index")) {
            return (long) i;
          }
          count++;
        }
      }
      if (name.equals("index")) {
        throw new IllegalArgumentException(PyObjects.repr(args.get(0)) + " is not in list");
      }
      return count;
    };
  }

  static Object filter(String name, Object v, List<Object> args, Map<String, Object> kwargs) {
    return JinjaFilters.apply(name, v, args, kwargs);
  }
}
