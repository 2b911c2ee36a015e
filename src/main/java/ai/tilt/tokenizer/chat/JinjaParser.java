package ai.tilt.tokenizer.chat;

import ai.tilt.tokenizer.chat.JinjaAst.Assign;
import ai.tilt.tokenizer.chat.JinjaAst.AssignBlock;
import ai.tilt.tokenizer.chat.JinjaAst.Expr;
import ai.tilt.tokenizer.chat.JinjaAst.Filter;
import ai.tilt.tokenizer.chat.JinjaAst.For;
import ai.tilt.tokenizer.chat.JinjaAst.If;
import ai.tilt.tokenizer.chat.JinjaAst.Macro;
import ai.tilt.tokenizer.chat.JinjaAst.Node;
import ai.tilt.tokenizer.chat.JinjaAst.Print;
import ai.tilt.tokenizer.chat.JinjaAst.Text;
import ai.tilt.tokenizer.chat.JinjaLexer.Kind;
import ai.tilt.tokenizer.chat.JinjaLexer.Segment;
import ai.tilt.tokenizer.chat.JinjaLexer.T;
import ai.tilt.tokenizer.chat.JinjaLexer.Tok;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Parses a template's statements ({@code if/elif/else}, {@code for ... [if] ... else}, {@code set}
 * in its three forms, {@code macro}, {@code break/continue}, {@code generation}) into {@link
 * JinjaAst} nodes; expressions come from {@link JinjaExprParser}.
 */
final class JinjaParser extends JinjaExprParser {
  private final List<Segment> segs;
  private int si;

  private JinjaParser(List<Segment> segs) {
    this.segs = segs;
  }

  static List<Node> parse(String source) {
    JinjaParser p = new JinjaParser(JinjaLexer.scan(source));
    List<Node> body = p.body(Set.of());
    return body;
  }

  private List<Node> body(Set<String> endTags) {
    List<Node> out = new ArrayList<>();
    while (si < segs.size()) {
      Segment s = segs.get(si);
      line = s.line();
      toks = s.toks();
      ti = 0;
      if (s.kind() == Kind.TEXT) {
        out.add(new Text(s.text()));
        si++;
      } else if (s.kind() == Kind.VAR) {
        si++;
        out.add(new Print(expression(true), line));
        expectEnd();
      } else {
        Tok first = next();
        if (first.type() != T.NAME) {
          throw err("expected a tag name, got '" + first.text() + "'");
        }
        if (endTags.contains(first.text())) {
          return out; // the caller consumes the end tag
        }
        si++;
        out.add(statement(first.text()));
      }
    }
    if (!endTags.isEmpty()) {
      throw err("unexpected end of template, expected one of " + endTags);
    }
    return out;
  }

  /** Enters the end tag the previous {@link #body} call stopped at and returns its name. */
  private String endTag() {
    Segment s = segs.get(si++);
    line = s.line();
    toks = s.toks();
    ti = 1;
    return s.toks().get(0).text();
  }

  private Node statement(String tag) {
    int at = line;
    switch (tag) {
      case "if":
        return ifStatement(at);
      case "for":
        return forStatement(at);
      case "set":
        return setStatement(at);
      case "macro":
        return macro(at);
      case "break":
        expectEnd();
        return new JinjaAst.Break(at);
      case "continue":
        expectEnd();
        return new JinjaAst.Continue(at);
      case "generation":
        expectEnd();
        List<Node> body = body(Set.of("endgeneration"));
        endTag();
        expectEnd();
        return new JinjaAst.Scope(body);
      default:
        throw err("unsupported tag '" + tag + "'");
    }
  }

  private Node ifStatement(int at) {
    List<Expr> conds = new ArrayList<>();
    List<List<Node>> bodies = new ArrayList<>();
    List<Node> orElse = List.of();
    conds.add(expression(true));
    expectEnd();
    while (true) {
      bodies.add(body(Set.of("elif", "else", "endif")));
      String t = endTag();
      if (t.equals("elif")) {
        conds.add(expression(true));
        expectEnd();
      } else if (t.equals("else")) {
        expectEnd();
        orElse = body(Set.of("endif"));
        endTag();
        expectEnd();
        break;
      } else {
        expectEnd();
        break;
      }
    }
    return new If(conds, bodies, orElse, at);
  }

  private Node forStatement(int at) {
    List<String> targets = names();
    if (!next().is("in")) {
      throw err("expected 'in' in for loop");
    }
    Expr iter = expression(false);
    Expr filter = null;
    if (peek().is("if")) {
      next();
      filter = expression(true);
    }
    if (peek().is("recursive")) {
      throw err("recursive for loops are not supported");
    }
    expectEnd();
    List<Node> body = body(Set.of("else", "endfor"));
    List<Node> orElse = List.of();
    if (endTag().equals("else")) {
      expectEnd();
      orElse = body(Set.of("endfor"));
      endTag();
    }
    expectEnd();
    return new For(targets, iter, filter, body, orElse, at);
  }

  private List<String> names() {
    List<String> names = new ArrayList<>();
    boolean paren = peek().is("(");
    if (paren) {
      next();
    }
    do {
      Tok t = next();
      if (t.type() != T.NAME) {
        throw err("expected a variable name, got '" + t.text() + "'");
      }
      names.add(t.text());
    } while (skip(","));
    if (paren && !next().is(")")) {
      throw err("expected ')'");
    }
    return names;
  }

  private Node setStatement(int at) {
    List<String> targets = names();
    String attr = null;
    if (targets.size() == 1 && skip(".")) {
      attr = nameToken();
    }
    if (skip("=")) {
      Expr value = tuple();
      expectEnd();
      return new Assign(targets, attr, value, at);
    }
    if (targets.size() != 1 || attr != null) {
      throw err("block set needs a single variable name");
    }
    List<Filter> filters = new ArrayList<>();
    while (skip("|")) {
      filters.add(filter(null));
    }
    expectEnd();
    List<Node> body = body(Set.of("endset"));
    endTag();
    expectEnd();
    return new AssignBlock(targets.get(0), filters, body, at);
  }

  private Node macro(int at) {
    String name = nameToken();
    List<String> params = new ArrayList<>();
    List<Expr> defaults = new ArrayList<>();
    expect("(");
    while (!skip(")")) {
      if (!params.isEmpty()) {
        expect(",");
      }
      params.add(nameToken());
      defaults.add(skip("=") ? expression(true) : null);
    }
    expectEnd();
    List<Node> body = body(Set.of("endmacro"));
    endTag();
    expectEnd();
    return new Macro(name, params, defaults, body, at);
  }
}
