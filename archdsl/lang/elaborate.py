"""Stage 2 — elaborate: AST → Graph.

Expands repeats, instantiates blocks, evaluates variables, inlines imported
networks, resolves label references, and names every node by its place in
the spec (``features.0``, ``layer1.0.conv1``, ``inception3a.branch2.1``).
The result is a :class:`~archdsl.ir.graph.Graph` whose nodes carry the op (with resolved
parameters), the ordered input list, and the source span.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any

from ..errors import ArchError, ArgumentError, LimitError, ShapeError, Span, UnknownNameError, did_you_mean, listed
from ..ir.graph import Graph, Node
from ..limits import MAX_NESTING, MAX_NODES, MAX_STEPS
from ..ops import NO_SUCH_MERGES, REGISTRY, Op, OpProblem, lookup, merges
from ..ops.linear import Input
from . import ast
from .args import shorthand_hint
from .bound import Bound
from .containers import Containers, _all_labelled, resolve_bare_fc
from .control import Control
from .eval import Env, evaluate, reset_work
from .files import FileCtx, main_network
from .naming import Scope, _Reuse, _Transparent, hides_a_global, is_name_part
from .opnodes import OpNodes, _label_part

INPUT = "input"


class Elaborator(Containers, Control, OpNodes):
    """Expands one network's body into the graph: statements and chains here; op nodes and references in
    :class:`~archdsl.lang.opnodes.OpNodes`; if, for and repeats in :class:`~archdsl.lang.control.Control`;
    groups, blocks, merges and imported networks in :class:`~archdsl.lang.containers.Containers`."""

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
            raise self.too_large(
                "steps",
                "this step",
                1,
                None,
                span,
                "lower the repeat counts or the lengths of the loops",
                self.steps - 1,
            )

    def expect(self, what: str, nodes: int, steps: int, times: int | None, span: Span, hint: str) -> None:
        """Refuse, before expanding it, an element whose expansion would pass MAX_NODES or MAX_STEPS
        (``nodes`` and ``steps`` are lower bounds for one iteration, ``times`` the iterations)."""
        n, s = nodes * (times or 1), steps * (times or 1)
        if len(self.g) + n > MAX_NODES:
            raise self.too_large("nodes", what, n, times, span, hint)
        if self.steps + s > MAX_STEPS:
            raise self.too_large("steps", what, s, times, span, hint)

    def too_large(
        self, unit: str, what: str, total: int, times: int | None, span: Span, hint: str, done: int | None = None
    ) -> LimitError:
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
        self.g.add_node(name, Node(op, list(inputs), span))
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
    def body(
        self,
        body: ast.Body,
        x: str | None,
        scope: Scope,
        ctx: FileCtx,
        env: Env,
        on_input: Callable[[ast.InputStmt, Env], str | None] | None = None,
        network: bool = False,
    ) -> str | None:
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
                    raise ArchError(
                        "'input' belongs at the start of a network",
                        stmt.span,
                        "a block or group takes its input from the chain it stands in",
                    )
                x = on_input(stmt, env) or x
            elif isinstance(stmt, ast.OutputStmt):
                if on_input is None:
                    raise ArchError(
                        "'output' belongs at the top level of a network",
                        stmt.span,
                        "list the outputs by label after the network's chains",
                    )
                if scope.path == "":  # an imported network's outputs are not this network's
                    if self.outputs_stmt is not None:
                        raise ArchError(
                            "the network lists its outputs twice",
                            stmt.span,
                            "list them all in one line: output a, b, c",
                        )
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
                    raise ArchError(
                        f"a reference like @{el.path} can only start a chain",
                        el.span,
                        "start a new line with it, or pass it as an argument: crop(@label)",
                    )
                x = self.resolve(el, scope, env)
            else:
                x = self.element(el, x, scope, ctx, env)
        return x

    # --------------------------------------------------------------- elements
    def element(self, el: ast.Element, x: str, scope: Scope, ctx: FileCtx, env: Env) -> str:
        self.step(el.span)
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise LimitError(
                f"the spec nests deeper than {MAX_NESTING} levels (groups, repeats, merges, blocks, "
                "if and for inside one another)",
                el.span,
                "flatten the nesting; if a block calls itself, give the recursion an end",
            )
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
                raise ArchError(
                    f"{kind} cannot be labelled: its body runs in place",
                    el.span,
                    f"label the elements inside, or wrap it in a group: {group} {{ ... }}",
                )
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
        if not is_name_part(text):
            raise ArgumentError(
                f'label "{text}" is not a name',
                label.span,
                'a label is letters, digits, _ and - inside ("denselayer{i}" with i = 1 gives denselayer1; "block1-0")',
            )
        return text

    def opcall(self, call: ast.OpCall, label: str | None, x: str, scope: Scope, ctx: FileCtx, env: Env) -> str:
        if call.body is not None:
            found = lookup(call.name)
            if found and found[0].body:
                if (
                    label is None
                    and found[0].body == "branches"
                    and _all_labelled(call)
                    and not isinstance(scope, _Reuse)
                ):
                    # every branch names its layers: they join the enclosing group, like a residual's
                    # body (Inception-ResNet's `residual { concat { branch0: ... } - conv2d: ... }`)
                    sub = _Transparent(scope, scope.full(scope.name(None, call.span)))
                else:
                    sub = scope.child(scope.name(label, call.span))
                return self.merge_into(call, found[0], x, sub, ctx, env)
            quoted = f'"{call.name}" {{ ... }}'
            if found:
                raise ArgumentError(
                    f"{found[0].name} takes no {{ ... }} body",
                    call.span,
                    f"only {listed(merges())} take branches; to name a group {call.name}, quote it: {quoted}",
                )
            close = _merge_typo(call)
            if call.name.lower() in NO_SUCH_MERGES or close:
                what = f"did you mean {close}? " if close else ""
                raise ArgumentError(
                    f"'{call.name}' is not an op of archdsl, and a braced name is a group, whose lines run one "
                    "after another",
                    call.span,
                    f"{what}the ops that take branches are {listed(merges())}; to name a group {call.name}, quote "
                    f"it: {quoted}",
                )
            if call.has_call or call.dash or call.slash:
                raise ArgumentError(
                    f"group '{call.name}' takes no arguments",
                    call.span,
                    "write a parameterised `block` to pass arguments",
                )
            name = scope.name(label if label else call.name, call.span)
            out = self.group_into(call.body, x, scope.child(name), ctx, env)
            self.labels[scope.full(name)] = out
            return out
        target = self.find_callable(call, ctx)
        if isinstance(target[0], type) and target[0].body:
            branches = "{ body }" if target[0].body == "residual" else "{ one branch per line }"
            raise ArgumentError(
                f"{target[0].name} takes its branches in braces", call.span, f"write {call.name} {branches}"
            )
        if isinstance(target, tuple) and isinstance(target[0], ast.BlockDef):
            sub = scope.child(scope.name(label, call.span))
            return self.block_into(target[0], target[1], call, x, sub, env)
        if isinstance(target, tuple) and isinstance(target[0], ast.NetworkDef):
            sub = scope.child(scope.name(label, call.span))
            return self.network_into(target[0], target[1], call, x, sub, env)
        cls, preset = target
        name = scope.full(scope.name(label, call.span))
        return self.op_node(cls, preset, call, name, x, scope, env)

    def find_callable(self, call: ast.OpCall, ctx: FileCtx) -> tuple:
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
            known = (
                list(REGISTRY)
                + [a for c in REGISTRY.values() for a in c.aliases]
                + list(ctx.blocks)
                + list(ctx.imports)
                + [f"{a}.{b}" for a, f in ctx.imports.items() for b in f.blocks]
            )
            raise UnknownNameError(
                "op or block" if ctx.blocks or ctx.imports else "op", name, known, call.span, shorthand_hint(name)
            )
        return found


# ------------------------------------------------------------------ the stage
def elaborate(ctx: FileCtx, network: str | None = None, input_shape: tuple[int, ...] | None = None) -> Graph:
    """Build the graph of one network of a loaded file."""
    net = main_network(ctx, None, network)
    g = Graph(name=net.name, file=ctx.spec.path)
    el = Elaborator(g)
    el.steps = ctx.steps  # loading the files was the first part of the work
    reset_work(ctx.values)

    def on_input(stmt: ast.InputStmt | None, env: Env) -> str | None:
        """The input's node: the first input is the network's (node ``input``), the one its chains start from;
        a later, named one (``input boxes (R, 4)``) is another argument of the compiled forward, reached by
        its name (``roi_pool(@boxes)``): None, the chain goes on from where it was."""
        if INPUT in g:
            if stmt is None or stmt.name is None:
                raise ArchError(
                    "the network declares its input twice",
                    stmt.span if stmt else net.span,
                    "a network's further inputs have names: input boxes (R, 4)",
                )
            _more_input(el, stmt, _input_dims(tuple(evaluate(d, env) for d in stmt.dims), stmt.span))
            return None
        span = stmt.span if stmt else net.span
        dims = input_shape or (tuple(evaluate(d, env) for d in stmt.dims) if stmt else None)
        if not dims:
            raise ArchError(
                f"network '{net.name}' has no input shape",
                span,
                "declare one (`input 3x224x224`) or pass --input 3x224x224",
            )
        el.add_node(INPUT, el.make_op(Input, {"shape": _input_dims(dims, span)}, span), [], span)
        g.graph["input_names"] = {INPUT: "x"}
        if stmt is not None and stmt.name is not None:
            g.graph["input_names"][INPUT] = _input_name(el, stmt)
            el.labels[stmt.name] = INPUT
        return INPUT

    el.pending = dict(ctx.pending)
    try:
        out = el.body(net.body, None, Scope(""), ctx, ctx.env, on_input, network=True)
    except RecursionError:  # a backstop: MAX_NESTING and the parser's limits keep this from happening
        raise LimitError(
            "the spec nests too deeply to expand", net.span, "flatten the nesting of groups, repeats and blocks"
        ) from None
    # set from outside, but neither the file nor this network defines it
    for name in (n for n in el.pending if not ctx.env.lookup(n)[0]):
        own = [st.name for st in net.body.stmts if isinstance(st, ast.Assign)]
        raise UnknownNameError(
            "variable",
            name,
            [*ctx.env.names(), *own],
            net.span,
            f"network '{net.name}' does not define '{name}' (another network of the file does)",
        )
    if out is None or len(g) == 1:
        raise ArchError(f"network '{net.name}' has no layers", net.span)
    outputs = _outputs(el, out)
    resolve_bare_fc(el, list(outputs.values()), ctx.env)
    _check_sinks(g, outputs)
    g.graph["outputs"] = outputs
    g.graph["named_outputs"] = el.outputs_stmt is not None  # an `output` line: the model returns a dict
    return g


def _input_dims(dims: tuple, span: Span) -> tuple[int, ...]:
    if any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in dims):
        raise ShapeError(f"input sizes must be positive integers, got {dims}", span)
    return tuple(dims)


def _input_name(el: Elaborator, stmt: ast.InputStmt) -> str:
    """A named input's argument name in the compiled forward, checked."""
    name = stmt.name
    if hides_a_global(name):
        raise ArchError(
            f"an input cannot be named '{name}': the compiled forward reads '{name}' as Python's, and an argument "
            "of that name would hide it",
            stmt.span,
            f"rename it, e.g. '{name}_' or 'boxes'",
        )
    if keyword.iskeyword(name) or name in ("self", "x") or name in el.g.graph.get("input_names", {}).values():
        raise ArchError(
            f"an input cannot be named '{name}'",
            stmt.span,
            "it is the compiled forward's argument: not a Python keyword, 'self', 'x' or another input's name",
        )
    return name


