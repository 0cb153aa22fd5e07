"""Containers, for the elaborator: groups, block calls, merges with their branches, residuals with their
shortcuts, and imported networks used as backbones (``upto=@label`` cuts them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    from .elaborate import Elaborator


from ..errors import ArchError, ArgumentError, LimitError, Span
from ..ir.graph import ancestors
from ..limits import MAX_DEPTH
from ..ops import Op, lookup
from ..ops.merge import Projection
from . import ast
from .args import bind_params
from .eval import Env, evaluate, truth
from .files import FileCtx, with_overrides
from .naming import Scope, _Reuse


class Containers:
    """The part of :class:`~archdsl.lang.elaborate.Elaborator` that expands what holds other elements."""

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

    def block_into(self, block: ast.BlockDef, bctx: FileCtx, call: ast.OpCall, x: str, sub: Scope, env: Env) -> str:
        if call.dash or call.slash or call.body:
            raise ArgumentError(f"block '{block.name}' is called with arguments: {block.name}(...)", call.span)
        local = bind_params(block.name, block.params, call, bctx.env, env)
        self.bound.start(self.nesting)
        nodes, steps = self.bound.body(block.body, bctx, local)
        self.expect(
            f"the call of block '{block.name}'",
            nodes,
            steps,
            None,
            call.span,
            "a block that calls itself more than once per level grows exponentially; lower its depth",
        )
        self.enter(call.span)
        try:
            return self.group_into(block.body, x, sub, bctx, local)
        finally:
            self.depth -= 1

    def enter(self, span: Span) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise LimitError(
                f"blocks nest deeper than {MAX_DEPTH} levels (does a block call itself?)",
                span,
                "a block may not call itself",
            )

    def merge_into(self, call: ast.OpCall, cls: type[Op], x: str, sub: Scope, ctx: FileCtx, env: Env) -> str:
        _no_twice(cls.name, call.kwargs)
        values = {kw.name: evaluate(kw.value, env, symbols=True) for kw in call.kwargs}
        if call.args or call.dash or call.slash:
            raise ArgumentError(f"{cls.name} takes keyword arguments only", call.span)
        op = self.make_op(cls, values, call.span, {kw.name: kw.span for kw in call.kwargs})
        if cls.body == "residual":
            return self.residual_into(call, op, x, sub, ctx, env)
        if call.shortcut is not None:
            raise ArgumentError(f"only residual takes a shortcut body, not {cls.name}", call.span)
        stmts = [s for s in call.body.stmts if isinstance(s, ast.Chain)]
        if len(stmts) < 2:
            raise ArgumentError(
                f"{cls.name} needs at least two branches, one per line",
                call.span,
                "a branch that is the input itself is written `identity`",
            )
        outs = [self.branch(s, i, x, sub, ctx, env) for i, s in enumerate(stmts, start=1)]
        return self.add_node(sub.path, op, outs, call.span)

    def branch(
        self, chain: ast.Chain, i: int, x: str, sub: Scope, ctx: FileCtx, env: Env, name: str | None = None
    ) -> str:
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

    def network_into(self, net: ast.NetworkDef, nctx: FileCtx, call: ast.OpCall, x: str, sub: Scope, env: Env) -> str:
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
            raise ArgumentError(
                f"network '{net.name}' takes keyword arguments only (variables, upto=@label)", call.span
            )
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
            out = self.body(net.body, x, sub, nctx, local, on_input=_inlined_input(net, x), network=True)
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


def _no_twice(what: str, kwargs: tuple[ast.Kwarg, ...]) -> None:
    seen = set()
    for kw in kwargs:
        if kw.name in seen:
            raise ArgumentError(f"{what} got '{kw.name}' twice", kw.span)
        seen.add(kw.name)


def _all_labelled(call: ast.OpCall) -> bool:
    """Whether every branch of a merge body names its layers (has a label in it, or is a group)."""
    chains = [st for st in call.body.stmts if isinstance(st, ast.Chain)]
    return bool(chains) and all(any(isinstance(e, ast.Labeled) or _is_group(e) for e in c.elements) for c in chains)


def _is_group(el) -> bool:
    """``name { ... }``: a braced element that is neither a merge nor a library op."""
    return isinstance(el, ast.OpCall) and el.body is not None and lookup(el.name) is None


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
            op = el.g.nodes[node].op
            if node in el.bare_fc:
                values = op.p.model_dump() | {type(op).classes_field: env.get("classes", el.g.nodes[node].span)}
                el.g.nodes[node].op = el.make_op(type(op), values, el.g.nodes[node].span)
                break
            inputs = el.g.nodes[node].inputs
            if op.learnable or len(inputs) != 1:
                break
            node = inputs[0]
    el.bare_fc = []


def _inlined_input(net: ast.NetworkDef, x: str):
    """The input of a network used inside another: its first input is the chain it stands in; it cannot take
    a further one (``input boxes (R, 4)``), which only the network's own forward could be given."""
    seen: list[ast.InputStmt] = []

    def on_input(stmt: ast.InputStmt | None, env) -> str:
        if stmt is not None:
            seen.append(stmt)
            if len(seen) > 1 and stmt.name is None:
                raise ArchError("the network declares its input twice", stmt.span)
            if len(seen) > 1:
                raise ArchError(
                    f"network '{net.name}' takes a further input, '{stmt.name}': it cannot stand inside another "
                    "network, whose chain gives it one input only",
                    stmt.span,
                    "write its layers into this network, with the input declared here",
                )
        return x

    return on_input
