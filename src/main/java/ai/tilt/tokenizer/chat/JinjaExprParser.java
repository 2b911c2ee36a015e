package ai.tilt.tokenizer.chat;

import ai.tilt.tokenizer.chat.JinjaAst.Attr;
import ai.tilt.tokenizer.chat.JinjaAst.Binary;
import ai.tilt.tokenizer.chat.JinjaAst.Call;
import ai.tilt.tokenizer.chat.JinjaAst.Compare;
import ai.tilt.tokenizer.chat.JinjaAst.Cond;
import ai.tilt.tokenizer.chat.JinjaAst.Const;
import ai.tilt.tokenizer.chat.JinjaAst.DictExpr;
import ai.tilt.tokenizer.chat.JinjaAst.Expr;
import ai.tilt.tokenizer.chat.JinjaAst.Filter;
import ai.tilt.tokenizer.chat.JinjaAst.Item;
import ai.tilt.tokenizer.chat.JinjaAst.ListExpr;
import ai.tilt.tokenizer.chat.JinjaAst.Logic;
import ai.tilt.tokenizer.chat.JinjaAst.Name;
import ai.tilt.tokenizer.chat.JinjaAst.Not;
import ai.tilt.tokenizer.chat.JinjaAst.Slice;
import ai.tilt.tokenizer.chat.JinjaAst.Test;
import ai.tilt.tokenizer.chat.JinjaAst.Unary;
import ai.tilt.tokenizer.chat.JinjaLexer.T;
import ai.tilt.tokenizer.chat.JinjaLexer.Tok;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Jinja expressions, following Jinja2's grammar and operator precedence (or, and, not, comparisons,
 * {@code + -}, {@code ~}, {@code * / // %}, {@code **}, unary, postfix, filters and tests), so that
 * {@code messages|length - 1} and {@code not x is defined} group as in Python. {@link JinjaParser}
 * adds the statements.
 */
abstract class JinjaExprParser {
  private static final Set<String> COMPARE = Set.of("==", "!=", "<", ">", "<=", ">=");
  private static final Set<String> CONSTS =
      Set.of("true", "false", "none", "True", "False", "None");

  /** The tokens of the tag being parsed, the position in them, and its template line. */
  List<Tok> toks = List.of();

  int ti;
  int line;

  Expr tuple() {
    Expr first = expression(true);
    if (!peek().is(",")) {
      return first;
    }
    List<Expr> items = new ArrayList<>(List.of(first));
    while (skip(",") && !atEnd()) {
      items.add(expression(true));
    }
    return new ListExpr(items, true);
  }

  Expr expression(boolean withCondExpr) {
    Expr e = or();
    if (!withCondExpr) {
      return e;
    }
    while (peek().is("if")) {
      next();
      Expr test = or();
      Expr orElse = skip("else") ? expression(true) : null;
      e = new Cond(test, e, orElse);
    }
    return e;
  }

  private Expr or() {
    Expr e = and();
    while (skip("or")) {
      e = new Logic("or", e, and());
    }
    return e;
  }

  private Expr and() {
    Expr e = not();
    while (skip("and")) {
      e = new Logic("and", e, not());
    }
    return e;
  }

  private Expr not() {
    return skip("not") ? new Not(not()) : compare();
  }

  private Expr compare() {
    Expr first = math1();
    List<String> ops = new ArrayList<>();
    List<Expr> rest = new ArrayList<>();
    while (true) {
      Tok t = peek();
      if (t.type() == T.OP && COMPARE.contains(t.text())) {
        next();
        ops.add(t.text());
      } else if (t.is("in")) {
        next();
        ops.add("in");
      } else if (t.is("not") && peekAt(1).is("in")) {
        ti += 2;
        ops.add("not in");
      } else {
        break;
      }
      rest.add(math1());
    }
    return ops.isEmpty() ? first : new Compare(first, ops, rest);
  }

  private Expr math1() {
    Expr e = concat();
    while (peek().is("+") || peek().is("-")) {
      e = new Binary(next().text(), e, concat());
    }
    return e;
  }

  private Expr concat() {
    Expr e = math2();
    while (skip("~")) {
      e = new Binary("~", e, math2());
    }
    return e;
  }

  private Expr math2() {
    Expr e = pow();
    while (peek().is("*") || peek().is("/") || peek().is("//") || peek().is("%")) {
      e = new Binary(next().text(), e, pow());
    }
    return e;
  }

  private Expr pow() {
    Expr e = unary(true);
    while (skip("**")) {
      e = new Binary("**", e, unary(true));
    }
    return e;
  }

  private Expr unary(boolean withFilter) {
    Expr e;
    if (peek().is("-") || peek().is("+")) {
      e = new Unary(next().text(), unary(false));
    } else {
      e = primary();
    }
    e = postfix(e);
    return withFilter ? filterExpr(e) : e;
  }

  private Expr primary() {
    Tok t = next();
    switch (t.type()) {
      case NAME:
        if (CONSTS.contains(t.text())) {
          String n = t.text().toLowerCase();
          return new Const(n.equals("none") ? null : Boolean.valueOf(n.equals("true")));
        }
        return new Name(t.text());
      case STRING:
        StringBuilder sb = new StringBuilder((String) t.value());
        while (peek().type() == T.STRING) {
          sb.append((String) next().value());
        }
        return new Const(sb.toString());
      case INT:
      case FLOAT:
        return new Const(t.value());
      default:
        break;
    }
    if (t.is("(")) {
      if (skip(")")) {
        return new ListExpr(List.of(), true);
      }
      Expr first = expression(true);
      if (skip(")")) {
        return first;
      }
      List<Expr> items = new ArrayList<>(List.of(first));
      while (skip(",") && !peek().is(")")) {
        items.add(expression(true));
      }
      expect(")");
      return new ListExpr(items, true);
    }
    if (t.is("[")) {
      List<Expr> items = new ArrayList<>();
      while (!skip("]")) {
        if (!items.isEmpty()) {
          expect(",");
          if (skip("]")) {
            break;
          }
        }
        items.add(expression(true));
      }
      return new ListExpr(items, false);
    }
    if (t.is("{")) {
      List<Expr> keys = new ArrayList<>();
      List<Expr> values = new ArrayList<>();
      while (!skip("}")) {
        if (!keys.isEmpty()) {
          expect(",");
          if (skip("}")) {
            break;
          }
        }
        keys.add(expression(true));
        expect(":");
        values.add(expression(true));
      }
      return new DictExpr(keys, values);
    }
    throw err(t.type() == T.END ? "unexpected end of tag" : "unexpected '" + t.text() + "'");
  }

  private Expr postfix(Expr e) {
    while (true) {
      if (skip(".")) {
        Tok t = next();
        if (t.type() == T.NAME) {
          e = new Attr(e, t.text());
        } else if (t.type() == T.INT) {
          e = new Item(e, new Const(t.value()));
        } else {
          throw err("expected an attribute name after '.'");
        }
      } else if (skip("[")) {
        e = subscript(e);
      } else if (peek().is("(")) {
        e = call(e);
      } else {
        return e;
      }
    }
  }

  private Expr subscript(Expr obj) {
    Expr[] parts = new Expr[3];
    int idx = 0;
    boolean slice = false;
    while (!skip("]")) {
      if (skip(":")) {
        slice = true;
        if (++idx > 2) {
          throw err("too many ':' in subscript");
        }
      } else if (parts[idx] == null) {
        parts[idx] = expression(true);
      } else {
        throw err("expected ':' or ']' in subscript");
      }
    }
    if (slice) {
      return new Slice(obj, parts[0], parts[1], parts[2]);
    }
    if (parts[0] == null) {
      throw err("empty subscript");
    }
    return new Item(obj, parts[0]);
  }

  private Expr call(Expr fn) {
    List<Expr> args = new ArrayList<>();
    Map<String, Expr> kwargs = new LinkedHashMap<>();
    callArgs(args, kwargs);
    return new Call(fn, args, kwargs);
  }

  void callArgs(List<Expr> args, Map<String, Expr> kwargs) {
    expect("(");
    boolean first = true;
    while (!skip(")")) {
      if (!first) {
        expect(",");
        if (skip(")")) {
          return;
        }
      }
      first = false;
      if (peek().type() == T.NAME && peekAt(1).is("=")) {
        String k = next().text();
        next();
        kwargs.put(k, expression(true));
      } else if (!kwargs.isEmpty()) {
        throw err("positional argument after keyword argument");
      } else {
        args.add(expression(true));
      }
    }
  }

  private Expr filterExpr(Expr e) {
    while (true) {
      if (skip("|")) {
        e = filter(e);
      } else if (skip("is")) {
        boolean negated = skip("not");
        String name = nameToken();
        List<Expr> args = new ArrayList<>();
        Map<String, Expr> kwargs = new LinkedHashMap<>();
        Tok t = peek();
        if (t.is("(")) {
          callArgs(args, kwargs);
        } else if ((t.type() == T.NAME
                || t.type() == T.STRING
                || t.type() == T.INT
                || t.type() == T.FLOAT
                || t.is("[")
                || t.is("{"))
            && !t.is("else")
            && !t.is("or")
            && !t.is("and")
            && !t.is("if")) {
          args.add(postfix(primary()));
        }
        e = new Test(e, name, args, negated);
      } else if (peek().is("(")) {
        e = call(e);
      } else {
        return e;
      }
    }
  }

  Filter filter(Expr obj) {
    String name = nameToken();
    List<Expr> args = new ArrayList<>();
    Map<String, Expr> kwargs = new LinkedHashMap<>();
    if (peek().is("(")) {
      callArgs(args, kwargs);
    }
    return new Filter(obj, name, args, kwargs);
  }

  private static final Tok END = new Tok(T.END, "end of tag", null);

  Tok peek() {
    return peekAt(0);
  }

  Tok peekAt(int k) {
    return ti + k < toks.size() ? toks.get(ti + k) : END;
  }

  Tok next() {
    Tok t = peek();
    if (t != END) {
      ti++;
    }
    return t;
  }

  boolean atEnd() {
    return ti >= toks.size();
  }

  boolean skip(String s) {
    if (peek().is(s)) {
      ti++;
      return true;
    }
    return false;
  }

  void expect(String s) {
    Tok t = next();
    if (!t.is(s)) {
      throw err("expected '" + s + "', got '" + t.text() + "'");
    }
  }

  String nameToken() {
    Tok t = next();
    if (t.type() != T.NAME) {
      throw err("expected a name, got '" + t.text() + "'");
    }
    return t.text();
  }

  void expectEnd() {
    if (!atEnd()) {
      throw err("unexpected '" + peek().text() + "'");
    }
  }

  ChatTemplate.TemplateException err(String msg) {
    return JinjaLexer.error(line, msg);
  }
}
