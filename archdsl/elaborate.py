"""Stage 2 — elaborate: AST → Graph.

Expands repeats, instantiates blocks, evaluates variables, inlines imported
networks, resolves label references, and names every node by its place in
the spec (``features.0``, ``layer1.0.conv1``, ``inception3a.branch2.1``).
The result is a :class:`~archdsl.graph.Graph` whose nodes carry the op (with resolved
parameters), the ordered input list, and the source span.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ast
from .args import bind_params, kwarg_hint, kwarg_name, shorthand_hint, takes_word
from .errors import ArchError, ArgumentError, LimitError, ShapeError, Span, UnknownNameError
from .eval import Env, evaluate, reset_work, shown, size, truth
from .files import MAX_DEPTH, MAX_STEPS, FileCtx, main_network, with_overrides
from .graph import Graph, ancestors
from .naming import Scope, _Reuse, _Transparent
from .ops import REGISTRY, Op, OpProblem, lookup
from .ops.linear import Input
from .ops.merge import Projection

MAX_NODES = 20_000  # 25 times the largest library network; the pipeline takes ~0.3 ms a node
MAX_NESTING = 100  # elements inside one another (brackets, groups, merges, blocks, if / for), so no RecursionError
INPUT = "input"


class Elaborator:
    def __init__(self, graph: Graph):
        self.g = graph
        self.labels: dict[str, str] = {}  # label path → node it stands for
        self.depth = 0
        self.bare_fc: list[str] = []
        self.outputs_stmt: ast.OutputStmt | None = None
        self.on_input = None  # the input/output handler of the network body being run, for if / for bodies
        self.pending: dict[str, Any] = {}  # values set from outside for variables of the network itself
        self.steps = 0
        self.nesting = 0
        self.bound = Bound()

    # ----------------------------------------------------------------- limits
    def step(self, span: Span) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise self.too_large("steps", "this step", 1, None, span,
                                 "lower the repeat counts or the lengths of the loops", self.steps - 1)

    def expect(self, what: str, nodes: int, steps: int, times: int | None, span: Span, hint: str) -> None:
        """Refuse, before expanding it, an element whose expansion would pass MAX_NODES or MAX_STEPS
        (``nodes`` and ``steps`` are lower bounds for one iteration, ``times`` the iterations)."""
        n, s = nodes * (times or 1), steps * (times or 1)
        if len(self.g) + n > MAX_NODES:
            raise self.too_large("nodes", what, n, times, span, hint)
        if self.steps + s > MAX_STEPS:
            raise self.too_large("steps", what, s, times, span, hint)

    def too_large(self, unit: str, what: str, total: int, times: int | None, span: Span, hint: str,
                  done: int | None = None) -> LimitError:
        """``the repeat would expand past 20,000 nodes: 1,000 times at least 1,000``, or, when the
        network so far plus this element pass the limit, ``the network would expand past ... here``."""
        limit, done = (MAX_NODES, len(self.g)) if unit == "nodes" else (MAX_STEPS, self.steps if done is None else done)
        verb = f"expand past {limit:,} nodes" if unit == "nodes" else f"take more than {limit:,} steps to expand"
        each = f"{times:,} times at least {total // times:,}" if times else f"at least {total:,}"
        if total > limit:  # the element alone is too large
            return LimitError(f"{what} would {verb}: {each}", span, hint)
        return LimitError(f"the network would {verb} here: {done:,} so far, and {what} adds {each}", span, hint)

    # ------------------------------------------------------------------ nodes
    def add_node(self, name: str, op: Op, inputs: list[str], span: Span) -> str:
        if len(self.g) >= MAX_NODES:
            raise self.too_large("nodes", "this layer", 1, None, span, "lower the repeat counts or block depth")
        if name in self.g:
            raise ArchError(f"the name '{name}' is used twice", span, "labels must be unique within their group")
        self.g.add_node(name, op=op, inputs=list(inputs), span=span)
        for i in inputs:
            self.g.add_edge(i, name)
        return name

    def make_op(self, cls: type[Op], values: dict[str, Any], span: Span, spans: dict[str, Span] | None = None) -> Op:
        """Validate an op's arguments; ``spans`` (field → where it was written) aims the caret at a bad one."""
        try:
            return cls.make(values)
        except OpProblem as err:
            raise ArgumentError(err.message, (spans or {}).get(err.field, span), err.hint) from None

    # ------------------------------------------------------------- statements
    def body(self, body: ast.Body, x: str | None, scope: Scope, ctx: FileCtx, env: Env,
             on_input: Callable[[ast.InputStmt, Env], str] | None = None, network: bool = False) -> str | None:
        """Statements run in order; each chain continues from the previous one's output."""
        env = env.child()
        saved, self.on_input = self.on_input, on_input
        try:
            return self._statements(body, x, scope, ctx, env, on_input, network)
        finally:
            self.on_input = saved

    def _statements(self, body, x, scope, ctx, env, on_input, network=False):
        whole = self.whole_network_call(body, ctx) if network else None
        for stmt in body.stmts:
            self.step(stmt.span)
            if isinstance(stmt, ast.Assign):
                if network and stmt.name in self.pending:  # load(..., aux=1), or googlenet(aux=1) imported
                    env.set(stmt.name, self.pending.pop(stmt.name), stmt.span)
                else:
                    env.set(stmt.name, evaluate(stmt.value, env), stmt.span)
            elif isinstance(stmt, ast.InputStmt):
                if on_input is None:
                    raise ArchError("'input' belongs at the start of a network", stmt.span,
                                    "a block or group takes its input from the chain it stands in")
                x = on_input(stmt, env)
            elif isinstance(stmt, ast.OutputStmt):
                if on_input is None:
                    raise ArchError("'output' belongs at the top level of a network", stmt.span,
                                    "list the outputs by label after the network's chains")
                if scope.path == "":  # an imported network's outputs are not this network's
                    if self.outputs_stmt is not None:
                        raise ArchError("the network lists its outputs twice", stmt.span,
                                        "list them all in one line: output a, b, c")
                    self.outputs_stmt = stmt
            else:
                if x is None and not (stmt.elements and isinstance(stmt.elements[0], ast.Ref)):
                    if on_input is None:
                        raise ArchError("nothing flows into this chain", stmt.span)
                    x = on_input(None, env)
                x = self.chain(stmt, x, _Reuse(scope) if stmt is whole else scope, ctx, env)
        return x

    def whole_network_call(self, body: ast.Body, ctx: FileCtx) -> ast.Chain | None:
        """``network resnet18 { input 3x224x224
        resnet("basic", (2, 2, 2, 2)) }``: when a network's only chain is one unlabelled block call,
        the block's layers are the network's own (``conv1``, ``layer1.0``, not ``0.conv1``)."""
        chains = [s for s in body.stmts if isinstance(s, ast.Chain)]
        if len(chains) != 1 or len(chains[0].elements) != 1:
            return None
        call = chains[0].elements[0]
        if not isinstance(call, ast.OpCall) or call.body is not None or lookup(call.name) is not None:
            return None
        try:
            target = self.find_callable(call, ctx)
        except ArchError:
            return None
        return chains[0] if isinstance(target, tuple) and isinstance(target[0], ast.BlockDef) else None

    def chain(self, chain: ast.Chain, x: str, scope: Scope, ctx: FileCtx, env: Env) -> str:
        for i, el in enumerate(chain.elements):
            if isinstance(el, ast.Ref):
                if i:
                    raise ArchError(f"a reference like @{el.path} can only start a chain", el.span,
                                    "start a new line with it, or pass it as an argument: crop(@label)")
                x = self.resolve(el, scope, env)
            else:
                x = self.element(el, x, scope, ctx, env)
        return x

    # --------------------------------------------------------------- elements
    def element(self, el, x: str, scope: Scope, ctx: FileCtx, env: Env) -> str:
        self.step(el.span)
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise LimitError(f"the spec nests deeper than {MAX_NESTING} levels (groups, repeats, merges, blocks, "
                             "if and for inside one another)", el.span,
                             "flatten the nesting; if a block calls itself, give the recursion an end")
        try:
            return self._element(el, x, scope, ctx, env)
        finally:
            self.nesting -= 1

    def _element(self, el, x: str, scope: Scope, ctx: FileCtx, env: Env) -> str:
        label = None
        if isinstance(el, ast.Labeled):
            label, el = self.label(el.label, env), el.unit
            if isinstance(el, ast.Ref):
                raise ArchError("a reference cannot be labelled", el.span)
            if isinstance(el, (ast.If, ast.For)):
                kind = "an if" if isinstance(el, ast.If) else "a for"
                group = label if label.isidentifier() else f'"{label}"'
                raise ArchError(f"{kind} cannot be labelled: its body runs in place", el.span,
                                f"label the elements inside, or wrap it in a group: {group} {{ ... }}")
        if isinstance(el, ast.If):
            return self.if_into(el, x, scope, ctx, env)
        if isinstance(el, ast.For):
            return self.for_into(el, x, scope, ctx, env)
        if isinstance(el, ast.Repeat):
            count = self.count(el, env)
            if count > 1:
                self.bound.start(self.nesting)
                nodes, steps = self.bound.chain(el.chain, ctx, env)
                self.expect("the repeat", nodes, steps, count, el.span, "lower the repeat counts")
            if label is None:
                for _ in range(count):
                    x = self.chain(el.chain, x, scope, ctx, env)
                return x
            sub = scope.child(scope.name(label, el.span))
            out = self.repeat_into(el, count, x, sub, ctx, env)
        else:
            out = self.opcall(el, label, x, scope, ctx, env)
        if label is not None:
            self.labels[scope.full(label)] = out
        return out

    def label(self, label: str | ast.Template, env: Env) -> str:
        """A label as written, or a quoted one with its ``{expr}`` parts filled in: "denselayer{i}"."""
        if isinstance(label, str):
            return label
        text = "".join(p if isinstance(p, str) else _label_part(evaluate(p, env), p.span) for p in label.parts)
        if not text or not all(part.isidentifier() or part.isdigit() for part in text.split(".")) or "." in text:
            raise ArgumentError(f"label \"{text}\" is not a name", label.span,
                                "a label is letters, digits and _ (\"denselayer{i}\" with i = 1 gives denselayer1)")
        return text

    def if_into(self, el: ast.If, x: str, scope: Scope, ctx: FileCtx, env: Env) -> str:
        body = el.then if truth(evaluate(el.cond, env), el.cond.span) else el.otherwise
        if body is None:
            return x
        return self.body(body, x, scope, ctx, env, self.on_input)

    def for_into(self, el: ast.For, x: str, scope: Scope, ctx: FileCtx, env: Env) -> str:
        items = evaluate(el.items, env)
        if not isinstance(items, tuple):
            raise ArgumentError(f"for runs over a tuple or a range, not {shown(items)}", el.items.span,
                                "for c in (64, 128, 256) { ... } or for i in range(1, n + 1) { ... }")
        if len(items) > 1:
            unknown = env.child()
            for name in el.names:
                unknown.set(name, UNKNOWN, el.span)
            self.bound.start(self.nesting)
            nodes, steps = self.bound.body(el.body, ctx, unknown)
            self.expect("the loop", nodes, steps + 1, len(items), el.span, "shorten the loop")
        for item in items:
            self.step(el.span)
            local = env.child()
            if len(el.names) == 1:
                local.set(el.names[0], item, el.span)
            else:
                if not isinstance(item, tuple) or len(item) != len(el.names):
                    raise ArgumentError(f"for {', '.join(el.names)} needs items of {len(el.names)} values, "
                                        f"got {shown(item)}", el.items.span,
                                        "write each item as a tuple: for c, n in ((64, 2), (128, 3)) { ... }")
                for name, value in zip(el.names, item):
                    local.set(name, value, el.span)
            x = self.body(el.body, x, scope, ctx, local, self.on_input)
        return x

    def count(self, rep: ast.Repeat, env: Env) -> int:
        if rep.count is None:
            return 1
        n = evaluate(rep.count, env)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ArgumentError(f"a repeat count must be a positive integer, got {shown(n)}", rep.count.span)
        if n > MAX_NODES:
            raise LimitError(f"repeat count {n:,} would expand past {MAX_NODES:,} nodes", rep.count.span,
                             "lower the repeat count")
        return n

    def repeat_into(self, rep: ast.Repeat, count: int, x: str, sub: Scope, ctx: FileCtx, env: Env) -> str:
        """A labelled repeat: iteration i is named ``label.i`` (torchvision's ``layer1.0``)."""
        # a single op, block, group or repeat is the iteration itself (layer1.0.conv1); a labelled element,
        # an if or a for gets an iteration scope of its own (layer1.0.x)
        single = len(rep.chain.elements) == 1 and isinstance(rep.chain.elements[0], (ast.OpCall, ast.Repeat))
        for i in range(count):
            if single:
                x = self.element(ast.Labeled(str(i), rep.chain.elements[0], rep.span), x, sub, ctx, env)
            else:
                it = sub.child(sub.name(None, rep.span))
                x = self.chain(rep.chain, x, it, ctx, env)
        return x

    def opcall(self, call: ast.OpCall, label: str | None, x: str, scope: Scope, ctx: FileCtx, env: Env) -> str:
        if call.body is not None:
            found = lookup(call.name)
            if found and found[0].body:
                if label is None and found[0].body == "branches" and _all_labelled(call) \
                        and not isinstance(scope, _Reuse):
                    # every branch names its layers: they join the enclosing group, like a residual's
                    # body (Inception-ResNet's `residual { concat { branch0: ... } - conv2d: ... }`)
                    sub = _Transparent(scope, scope.full(scope.name(None, call.span)))
                else:
                    sub = scope.child(scope.name(label, call.span))
                return self.merge_into(call, found[0], x, sub, ctx, env)
            if found:
                raise ArgumentError(f"{found[0].name} takes no {{ ... }} body", call.span,
                                    "only concat, add and residual have branches; a group needs a new name")
            if call.has_call or call.dash or call.slash:
                raise ArgumentError(f"group '{call.name}' takes no arguments", call.span,
                                    "write a parameterised `block` to pass arguments")
            name = scope.name(label if label else call.name, call.span)
            out = self.group_into(call.body, x, scope.child(name), ctx, env)
            self.labels[scope.full(name)] = out
            return out
        target = self.find_callable(call, ctx)
        if isinstance(target, tuple) and isinstance(target[0], ast.BlockDef):
            sub = scope.child(scope.name(label, call.span))
            return self.block_into(target[0], target[1], call, x, sub, env)
        if isinstance(target, tuple) and isinstance(target[0], ast.NetworkDef):
            sub = scope.child(scope.name(label, call.span))
            return self.network_into(target[0], target[1], call, x, sub, env)
        cls, preset = target
        name = scope.full(scope.name(label, call.span))
        return self.op_node(cls, preset, call, name, x, scope, env)

    def find_callable(self, call: ast.OpCall, ctx: FileCtx):
        name = call.name
        if "." in name:
            alias, _, rest = name.partition(".")
            if alias in ctx.imports and rest in ctx.imports[alias].blocks:
                return ctx.imports[alias].blocks[rest], ctx.imports[alias]
            if alias in ctx.imports and rest in ctx.imports[alias].networks:
                return ctx.imports[alias].networks[rest], ctx.imports[alias]
        elif name in ctx.blocks:
            return ctx.blocks[name], ctx
        elif name in ctx.imports:
            imp = ctx.imports[name]
            return main_network(imp, call.span), imp
        found = lookup(name)
        if found is None:
            known = list(REGISTRY) + [a for c in REGISTRY.values() for a in c.aliases] + list(ctx.blocks) \
                + list(ctx.imports) + [f"{a}.{b}" for a, f in ctx.imports.items() for b in f.blocks]
            raise UnknownNameError("op or block" if ctx.blocks or ctx.imports else "op", name, known, call.span,
                                   shorthand_hint(name))
        return found

    # ----------------------------------------------------------------- ops
    def op_node(self, cls: type[Op], preset: dict, call: ast.OpCall, name: str, x: str, scope: Scope,
                env: Env) -> str:
        values = dict(preset)
        spans: dict[str, Span] = {}
        extra_inputs: list[str] = []
        positional = list(call.args)
        if cls.variadic and positional:
            vals = [evaluate(a, env) for a in positional]
            values[cls.positional[0]] = vals[0] if len(vals) == 1 else tuple(vals)
            positional = []
        if len(positional) > len(cls.positional):
            n = len(cls.positional)
            takes = ("takes no positional arguments" if n == 0 else
                     f"takes at most {n} positional argument{'s' if n > 1 else ''} ({', '.join(cls.positional)})")
            raise ArgumentError(f"{cls.name} {takes}, got {len(positional)}", positional[n].span,
                                f"its arguments are: {', '.join(cls.Params.model_fields)}; pass them by keyword"
                                if cls.Params.model_fields else f"{cls.name} takes no arguments")
        for field_name, arg in zip(cls.positional, positional):
            values[field_name] = self.arg(cls, field_name, arg, env, scope, extra_inputs)
            spans[field_name] = arg.span
        for kw in call.kwargs:
            key = kwarg_name(cls, kw.name)
            if key not in cls.Params.model_fields:
                raise ArgumentError(f"{cls.name} takes no argument '{kw.name}'", kw.span, kwarg_hint(cls, kw.name))
            spans[key] = kw.span
            if key in values and key not in preset:
                raise ArgumentError(f"{cls.name} got '{key}' twice", kw.span)
            values[key] = self.arg(cls, key, kw.value, env, scope, extra_inputs)
        for part, attr in ((call.dash, "dash"), (call.slash, "slash")):
            if part is None:
                continue
            key = getattr(cls, attr)
            if key is None:
                sign = "-N" if attr == "dash" else "/N"
                raise ArgumentError(f"{cls.name} takes no {sign} shorthand", part.span,
                                    f"write {cls.name}(...) with keywords instead")
            values[key] = evaluate(part, env)
            spans[key] = part.span
        bare_fc = False
        for key, var in cls.var_defaults.items():
            if key not in values:
                values[key] = env.get(var, call.span)
                bare_fc = bare_fc or key == cls.classes_field
        missing = [r for r in cls.refs if r not in values]
        if missing:
            raise ArgumentError(f"{cls.name} needs a reference: {cls.name}(@label)", call.span)
        op = self.make_op(cls, values, call.span, spans)
        for key in cls.refs:  # crop(@a) takes any node; unpool(@pool5) only a max-pool with indices
            target = self.g.nodes[extra_inputs[cls.refs.index(key)]]["op"]
            try:
                op.check_ref(key, target)
            except OpProblem as err:
                raise ArgumentError(err.message, spans.get(key, call.span), err.hint) from None
        if cls.ref_source:
            extra_inputs += [self.g.nodes[i]["inputs"][0] for i in list(extra_inputs)]
        node = self.add_node(name, op, [x, *extra_inputs], call.span)
        if bare_fc:
            self.bare_fc.append(node)
        return node

    def arg(self, cls, key, expr, env, scope, extra_inputs):
        if isinstance(expr, ast.Ref):
            if key not in cls.refs:
                raise ArgumentError(f"'{key}' of {cls.name} is not a reference", expr.span)
            extra_inputs.append(self.resolve(expr, scope, env))
            return self.ref_path(expr, env)
        if key in cls.refs:
            shown = expr.name if isinstance(expr, ast.Var) else "label"
            raise ArgumentError(f"'{key}' of {cls.name} takes a reference to a label", expr.span,
                                f"write {cls.name}(@{shown})")
        # a bare word is a value (p=same, mode=bilinear) only where the argument takes words;
        # elsewhere it is a variable, so a typo gets "unknown variable ... did you mean"
        try:
            return evaluate(expr, env, symbols=takes_word(cls, key))
        except UnknownNameError as err:
            if err.hint is None and isinstance(expr, ast.Var) and err.name == expr.name:
                raise UnknownNameError("variable", expr.name, (), expr.span,
                                       f"'{key}' of {cls.name} takes a number; a bare name is a variable, "
                                       f"defined with `{expr.name} = ...`") from None
            raise

    # ----------------------------------------------------------- containers
    def group_into(self, body: ast.Body, x: str, sub: Scope, ctx: FileCtx, env: Env) -> str:
        """A group's or block's body. When it comes down to one merge, group or block (after its
        assignments, and after an ``if`` has chosen its branch), that element shares the scope."""
        local = env.child()
        while True:
            content = [s for s in body.stmts if not isinstance(s, ast.Assign)]
            if not (len(content) == 1 and isinstance(content[0], ast.Chain) and len(content[0].elements) == 1):
                return self.body(body, x, sub, ctx, env)
            for stmt in body.stmts:
                self.step(stmt.span)  # counted as _statements would, so that the Bound stays a lower bound
                if isinstance(stmt, ast.Assign):
                    local.set(stmt.name, evaluate(stmt.value, local), stmt.span)
            el = content[0].elements[0]
            self.step(el.span)
            if isinstance(el, ast.If):
                chosen = el.then if truth(evaluate(el.cond, local), el.cond.span) else el.otherwise
                if chosen is None:
                    return x
                body, env, local = chosen, local, local.child()
                continue
            single = _single_scoped(ast.Body((content[0],)))
            if single is None:
                return self.body(body, x, sub, ctx, env)
            return self.opcall(single, None, x, _Reuse(sub), ctx, local)

    def block_into(self, block: ast.BlockDef, bctx: FileCtx, call: ast.OpCall, x: str, sub: Scope,
                   env: Env) -> str:
        if call.dash or call.slash or call.body:
            raise ArgumentError(f"block '{block.name}' is called with arguments: {block.name}(...)", call.span)
        local = bind_params(block.name, block.params, call, bctx.env, env)
        self.bound.start(self.nesting)
        nodes, steps = self.bound.body(block.body, bctx, local)
        self.expect(f"the call of block '{block.name}'", nodes, steps, None, call.span,
                    "a block that calls itself more than once per level grows exponentially; lower its depth")
        self.enter(call.span)
        try:
            return self.group_into(block.body, x, sub, bctx, local)
        finally:
            self.depth -= 1

    def enter(self, span: Span) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise LimitError(f"blocks nest deeper than {MAX_DEPTH} levels (does a block call itself?)", span,
                             "a block may not call itself")

    def merge_into(self, call: ast.OpCall, cls: type[Op], x: str, sub: Scope, ctx: FileCtx, env: Env) -> str:
        _no_twice(cls.name, call.kwargs)
        values = {kw.name: evaluate(kw.value, env, symbols=True) for kw in call.kwargs}
        if call.args or call.dash or call.slash:
            raise ArgumentError(f"{cls.name} takes keyword arguments only", call.span)
        op = self.make_op(cls, values, call.span)
        if cls.body == "residual":
            return self.residual_into(call, op, x, sub, ctx, env)
        if call.shortcut is not None:
            raise ArgumentError(f"only residual takes a shortcut body, not {cls.name}", call.span)
        stmts = [s for s in call.body.stmts if isinstance(s, ast.Chain)]
        if len(stmts) < 2:
            raise ArgumentError(f"{cls.name} needs at least two branches, one per line", call.span,
                                "a branch that is the input itself is written `identity`")
        outs = [self.branch(s, i, x, sub, ctx, env) for i, s in enumerate(stmts, start=1)]
        return self.add_node(sub.path, op, outs, call.span)

    def branch(self, chain: ast.Chain, i: int, x: str, sub: Scope, ctx: FileCtx, env: Env,
               name: str | None = None) -> str:
        """Branch i: labelled elements live in the merge's scope; an unlabelled branch is ``branch{i}``."""
        name = name or f"branch{i}"
        if any(isinstance(e, ast.Labeled) for e in chain.elements):
            return self.chain(chain, x, sub, ctx, env)
        units = [e for e in chain.elements if not isinstance(e, ast.Ref)]
        start = self.resolve(chain.elements[0], sub, env) if isinstance(chain.elements[0], ast.Ref) else x
        if len(units) == 0:
            return start
        if len(units) == 1 and _is_group(units[0]):  # `branch1 { ... }` keeps its own name
            return self.element(units[0], start, sub, ctx, env)
        if len(units) == 1 and not isinstance(units[0], (ast.Repeat, ast.If, ast.For)):
            return self.element(ast.Labeled(name, units[0], chain.span), start, sub, ctx, env)
        inner = sub.child(sub.name(name, chain.span))
        return self.chain(ast.Chain(tuple(units), chain.span), start, inner, ctx, env)

    def residual_into(self, call: ast.OpCall, op: Op, x: str, sub: Scope, ctx: FileCtx, env: Env) -> str:
        y = self.body(call.body, x, sub, ctx, env)
        if y == x:
            raise ArgumentError("residual needs a body", call.span)
        if call.shortcut is not None:
            chains = [s for s in call.shortcut.stmts if isinstance(s, ast.Chain)]
            if len(chains) != 1:
                raise ArgumentError("a shortcut is one chain", call.span)
            sc = self.branch(chains[0], 0, x, sub, ctx, env, name="downsample")
        else:
            proj = self.make_op(Projection, {"bn": op.p.proj == "conv_bn"}, call.span)
            sc = self.add_node(sub.full(sub.name("downsample", call.span)), proj, [x, y], call.span)
        return self.add_node(sub.path, op, [y, sc], call.span)

    def network_into(self, net: ast.NetworkDef, nctx: FileCtx, call: ast.OpCall, x: str, sub: Scope,
                     env: Env) -> str:
        """An imported network used as a backbone; ``upto=@label`` cuts it after that label."""
        upto = None
        overrides = {}
        _no_twice(f"network '{net.name}'", call.kwargs)
        for kw in call.kwargs:
            if kw.name == "upto":
                if not isinstance(kw.value, ast.Ref):
                    raise ArgumentError("upto takes a label: upto=@pool5", kw.span)
                upto = kw.value
            else:
                overrides[kw.name] = (evaluate(kw.value, env, symbols=True), kw.span)
        if call.args or call.dash or call.slash:
            raise ArgumentError(f"network '{net.name}' takes keyword arguments only (variables, upto=@label)",
                                call.span)
        pending = {}
        if overrides:  # the file's variables, seen by its blocks too: its assignments run again
            for stmt in nctx.spec.top.stmts:
                self.step(stmt.span)
            nctx, pending = with_overrides(nctx, overrides, net)
        local = nctx.env.child()
        self.enter(call.span)
        before = set(self.g)
        saved_pending, self.pending = self.pending, pending
        try:
            saved = self.bare_fc
            self.bare_fc = []
            out = self.body(net.body, x, sub, nctx, local, on_input=lambda stmt, e: x, network=True)
            resolve_bare_fc(self, [out], local)
            self.bare_fc = saved
        finally:
            self.depth -= 1
            self.pending = saved_pending
        if upto is not None:
            out = self.resolve(upto, sub)
            keep = ancestors(self.g, out) | {out}
            drop = [n for n in self.g if n not in before and n not in keep]
            self.g.remove_nodes_from(drop)
            self.labels = {k: v for k, v in self.labels.items() if v in self.g}
        return out

    # ------------------------------------------------------------ references
    def ref_path(self, ref: ast.Ref, env: Env | None) -> str:
        """The path a reference names: as written, or ``@"pool{s}"`` with its parts filled in."""
        if ref.template is None or env is None:
            return ref.path
        text = "".join(p if isinstance(p, str) else _label_part(evaluate(p, env), p.span)
                       for p in ref.template.parts)
        if not all(part.isidentifier() or part.isdigit() for part in text.split(".")):
            raise ArgumentError(f'@"{text}" is not a path of names', ref.span, 'write @"pool{s}" or @"layer{i}.0"')
        return text

    def resolve(self, ref: ast.Ref, scope: Scope, env: Env | None = None) -> str:
        path = self.ref_path(ref, env)
        prefix = scope.path
        while True:
            key = f"{prefix}.{path}" if prefix else path
            if key in self.labels:
                return self.labels[key]
            if key in self.g:
                return key
            if not prefix:
                break
            prefix = prefix.rpartition(".")[0]
        tails = [k for k in self.labels if k.endswith("." + path)]
        if not tails:  # an unlabelled layer by the end of its path: @regression_head.module_list.0
            nodes = [k for k in self.g if k.endswith("." + path)]
            if len(nodes) == 1:
                return nodes[0]
            tails = nodes
        if len(tails) == 1:
            return self.labels[tails[0]]
        if len(tails) > 1:
            raise ArchError(f"@{path} is ambiguous: it could be {', '.join('@' + t for t in sorted(tails))}",
                            ref.span, "write the full path")
        later = "" if self.labels else " (no label is defined before it)"
        inside = [k[len(scope.path) + 1:] for k in self.labels if scope.path and k.startswith(scope.path + ".")]
        last = [k.rpartition(".")[2] for k in self.labels]  # @pool5 finds features.pool5 when unique
        raise UnknownNameError("label", "@" + path, ["@" + k for k in [*self.labels, *inside, *last]], ref.span,
                               None if self.labels else f"a reference names a label defined earlier{later}")


