package ai.tilt.tokenizer.chat;

import ai.tilt.tokenizer.chat.JinjaAst.Assign;
import ai.tilt.tokenizer.chat.JinjaAst.AssignBlock;
import ai.tilt.tokenizer.chat.JinjaAst.Attr;
import ai.tilt.tokenizer.chat.JinjaAst.Binary;
import ai.tilt.tokenizer.chat.JinjaAst.Call;
import ai.tilt.tokenizer.chat.JinjaAst.Compare;
import ai.tilt.tokenizer.chat.JinjaAst.Cond;
import ai.tilt.tokenizer.chat.JinjaAst.Const;
import ai.tilt.tokenizer.chat.JinjaAst.DictExpr;
import ai.tilt.tokenizer.chat.JinjaAst.Expr;
import ai.tilt.tokenizer.chat.JinjaAst.Filter;
import ai.tilt.tokenizer.chat.JinjaAst.For;
import ai.tilt.tokenizer.chat.JinjaAst.If;
import ai.tilt.tokenizer.chat.JinjaAst.Item;
import ai.tilt.tokenizer.chat.JinjaAst.ListExpr;
import ai.tilt.tokenizer.chat.JinjaAst.Logic;
import ai.tilt.tokenizer.chat.JinjaAst.Macro;
import ai.tilt.tokenizer.chat.JinjaAst.Name;
import ai.tilt.tokenizer.chat.JinjaAst.Node;
import ai.tilt.tokenizer.chat.JinjaAst.Not;
import ai.tilt.tokenizer.chat.JinjaAst.Print;
import ai.tilt.tokenizer.chat.JinjaAst.Slice;
import ai.tilt.tokenizer.chat.JinjaAst.Test;
import ai.tilt.tokenizer.chat.JinjaAst.Text;
import ai.tilt.tokenizer.chat.JinjaAst.Unary;
import ai.tilt.tokenizer.chat.PyObjects.Namespace;
import ai.tilt.tokenizer.chat.PyObjects.Tuple;
import ai.tilt.tokenizer.chat.PyObjects.Undefined;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Executes a parsed template. Scoping follows Jinja2: each for-loop iteration and each macro call
 * gets its own scope, so a {@code set} inside a loop does not leak out (which is why templates use
 * {@code namespace()}); {@code if} blocks share the enclosing scope.
 */
final class JinjaRenderer {
  private static final class Scope {
    final Map<String, Object> vars = new HashMap<>();
    final Scope parent;

    Scope(Scope parent) {
      this.parent = parent;
    }
  }

  private static final class LoopSignal extends RuntimeException {
    final boolean isBreak;

    LoopSignal(boolean isBreak) {
      super(null, null, false, false);
      this.isBreak = isBreak;
    }
  }

  private final Scope root;
  private Scope scope;
  private int line;

  JinjaRenderer(Map<String, Object> globals, Map<String, Object> context) {
    Scope g = new Scope(null);
    g.vars.putAll(globals);
    root = new Scope(g);
    context.forEach((k, v) -> root.vars.put(k, PyObjects.normalize(v)));
    scope = root;
  }

  String render(List<Node> nodes) {
    StringBuilder sb = new StringBuilder();
    try {
      exec(nodes, sb);
    } catch (ChatTemplate.TemplateException e) {
      throw e;
    } catch (LoopSignal e) {
      throw JinjaLexer.error(line, "'break'/'continue' outside a loop");
    } catch (RuntimeException e) {
      throw JinjaLexer.error(line, e.getMessage());
    }
    return sb.toString();
  }

  private void exec(List<Node> nodes, StringBuilder sb) {
    for (Node n : nodes) {
      if (n instanceof Text t) {
        sb.append(t.text());
      } else if (n instanceof Print p) {
        line = p.line();
        sb.append(PyObjects.str(eval(p.expr())));
      } else if (n instanceof If f) {
        line = f.line();
        execIf(f, sb);
      } else if (n instanceof For f) {
        line = f.line();
        execFor(f, sb);
      } else if (n instanceof Assign a) {
        line = a.line();
        assign(a);
      } else if (n instanceof AssignBlock a) {
        line = a.line();
        StringBuilder body = new StringBuilder();
        exec(a.body(), body);
        Object v = body.toString();
        for (Filter f : a.filters()) {
          v = applyFilter(f, v);
        }
        scope.vars.put(a.target(), v);
      } else if (n instanceof Macro m) {
        scope.vars.put(m.name(), macro(m));
      } else if (n instanceof JinjaAst.Break b) {
        line = b.line();
        throw new LoopSignal(true);
      } else if (n instanceof JinjaAst.Continue c) {
        line = c.line();
        throw new LoopSignal(false);
      } else if (n instanceof JinjaAst.Scope s) {
        exec(s.body(), sb);
      }
    }
  }

