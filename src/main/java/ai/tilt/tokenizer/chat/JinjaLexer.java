package ai.tilt.tokenizer.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a Jinja template into text, {@code {{ }}} and {@code {% %}} segments, applying whitespace
 * control exactly as Jinja2's lexer does with {@code trim_blocks=True, lstrip_blocks=True} and the
 * default {@code keep_trailing_newline=False} (the settings transformers uses for chat templates).
 * Tag contents are tokenized here too, because a tag only ends at {@code %}}/{@code }}} when
 * brackets are balanced ({@code {{ {'a': 1} }}}).
 */
final class JinjaLexer {
  enum Kind {
    TEXT,
    VAR,
    BLOCK
  }

  enum T {
    NAME,
    STRING,
    INT,
    FLOAT,
    OP,
    END
  }

  record Tok(T type, String text, Object value) {
    boolean is(String s) {
      return (type == T.OP || type == T.NAME) && text.equals(s);
    }
  }

  record Segment(Kind kind, String text, List<Tok> toks, int line) {}

  private static final String[] OPS = {
    "**", "//", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "~", "[", "]", "(", ")", "{", "}",
    ">", "<", "=", ".", ":", "|", ",", ";"
  };
  private static final Pattern ENDRAW =
      Pattern.compile("\\{%([-+]?)\\s*endraw\\s*(\\+%\\}|-%\\}\\s*|%\\}\\n?)");

  private final String src;
  private final List<Segment> out = new ArrayList<>();
  private int pos;
  private int line = 1;
  private int lineCountedTo;
  // Jinja2's `line_starting`: the previous token ended with a newline (or we are at the start).
  private boolean lineStarting = true;

  private JinjaLexer(String source) {
    // Jinja2 normalises \r\n and \r to \n and drops one trailing newline (keep_trailing_newline).
    String s = source.replace("\r\n", "\n").replace('\r', '\n');
    this.src = s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
  }

  static List<Segment> scan(String source) {
    JinjaLexer lx = new JinjaLexer(source);
    lx.run();
    return lx.out;
  }

  private int lineAt(int p) {
    for (; lineCountedTo < p; lineCountedTo++) {
      if (src.charAt(lineCountedTo) == '\n') {
        line++;
      }
    }
    return line;
  }

  private void run() {
    int n = src.length();
    while (pos <= n) {
      int start = nextTagStart(pos);
      String text = src.substring(pos, start < 0 ? n : start);
      if (start < 0) {
        addText(text);
        return;
      }
      char kind = src.charAt(start + 1);
      int p = start + 2;
      char sign = p < n && (src.charAt(p) == '-' || src.charAt(p) == '+') ? src.charAt(p) : 0;
      addText(stripBefore(text, sign, kind != '{'));
      if (sign != 0) {
        p++;
      }
      int tagLine = lineAt(start);
      if (kind == '#') {
        pos = endComment(p, tagLine);
      } else {
        pos = tag(kind == '{' ? Kind.VAR : Kind.BLOCK, p, tagLine);
      }
      lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
    }
  }

  private int nextTagStart(int from) {
    int i = from;
    while ((i = src.indexOf('{', i)) >= 0 && i + 1 < src.length()) {
      char c = src.charAt(i + 1);
      if (c == '{' || c == '%' || c == '#') {
        return i;
      }
      i++;
    }
    return -1;
  }

  /** The whitespace control applied to the text before a tag ({@code -} or lstrip_blocks). */
  private String stripBefore(String text, char sign, boolean lstripApplies) {
    if (sign == '-') {
      return PyObjects.rstrip(text, null);
    }
    if (sign != '+' && lstripApplies) {
      int l = text.lastIndexOf('\n') + 1;
      if ((l > 0 || lineStarting) && l < text.length() && allSpace(text, l)) {
        return text.substring(0, l);
      }
    }
    return text;
  }