def _no_twice(what: str, kwargs: tuple[ast.Kwarg, ...]) -> None:
    seen = set()
    for kw in kwargs:
        if kw.name in seen:
            raise ArgumentError(f"{what} got '{kw.name}' twice", kw.span)
        seen.add(kw.name)


def _all_labelled(call: ast.OpCall) -> bool:
    """Whether every branch of a merge body names its layers (has a label in it, or is a group)."""
    chains = [st for st in call.body.stmts if isinstance(st, ast.Chain)]
    return bool(chains) and all(any(isinstance(e, ast.Labeled) or _is_group(e) for e in c.elements)
                                for c in chains)


def _is_group(el) -> bool:
    """``name { ... }``: a braced element that is neither a merge nor a library op."""
    return isinstance(el, ast.OpCall) and el.body is not None and lookup(el.name) is None


def _label_part(value, span: Span) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ArgumentError(f"a label part must be an integer or a word, got {shown(value)}", span)
    return str(value)


def _single_scoped(body: ast.Body) -> ast.OpCall | None:
    """The body's only element when it is a merge (concat, add, residual, mean), else None: a group or
    block whose whole body is one merge is that merge (``layer1 { residual { ... } }`` names the
    residual ``layer1``). A group inside a group keeps both names (``head { cls { ... } }``)."""
    chains = [s for s in body.stmts if isinstance(s, ast.Chain)]
    if len(chains) != 1 or len(body.stmts) != 1 or len(chains[0].elements) != 1:
        return None
    el = chains[0].elements[0]
    if not (isinstance(el, ast.OpCall) and el.body is not None):
        return None
    found = lookup(el.name)
    return el if found is not None and found[0].body else None


