"""The size of an expansion, before it runs: a lower bound on the nodes and steps an element expands to."""

from __future__ import annotations

from typing import Any

from ..errors import ArchError
from ..limits import MAX_NESTING, MEMO_ARGS
from ..ops import lookup
from . import ast
from .eval import Env, evaluate, size, truth
from .files import FileCtx

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

    def value(self, expr: ast.Expr, env: Env) -> Any:
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

    def element(self, el: ast.Element, ctx: FileCtx, env: Env) -> tuple[int, int]:
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


def _sum(bounds) -> tuple[int, int]:
    """(nodes, steps) pairs added up."""
    nodes = steps = 0
    for n, s in bounds:
        nodes, steps = nodes + n, steps + s
    return nodes, steps
