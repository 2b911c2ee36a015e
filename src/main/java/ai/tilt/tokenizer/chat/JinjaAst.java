package ai.tilt.tokenizer.chat;

import java.util.List;
import java.util.Map;

/** Syntax tree of the Jinja subset that {@link ChatTemplate} interprets. */
final class JinjaAst {
  private JinjaAst() {}

  /** A statement; {@code line} is the template line used in error messages. */
  interface Node {}

  record Text(String text) implements Node {}

  record Print(Expr expr, int line) implements Node {}

  record If(List<Expr> conds, List<List<Node>> bodies, List<Node> orElse, int line)
      implements Node {}

  /** {@code for a[, b] in iter [if filter]}; several targets unpack each item. */
  record For(
      List<String> targets, Expr iter, Expr filter, List<Node> body, List<Node> orElse, int line)
      implements Node {}

  /** {@code set a = v}, {@code set a, b = v}, or {@code set ns.attr = v} (attr non-null). */
  record Assign(List<String> targets, String attr, Expr value, int line) implements Node {}

  /** {@code set x %}...{% endset} with optional filters applied to the captured text. */
  record AssignBlock(String target, List<Filter> filters, List<Node> body, int line)
      implements Node {}

  record Macro(String name, List<String> params, List<Expr> defaults, List<Node> body, int line)
      implements Node {}

  record Break(int line) implements Node {}

  record Continue(int line) implements Node {}

  /** A block that just renders its body ({@code generation} of transformers' AssistantTracker). */
  record Scope(List<Node> body) implements Node {}

  interface Expr {}

  record Const(Object value) implements Expr {}

  record Name(String name) implements Expr {}

  record ListExpr(List<Expr> items, boolean tuple) implements Expr {}

  record DictExpr(List<Expr> keys, List<Expr> values) implements Expr {}

  record Attr(Expr obj, String name) implements Expr {}

  record Item(Expr obj, Expr key) implements Expr {}

  record Slice(Expr obj, Expr start, Expr stop, Expr step) implements Expr {}

  record Call(Expr fn, List<Expr> args, Map<String, Expr> kwargs) implements Expr {}

  record Filter(Expr obj, String name, List<Expr> args, Map<String, Expr> kwargs) implements Expr {}

  record Test(Expr obj, String name, List<Expr> args, boolean negated) implements Expr {}

  record Unary(String op, Expr operand) implements Expr {}

  record Binary(String op, Expr left, Expr right) implements Expr {}

  /** Python-style chained comparison: {@code a < b <= c}. */
  record Compare(Expr first, List<String> ops, List<Expr> rest) implements Expr {}

  /** {@code and} / {@code or}, returning an operand as Python does. */
  record Logic(String op, Expr left, Expr right) implements Expr {}

  record Not(Expr operand) implements Expr {}

  record Cond(Expr test, Expr then, Expr orElse) implements Expr {}
}