def resolve_bare_fc(el: Elaborator, outs: list[str], env: Env) -> None:
    """A bare ``FC`` that is the last learnable layer before an output gets ``classes`` outputs."""
    for out in outs:
        node = out
        while node in el.g:
            op = el.g.nodes[node]["op"]
            if node in el.bare_fc:
                values = op.p.model_dump() | {type(op).classes_field: env.get("classes", el.g.nodes[node]["span"])}
                el.g.nodes[node]["op"] = el.make_op(type(op), values, el.g.nodes[node]["span"])
                break
            inputs = el.g.nodes[node]["inputs"]
            if op.learnable or len(inputs) != 1:
                break
            node = inputs[0]
    el.bare_fc = []


# ------------------------------------------------------------- the size of an expansion, before it runs
UNKNOWN = type("Unknown", (), {"__repr__": lambda self: "<unknown>"})()  # a value only the expansion will know


class Bound:
    """A lower bound on the nodes and steps an element expands to, computed from the AST without
    expanding it, so that ``[conv3-8]x1000000000``, ``[[conv]x1000]x1000``, two nested
    ``for i in range(100000)`` or a block that calls itself twice per level are refused at once.

    A value that depends on a loop variable (or cannot be evaluated) is UNKNOWN, and counts as
    the least it could be: a repeat count 1, an ``if`` the smaller of its branches, a loop's body
    its least over all items. An imported network counts nothing (``upto=`` may cut it). So the
    bound never exceeds what the expansion really builds: a valid spec is never refused."""

    WORK = 20_000  # elements looked at per estimate; past it the bound stops growing (still a lower bound)

    def __init__(self):
        self.memo: dict[tuple, tuple[int, int]] = {}
        self.active: set[tuple] = set()
        self.work = 0
        self.depth = 0

    def start(self, nesting: int) -> None:
        """Before an estimate: a fresh work budget; the depth the expansion already stands at."""
        self.work, self.depth = 0, nesting

    def value(self, expr, env: Env) -> Any:
        """The expression's value, or UNKNOWN when it uses an unknown value or does not evaluate."""
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Var) and env.lookup(node.name)[1] is UNKNOWN:
                return UNKNOWN
            for name in ("left", "right", "operand", "cond", "then", "otherwise", "target", "index"):
                child = getattr(node, name, None)
                if child is not None:
                    stack.append(child)
            stack.extend(getattr(node, "items", ()) or ())
            stack.extend(getattr(node, "args", ()) or ())
        try:
            return evaluate(expr, env)
        except (ArchError, RecursionError):
            return UNKNOWN

    def body(self, body: ast.Body, ctx: FileCtx, env: Env) -> tuple[int, int]:
        env = env.child()
        nodes = steps = 0
        for stmt in body.stmts:
            steps += 1
            if isinstance(stmt, ast.Assign):
                env.set(stmt.name, self.value(stmt.value, env), stmt.span)
            elif isinstance(stmt, ast.Chain):
                n, s = self.chain(stmt, ctx, env)
                nodes, steps = nodes + n, steps + s
        return nodes, steps

    def chains(self, body: ast.Body, ctx: FileCtx, env: Env) -> tuple[int, int]:
        return _sum(self.chain(stmt, ctx, env) for stmt in body.stmts if isinstance(stmt, ast.Chain))

    def chain(self, chain: ast.Chain, ctx: FileCtx, env: Env) -> tuple[int, int]:
        return _sum(self.element(el, ctx, env) for el in chain.elements)

    def element(self, el, ctx: FileCtx, env: Env) -> tuple[int, int]:
        if isinstance(el, ast.Ref):
            return 0, 0  # a chain that starts from a reference: no node, no step
        self.work += 1
        if self.work > self.WORK or self.depth > MAX_NESTING:
            return 0, 0
        self.depth += 1
        try:
            n, s = self._element(el.unit if isinstance(el, ast.Labeled) else el, ctx, env)
        finally:
            self.depth -= 1
        return n, s + 1

    def _element(self, el, ctx: FileCtx, env: Env) -> tuple[int, int]:
        if isinstance(el, ast.Repeat):
            count = self.value(el.count, env) if el.count is not None else 1
            count = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1
            n, s = self.chain(el.chain, ctx, env)
            return count * n, count * s
        if isinstance(el, ast.If):
            cond = self.value(el.cond, env)
            if cond is not UNKNOWN:
                try:
                    body = el.then if truth(cond, el.cond.span) else el.otherwise
                except ArchError:
                    return 0, 0
                return self.body(body, ctx, env) if body is not None else (0, 0)
            then = self.body(el.then, ctx, env)
            other = self.body(el.otherwise, ctx, env) if el.otherwise is not None else (0, 0)
            return min(then[0], other[0]), min(then[1], other[1])
        if isinstance(el, ast.For):
            items = self.value(el.items, env)
            if not isinstance(items, tuple) or not items:
                return 0, 0
            local = env.child()
            for name in el.names:
                local.set(name, UNKNOWN, el.span)
            n, s = self.body(el.body, ctx, local)
            return len(items) * n, len(items) * (s + 1)
        if not isinstance(el, ast.OpCall):
            return 0, 0  # a reference
        if el.body is not None:
            found = lookup(el.name)
            kind = found[0].body if found else "group"
            if kind == "branches":  # a branch per line, each a chain (no statement steps)
                n, s = self.chains(el.body, ctx, env)
                return n + 1, s
            n, s = self.body(el.body, ctx, env)
            if kind == "residual":
                sc = self.chains(el.shortcut, ctx, env) if el.shortcut is not None else (1, 0)
                return n + sc[0] + 1, s + sc[1]
            return n, s
        if "." not in el.name and el.name in ctx.blocks:
            return self.block(ctx.blocks[el.name], ctx, el, env)
        alias, _, rest = el.name.partition(".")
        if rest and alias in ctx.imports and rest in ctx.imports[alias].blocks:
            return self.block(ctx.imports[alias].blocks[rest], ctx.imports[alias], el, env)
        return (1, 0) if lookup(el.name) is not None else (0, 0)  # an op; an imported network may be cut

    def block(self, block: ast.BlockDef, bctx: FileCtx, call: ast.OpCall, env: Env) -> tuple[int, int]:
        local = bctx.env.child()
        given = {p.name: self.value(a, env) for p, a in zip(block.params, call.args)}
        given.update((kw.name, self.value(kw.value, env)) for kw in call.kwargs)
        for p in block.params:
            value = given[p.name] if p.name in given else self.value(p.default, local) if p.default else UNKNOWN
            local.set(p.name, value, p.span)
        key = _memo_key(block, bctx, local)
        if key in self.memo:
            return self.memo[key]
        if key is not None and key in self.active:
            return 0, 0  # it calls itself with the same arguments: the expansion reports that
        self.active.add(key)
        try:
            out = self.body(block.body, bctx, local)
        finally:
            self.active.discard(key)
        if key is not None and self.work <= self.WORK:  # a bound cut short by the budget is not kept
            self.memo[key] = out
        return out