  private static boolean allSpace(String s, int from) {
    for (int i = from; i < s.length(); i++) {
      if (!PyObjects.isSpace(s.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  private void addText(String text) {
    if (!text.isEmpty()) {
      out.add(new Segment(Kind.TEXT, text, List.of(), line));
    }
  }

  private int skipSpace(int p) {
    while (p < src.length() && PyObjects.isSpace(src.charAt(p))) {
      p++;
    }
    return p;
  }

  /** After a block/comment end: {@code -} eats all whitespace, none eats one newline. */
  private int afterBlockEnd(int p, char endSign) {
    if (endSign == '-') {
      return skipSpace(p);
    }
    if (endSign == 0 && p < src.length() && src.charAt(p) == '\n') {
      return p + 1;
    }
    return p;
  }

  private int endComment(int p, int tagLine) {
    int e = src.indexOf("#}", p);
    if (e < 0) {
      throw error(tagLine, "missing end of comment tag");
    }
    char endSign =
        e - 1 >= p && (src.charAt(e - 1) == '-' || src.charAt(e - 1) == '+')
            ? src.charAt(e - 1)
            : 0;
    return afterBlockEnd(e + 2, endSign);
  }

  private int tag(Kind kind, int p, int tagLine) {
    List<Tok> toks = new ArrayList<>();
    StringBuilder stack = new StringBuilder();
    int n = src.length();
    while (true) {
      p = skipSpace(p);
      if (p >= n) {
        throw error(tagLine, "unexpected end of template inside a tag");
      }
      if (stack.length() == 0) {
        int end = tagEnd(kind, p);
        if (end >= 0) {
          out.add(new Segment(kind, null, toks, tagLine));
          if (kind == Kind.BLOCK && toks.size() == 1 && toks.get(0).is("raw")) {
            return raw(end, tagLine);
          }
          return end;
        }
      }
      p = token(p, toks, stack, tagLine);
    }
  }

  /** Returns the position after the tag end if one starts at p, else -1. */
  private int tagEnd(Kind kind, int p) {
    if (kind == Kind.BLOCK) {
      if (src.startsWith("-%}", p)) {
        return afterBlockEnd(p + 3, '-');
      }
      if (src.startsWith("+%}", p)) {
        return p + 3;
      }
      return src.startsWith("%}", p) ? afterBlockEnd(p + 2, (char) 0) : -1;
    }
    if (src.startsWith("-}}", p)) {
      return skipSpace(p + 3);
    }
    return src.startsWith("}}", p) ? p + 2 : -1;
  }

  private int raw(int p, int tagLine) {
    Matcher m = ENDRAW.matcher(src);
    if (!m.find(p)) {
      throw error(tagLine, "missing {% endraw %}");
    }
    lineStarting = src.charAt(p - 1) == '\n';
    String sign = m.group(1);
    out.remove(out.size() - 1);
    addText(stripBefore(src.substring(p, m.start()), sign.isEmpty() ? 0 : sign.charAt(0), true));
    return m.end();
  }

  private int token(int p, List<Tok> toks, StringBuilder stack, int tagLine) {
    char c = src.charAt(p);
    if (Character.isDigit(c)) {
      return number(p, toks);
    }
    if (c == '_' || Character.isLetter(c)) {
      int e = p + 1;
      while (e < src.length()
          && (src.charAt(e) == '_' || Character.isLetterOrDigit(src.charAt(e)))) {
        e++;
      }
      String name = src.substring(p, e);
      toks.add(new Tok(T.NAME, name, name));
      return e;
    }
    if (c == '\'' || c == '"') {
      return string(p, toks, tagLine);
    }
    for (String op : OPS) {
      if (src.startsWith(op, p)) {
        balance(op, stack, tagLine);
        toks.add(new Tok(T.OP, op, op));
        return p + op.length();
      }
    }
    throw error(tagLine, "unexpected character '" + c + "' in tag");
  }

  private void balance(String op, StringBuilder stack, int tagLine) {
    switch (op) {
      case "(", "[", "{" -> stack.append(op);
      case ")", "]", "}" -> {
        String open = op.equals(")") ? "(" : op.equals("]") ? "[" : "{";
        if (stack.length() == 0 || stack.charAt(stack.length() - 1) != open.charAt(0)) {
          throw error(tagLine, "unexpected '" + op + "'");
        }
        stack.setLength(stack.length() - 1);
      }
      default -> {}
    }
  }

  private int number(int p, List<Tok> toks) {
    int e = digits(p);
    boolean isFloat = false;
    if (e + 1 < src.length() && src.charAt(e) == '.' && Character.isDigit(src.charAt(e + 1))) {
      e = digits(e + 1);
      isFloat = true;
    }
    if (e < src.length() && (src.charAt(e) == 'e' || src.charAt(e) == 'E')) {
      int x = e + 1;
      if (x < src.length() && (src.charAt(x) == '+' || src.charAt(x) == '-')) {
        x++;
      }
      if (x < src.length() && Character.isDigit(src.charAt(x))) {
        e = digits(x);
        isFloat = true;
      }
    }
    String text = src.substring(p, e).replace("_", "");
    Object v = isFloat ? (Object) Double.parseDouble(text) : (Object) Long.parseLong(text);
    toks.add(new Tok(isFloat ? T.FLOAT : T.INT, text, v));
    return e;
  }

  private int digits(int p) {
    while (p < src.length() && (Character.isDigit(src.charAt(p)) || src.charAt(p) == '_')) {
      p++;
    }
    return p;
  }

  private int string(int p, List<Tok> toks, int tagLine) {
    char q = src.charAt(p);
    int e = p + 1;
    while (e < src.length() && src.charAt(e) != q) {
      e += src.charAt(e) == '\\' ? 2 : 1;
    }
    if (e >= src.length()) {
      throw error(tagLine, "unterminated string literal");
    }
    String body = src.substring(p + 1, e);
    toks.add(new Tok(T.STRING, body, PyObjects.unescape(body)));
    return e + 1;
  }

  static ChatTemplate.TemplateException error(int line, String msg) {
    return new ChatTemplate.TemplateException("chat template line " + line + ": " + msg, false);
  }
}