  private void execIf(If f, StringBuilder sb) {
    for (int i = 0; i < f.conds().size(); i++) {
      if (PyObjects.truthy(eval(f.conds().get(i)))) {
        exec(f.bodies().get(i), sb);
        return;
      }
    }
    exec(f.orElse(), sb);
  }

  private void execFor(For f, StringBuilder sb) {
    List<Object> items = new ArrayList<>();
    Scope outer = scope;
    for (Object item : JinjaBuiltins.iterate(eval(f.iter()))) {
      if (f.filter() != null) {
        scope = new Scope(outer);
        bind(f.targets(), item);
        boolean keep = PyObjects.truthy(eval(f.filter()));
        scope = outer;
        if (!keep) {
          continue;
        }
      }
      items.add(item);
    }
    try {
      for (int i = 0; i < items.size(); i++) {
        scope = new Scope(outer);
        bind(f.targets(), items.get(i));
        scope.vars.put("loop", loopObject(items, i));
        try {
          exec(f.body(), sb);
        } catch (LoopSignal s) {
          if (s.isBreak) {
            break;
          }
        }
      }
    } finally {
      scope = outer;
    }
    if (items.isEmpty()) {
      exec(f.orElse(), sb);
    }
  }

  private static Map<String, Object> loopObject(List<Object> items, int i) {
    int n = items.size();
    Map<String, Object> loop = new LinkedHashMap<>();
    loop.put("index0", (long) i);
    loop.put("index", (long) i + 1);
    loop.put("revindex0", (long) (n - i - 1));
    loop.put("revindex", (long) (n - i));
    loop.put("first", i == 0);
    loop.put("last", i == n - 1);
    loop.put("length", (long) n);
    loop.put("depth", 1L);
    loop.put("depth0", 0L);
    loop.put("previtem", i > 0 ? items.get(i - 1) : new Undefined("there is no previous item"));
    loop.put("nextitem", i < n - 1 ? items.get(i + 1) : new Undefined("there is no next item"));
    loop.put("cycle", (PyObjects.Callable) (args, kw) -> args.get(i % args.size()));
    return loop;
  }

  private void bind(List<String> targets, Object value) {
    if (targets.size() == 1) {
      scope.vars.put(targets.get(0), value);
      return;
    }
    List<Object> parts = JinjaBuiltins.iterate(value);
    if (parts.size() != targets.size()) {
      throw new IllegalArgumentException(
          "cannot unpack " + parts.size() + " values into " + targets.size() + " variables");
    }
    for (int i = 0; i < targets.size(); i++) {
      scope.vars.put(targets.get(i), parts.get(i));
    }
  }

  private void assign(Assign a) {
    Object v = eval(a.value());
    if (a.attr() == null) {
      bind(a.targets(), v);
      return;
    }
    Object ns = lookup(a.targets().get(0));
    if (!(ns instanceof Namespace n)) {
      throw new IllegalArgumentException(
          "can't assign attribute '"
              + a.attr()
              + "' on non-namespace object '"
              + a.targets().get(0)
              + "'");
    }
    n.attrs.put(a.attr(), v);
  }

  private PyObjects.Callable macro(Macro m) {
    return (args, kwargs) -> {
      if (args.size() > m.params().size()) {
        throw new IllegalArgumentException(
            "macro '" + m.name() + "' takes not more than " + m.params().size() + " argument(s)");
      }
      Scope saved = scope;
      int savedLine = line;
      scope = new Scope(root);
      try {
        for (int i = 0; i < m.params().size(); i++) {
          String p = m.params().get(i);
          Object v =
              i < args.size()
                  ? args.get(i)
                  : kwargs.containsKey(p)
                      ? kwargs.get(p)
                      : m.defaults().get(i) != null
                          ? eval(m.defaults().get(i))
                          : new Undefined("parameter '" + p + "' was not provided");
          scope.vars.put(p, v);
        }
        StringBuilder sb = new StringBuilder();
        exec(m.body(), sb);
        return sb.toString();
      } finally {
        scope = saved;
        line = savedLine;
      }
    };
  }