def _memo_key(block: ast.BlockDef, bctx: FileCtx, local: Env) -> tuple | None:
    """The key a block's bound is remembered by: the block, its file's variables and its arguments;
    None when the arguments are large (hashing them on every call would cost more than the bound)
    or unhashable."""
    args = tuple(local.values.get(p.name) for p in block.params)
    if size(args, MEMO_ARGS) > MEMO_ARGS:
        return None
    try:
        key = (id(block), id(bctx.env), args)
        hash(key)
    except TypeError:
        return None
    return key


MEMO_ARGS = 1_000  # elements of a block's arguments past which its bound is not remembered


def _sum(bounds) -> tuple[int, int]:
    """(nodes, steps) pairs added up."""
    nodes = steps = 0
    for n, s in bounds:
        nodes, steps = nodes + n, steps + s
    return nodes, steps


# ------------------------------------------------------------------ the stage
def elaborate(ctx: FileCtx, network: str | None = None, input_shape: tuple[int, ...] | None = None) -> Graph:
    """Build the graph of one network of a loaded file."""
    net = main_network(ctx, None, network)
    g = Graph(name=net.name, file=ctx.spec.path)
    el = Elaborator(g)
    el.steps = ctx.steps  # loading the files was the first part of the work
    reset_work(ctx.values)

    def on_input(stmt: ast.InputStmt | None, env: Env) -> str:
        if INPUT in g:
            raise ArchError("the network declares its input twice", stmt.span if stmt else net.span)
        span = stmt.span if stmt else net.span
        dims = input_shape or (tuple(evaluate(d, env) for d in stmt.dims) if stmt else None)
        if not dims:
            raise ArchError(f"network '{net.name}' has no input shape", span,
                            "declare one (`input 3x224x224`) or pass --input 3x224x224")
        if any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in dims):
            raise ShapeError(f"input sizes must be positive integers, got {dims}", span)
        el.add_node(INPUT, el.make_op(Input, {"shape": tuple(dims)}, span), [], span)
        return INPUT

    el.pending = dict(ctx.pending)
    try:
        out = el.body(net.body, None, Scope(""), ctx, ctx.env, on_input, network=True)
    except RecursionError:  # a backstop: MAX_NESTING and the parser's limits keep this from happening
        raise LimitError("the spec nests too deeply to expand", net.span,
                         "flatten the nesting of groups, repeats and blocks") from None
    for name in el.pending:  # set from outside, but neither the file nor this network defines it
        own = [st.name for st in net.body.stmts if isinstance(st, ast.Assign)]
        raise UnknownNameError("variable", name, [*ctx.env.names(), *own], net.span,
                               f"network '{net.name}' does not define '{name}' (another network of the file does)")
    if out is None or len(g) == 1:
        raise ArchError(f"network '{net.name}' has no layers", net.span)
    outputs = _outputs(el, out)
    resolve_bare_fc(el, list(outputs.values()), ctx.env)
    _check_sinks(g, outputs)
    g.graph["outputs"] = outputs
    g.graph["named_outputs"] = el.outputs_stmt is not None  # an `output` line: the model returns a dict
    return g