def _more_input(el: Elaborator, stmt: ast.InputStmt, dims: tuple[int, ...]) -> None:
    """A further input of the network: its own node, named as written."""
    name = _input_name(el, stmt)
    el.add_node(name, el.make_op(Input, {"shape": dims}, stmt.span), [], stmt.span)
    el.g.graph["input_names"][name] = name


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
            raise ArchError(
                f"the chain ending at '{node}' leads nowhere", g.nodes[node].span, _sink_hint(g, node, outputs)
            )


def _sink_hint(g: Graph, node: str, outputs: dict[str, str]) -> str:
    """`scores: gap - fc-10` with `output scores`: the label names the gap, so the fc leads nowhere."""
    span = g.nodes[node].span
    back = node
    while len(g.nodes[back].inputs) == 1:  # walk back along this line's chain
        back = g.nodes[back].inputs[0]
        if (g.nodes[back].span.file, g.nodes[back].span.line) != (span.file, span.line):
            break
        for name, target in outputs.items():
            if target == back:
                return (
                    f"output '{name}' is only the {g.nodes[back].op.name} it labels: a label names one "
                    "element, not the rest of its chain; put the label on the chain's last layer"
                )
    return "list it in `output`, or remove it"


def _merge_typo(call: ast.OpCall) -> str | None:
    """The merge a braced name with branches (two lines or more) looks like a typo of (``cocnat``), else None;
    a merge's name with a number after it (``add1``, ``concat_2``) is a name on purpose."""
    if sum(isinstance(s, ast.Chain) for s in call.body.stmts) < 2 or call.name.rstrip("0123456789_") in merges():
        return None
    return did_you_mean(call.name, [*merges(), *(a for m in merges() for a in REGISTRY[m].aliases)], 0.8)