  private Object lookup(String name) {
    for (Scope s = scope; s != null; s = s.parent) {
      if (s.vars.containsKey(name)) {
        return s.vars.get(name);
      }
    }
    return new Undefined("'" + name + "' is undefined");
  }

  Object eval(Expr e) {
    if (e instanceof Const c) {
      return c.value();
    } else if (e instanceof Name n) {
      return lookup(n.name());
    } else if (e instanceof Attr a) {
      return JinjaBuiltins.getAttr(eval(a.obj()), a.name());
    } else if (e instanceof Item i) {
      return JinjaBuiltins.getItem(eval(i.obj()), eval(i.key()));
    } else if (e instanceof Slice s) {
      return JinjaBuiltins.slice(
          eval(s.obj()), evalOrNull(s.start()), evalOrNull(s.stop()), evalOrNull(s.step()));
    } else if (e instanceof Call c) {
      Object fn = eval(c.fn());
      if (fn instanceof Undefined u) {
        throw new IllegalArgumentException(u.hint() + " (called as a function)");
      }
      if (!(fn instanceof PyObjects.Callable callable)) {
        throw new IllegalArgumentException(
            "'" + PyObjects.typeName(fn) + "' object is not callable");
      }
      return callable.call(evalAll(c.args()), evalAll(c.kwargs()));
    } else if (e instanceof Filter f) {
      return applyFilter(f, eval(f.obj()));
    } else if (e instanceof Test t) {
      boolean r = JinjaBuiltins.test(t.name(), eval(t.obj()), evalAll(t.args()));
      return r != t.negated();
    } else if (e instanceof Unary u) {
      return JinjaBuiltins.unary(u.op(), eval(u.operand()));
    } else if (e instanceof Binary b) {
      return JinjaBuiltins.binary(b.op(), eval(b.left()), eval(b.right()));
    } else if (e instanceof Compare c) {
      Object left = eval(c.first());
      for (int i = 0; i < c.ops().size(); i++) {
        Object right = eval(c.rest().get(i));
        if (!JinjaBuiltins.compare(c.ops().get(i), left, right)) {
          return false;
        }
        left = right;
      }
      return true;
    } else if (e instanceof Logic l) {
      Object left = eval(l.left());
      boolean t = PyObjects.truthy(left);
      if (l.op().equals("and") ? !t : t) {
        return left;
      }
      return eval(l.right());
    } else if (e instanceof Not n) {
      return !PyObjects.truthy(eval(n.operand()));
    } else if (e instanceof Cond c) {
      if (PyObjects.truthy(eval(c.test()))) {
        return eval(c.then());
      }
      return c.orElse() == null
          ? new Undefined("conditional had no else branch")
          : eval(c.orElse());
    } else if (e instanceof ListExpr l) {
      List<Object> items = evalAll(l.items());
      return l.tuple() ? new Tuple(items) : items;
    } else if (e instanceof DictExpr d) {
      Map<Object, Object> m = new LinkedHashMap<>();
      for (int i = 0; i < d.keys().size(); i++) {
        m.put(eval(d.keys().get(i)), eval(d.values().get(i)));
      }
      return m;
    }
    throw new IllegalStateException("unknown expression " + e);
  }

  private Object applyFilter(Filter f, Object value) {
    return JinjaBuiltins.filter(f.name(), value, evalAll(f.args()), evalAll(f.kwargs()));
  }

  private Object evalOrNull(Expr e) {
    return e == null ? null : eval(e);
  }

  private List<Object> evalAll(List<Expr> exprs) {
    List<Object> out = new ArrayList<>(exprs.size());
    for (Expr x : exprs) {
      out.add(eval(x));
    }
    return out;
  }

  private Map<String, Object> evalAll(Map<String, Expr> exprs) {
    Map<String, Object> out = new LinkedHashMap<>();
    exprs.forEach((k, x) -> out.put(k, eval(x)));
    return out;
  }
}