def _outputs(el: Elaborator, last: str) -> dict[str, str]:
    stmt = el.outputs_stmt
    if stmt is None:
        return {"output": last}
    outputs = {}
    for item in stmt.items:
        name = item.alias or item.path
        if name in outputs:
            raise ArchError(f"output '{name}' is listed twice", item.span)
        outputs[name] = el.resolve(ast.Ref(item.path, item.span), Scope(""))
    return outputs


def _check_sinks(g: Graph, outputs: dict[str, str]) -> None:
    used = set(outputs.values())
    for node in g:
        if g.out_degree(node) == 0 and node not in used:
            raise ArchError(f"the chain ending at '{node}' leads nowhere", g.nodes[node]["span"],
                            _sink_hint(g, node, outputs))


def _sink_hint(g: Graph, node: str, outputs: dict[str, str]) -> str:
    """`scores: gap - fc-10` with `output scores`: the label names the gap, so the fc leads nowhere."""
    span = g.nodes[node]["span"]
    back = node
    while len(g.nodes[back]["inputs"]) == 1:  # walk back along this line's chain
        back = g.nodes[back]["inputs"][0]
        if (g.nodes[back]["span"].file, g.nodes[back]["span"].line) != (span.file, span.line):
            break
        for name, target in outputs.items():
            if target == back:
                return (f"output '{name}' is only the {g.nodes[back]['op'].name} it labels: a label names one "
                        "element, not the rest of its chain; put the label on the chain's last layer")
    return "list it in `output`, or remove it"
