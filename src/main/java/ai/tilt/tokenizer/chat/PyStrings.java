package ai.tilt.tokenizer.chat;

import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Python {@code str} methods as chat templates call them ({@code content.split('</think>')}). */
final class PyStrings {
  private PyStrings() {}

  static Object call(String s, String name, List<Object> args, Map<String, Object> kw) {
    switch (name) {
      case "startswith":
      case "endswith":
        return affix(s, name.equals("startswith"), arg(args, kw, 0, "prefix", null));
      case "split":
      case "rsplit":
        {
          Object sep = arg(args, kw, 0, "sep", null);
          long max = PyObjects.toLong(arg(args, kw, 1, "maxsplit", -1L));
          List<Object> parts =
              sep == null
                  ? splitWhitespace(s, max, name.equals("rsplit"))
                  : split(s, (String) sep, max, name.equals("rsplit"));
          return parts;
        }
      case "strip":
        return PyObjects.strip(s, chars(args, kw));
      case "lstrip":
        return PyObjects.lstrip(s, chars(args, kw));
      case "rstrip":
        return PyObjects.rstrip(s, chars(args, kw));
      case "upper":
        return s.toUpperCase(Locale.ROOT);
      case "lower":
        return s.toLowerCase(Locale.ROOT);
      case "swapcase":
        {
          StringBuilder sb = new StringBuilder();
          s.codePoints()
              .forEach(
                  c ->
                      sb.appendCodePoint(
                          Character.isUpperCase(c)
                              ? Character.toLowerCase(c)
                              : Character.toUpperCase(c)));
          return sb.toString();
        }
      case "title":
        return title(s);
      case "capitalize":
        return capitalize(s);
      case "replace":
        {
          String old = (String) arg(args, kw, 0, "old", null);
          String neu = (String) arg(args, kw, 1, "new", null);
          long count = PyObjects.toLong(arg(args, kw, 2, "count", -1L));
          return replace(s, old, neu, count);
        }
      case "find":
      case "rfind":
        {
          String sub = (String) args.get(0);
          int i = name.equals("find") ? s.indexOf(sub) : s.lastIndexOf(sub);
          return i < 0 ? -1L : (long) s.codePointCount(0, i);
        }
      case "count":
        {
          String sub = (String) args.get(0);
          if (sub.isEmpty()) {
            return (long) s.codePointCount(0, s.length()) + 1;
          }
          long n = 0;
          for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) {
            n++;
          }
          return n;
        }
      case "join":
        {
          StringBuilder sb = new StringBuilder();
          List<Object> items = JinjaBuiltins.iterate(args.get(0));
          for (int i = 0; i < items.size(); i++) {
            if (!(items.get(i) instanceof String x)) {
              throw new IllegalArgumentException(
                  "sequence item "
                      + i
                      + ": expected str instance, "
                      + PyObjects.typeName(items.get(i))
                      + " found");
            }
            sb.append(i > 0 ? s : "").append(x);
          }
          return sb.toString();
        }
      case "splitlines":
        {
          List<Object> out = new ArrayList<>();
          for (String l : s.split("\r\n|\n|\r", -1)) {
            out.add(l);
          }
          if (!out.isEmpty() && "".equals(out.get(out.size() - 1))) {
            out.remove(out.size() - 1);
          }
          return out;
        }
      case "isdigit":
        return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
      case "isalpha":
        return !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
      case "isalnum":
        return !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
      case "isspace":
        return !s.isEmpty() && s.codePoints().allMatch(PyObjects::isSpace);
      case "isupper":
        return s.codePoints().anyMatch(Character::isUpperCase)
            && s.codePoints().noneMatch(Character::isLowerCase);
      case "islower":
        return s.codePoints().anyMatch(Character::isLowerCase)
            && s.codePoints().noneMatch(Character::isUpperCase);
      case "format":
        return format(s, args, kw);
      default:
        throw new IllegalArgumentException("'str' object has no attribute '" + name + "'");
    }
  }

  private static Object arg(
      List<Object> args, Map<String, Object> kw, int i, String key, Object dflt) {
    return i < args.size() ? args.get(i) : kw.getOrDefault(key, dflt);
  }

  private static String chars(List<Object> args, Map<String, Object> kw) {
    return (String) arg(args, kw, 0, "chars", null);
  }

  private static boolean affix(String s, boolean start, Object what) {
    if (what instanceof List<?> options) {
      for (Object o : options) {
        if (affix(s, start, o)) {
          return true;
        }
      }
      return false;
    }
    if (!(what instanceof String x)) {
      throw new IllegalArgumentException(
          (start ? "startswith" : "endswith")
              + " first arg must be str or a tuple of str, not "
              + PyObjects.typeName(what));
    }
    return start ? s.startsWith(x) : s.endsWith(x);
  }

  private static List<Object> split(String s, String sep, long max, boolean fromRight) {
    if (sep.isEmpty()) {
      throw new IllegalArgumentException("empty separator");
    }
    List<Object> out = new ArrayList<>();
    if (!fromRight) {
      int from = 0;
      int i;
      while ((max < 0 || out.size() < max) && (i = s.indexOf(sep, from)) >= 0) {
        out.add(s.substring(from, i));
        from = i + sep.length();
      }
      out.add(s.substring(from));
      return out;
    }
    int to = s.length();
    int i;
    while ((max < 0 || out.size() < max) && (i = s.lastIndexOf(sep, to - sep.length())) >= 0) {
      out.add(0, s.substring(i + sep.length(), to));
      to = i;
    }
    out.add(0, s.substring(0, to));
    return out;
  }

  private static List<Object> splitWhitespace(String s, long max, boolean fromRight) {
    List<Object> words = new ArrayList<>();
    int i = 0;
    int n = s.length();
    while (i < n) {
      while (i < n && PyObjects.isSpace(s.charAt(i))) {
        i++;
      }
      if (i >= n) {
        break;
      }
      int j = i;
      while (j < n && !PyObjects.isSpace(s.charAt(j))) {
        j++;
      }
      words.add(s.substring(i, j));
      i = j;
    }
    if (max < 0 || words.size() <= max + 1) {
      return words;
    }
    // Rare: keep the untouched remainder (with its inner whitespace) as the last/first piece.
    if (!fromRight) {
      List<Object> out = new ArrayList<>(words.subList(0, (int) max));
      String rest = s;
      for (Object w : out) {
        rest = PyObjects.lstrip(rest, null).substring(((String) w).length());
      }
      out.add(PyObjects.lstrip(rest, null));
      return out;
    }
    List<Object> out = new ArrayList<>(words.subList(words.size() - (int) max, words.size()));
    String rest = s;
    for (int k = out.size() - 1; k >= 0; k--) {
      rest = PyObjects.rstrip(rest, null);
      rest = rest.substring(0, rest.length() - ((String) out.get(k)).length());
    }
    out.add(0, PyObjects.rstrip(rest, null));
    return out;
  }

  private static String replace(String s, String old, String neu, long count) {
    if (count < 0) {
      return s.replace(old, neu);
    }
    StringBuilder sb = new StringBuilder();
    int from = 0;
    for (long k = 0; k < count; k++) {
      int i = s.indexOf(old, from);
      if (i < 0) {
        break;
      }
      sb.append(s, from, i).append(neu);
      from = i + old.length();
      if (old.isEmpty()) {
        if (from >= s.length()) {
          break;
        }
        sb.append(s.charAt(from));
        from++;
      }
    }
    return sb.append(s.substring(from)).toString();
  }

  /** Python's {@code str.title()}: a cased letter after an uncased character starts a word. */
  static String title(String s) {
    StringBuilder sb = new StringBuilder();
    boolean prevCased = false;
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      i += Character.charCount(c);
      sb.appendCodePoint(prevCased ? Character.toLowerCase(c) : Character.toTitleCase(c));
      prevCased = Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
    }
    return sb.toString();
  }

  /** Jinja's {@code title} filter piece: first character upper, the rest lower. */
  static String capitalizeWord(String s) {
    if (s.isEmpty()) {
      return s;
    }
    int c = s.codePointAt(0);
    return new String(Character.toChars(Character.toUpperCase(c)))
        + s.substring(Character.charCount(c)).toLowerCase(Locale.ROOT);
  }

  static String capitalize(String s) {
    if (s.isEmpty()) {
      return s;
    }
    int c = s.codePointAt(0);
    return new String(Character.toChars(Character.toTitleCase(c)))
        + s.substring(Character.charCount(c)).toLowerCase(Locale.ROOT);
  }

  /** {@code str.format} with {@code {}}, {@code {0}} and {@code {name}} fields (no specs). */
  private static String format(String s, List<Object> args, Map<String, Object> kw) {
    StringBuilder sb = new StringBuilder();
    int auto = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ((c == '{' || c == '}') && i + 1 < s.length() && s.charAt(i + 1) == c) {
        sb.append(c);
        i++;
      } else if (c == '{') {
        int e = s.indexOf('}', i);
        if (e < 0) {
          throw new IllegalArgumentException("Single '{' encountered in format string");
        }
        String field = s.substring(i + 1, e);
        if (field.contains(":") || field.contains("!")) {
          throw new IllegalArgumentException("format specs are not supported: {" + field + "}");
        }
        Object v =
            field.isEmpty()
                ? args.get(auto++)
                : field.chars().allMatch(Character::isDigit)
                    ? args.get(Integer.parseInt(field))
                    : kw.get(field);
        sb.append(PyObjects.str(v));
        i = e;
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  /** Python's {@code datetime.strftime} for the directives templates use (C locale). */
  static String strftime(String fmt, LocalDateTime t) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < fmt.length(); i++) {
      char c = fmt.charAt(i);
      if (c != '%' || i + 1 >= fmt.length()) {
        sb.append(c);
        continue;
      }
      char d = fmt.charAt(++i);
      boolean noPad = d == '-' && i + 1 < fmt.length();
      if (noPad) {
        d = fmt.charAt(++i);
      }
      String pad = noPad ? "%d" : "%02d";
      switch (d) {
        case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
        case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
        case 'b', 'h' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
        case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
        case 'd' -> sb.append(String.format(pad, t.getDayOfMonth()));
        case 'e' -> sb.append(String.format("%2d", t.getDayOfMonth()));
        case 'm' -> sb.append(String.format(pad, t.getMonthValue()));
        case 'y' -> sb.append(String.format("%02d", t.getYear() % 100));
        case 'Y' -> sb.append(t.getYear());
        case 'H' -> sb.append(String.format(pad, t.getHour()));
        case 'I' -> sb.append(String.format(pad, (t.getHour() + 11) % 12 + 1));
        case 'M' -> sb.append(String.format(pad, t.getMinute()));
        case 'S' -> sb.append(String.format(pad, t.getSecond()));
        case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
        case 'j' -> sb.append(String.format(noPad ? "%d" : "%03d", t.getDayOfYear()));
        case '%' -> sb.append('%');
        default ->
            throw new IllegalArgumentException("strftime directive %" + d + " is not supported");
      }
    }
    return sb.toString();
  }
}
