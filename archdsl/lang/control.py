"""Control flow, for the elaborator: ``if`` chooses a branch, ``for`` runs its body once per item, and a
repeat (``[conv3-64 - relu]x2``) runs its chain ``count`` times; each sized by the bound before it runs."""

from __future__ import annotations

from ..errors import ArgumentError, LimitError
from ..limits import MAX_NODES
from . import ast
from .bound import UNKNOWN
from .eval import Env, evaluate, shown, truth
from .files import FileCtx
from .naming import Scope


class Control:
    """The part of :class:`~archdsl.lang.elaborate.Elaborator` that runs ``if``, ``for`` and repeats."""

    def if_into(self, el: ast.If, x: str, scope: Scope, ctx: FileCtx, env: Env) -> str:
        body = el.then if truth(evaluate(el.cond, env), el.cond.span) else el.otherwise
        if body is None:
            return x
        return self.body(body, x, scope, ctx, env, self.on_input)

    def for_into(self, el: ast.For, x: str, scope: Scope, ctx: FileCtx, env: Env) -> str:
        items = evaluate(el.items, env)
        if not isinstance(items, tuple):
            raise ArgumentError(
                f"for runs over a tuple or a range, not {shown(items)}",
                el.items.span,
                "for c in (64, 128, 256) { ... } or for i in range(1, n + 1) { ... }",
            )
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
                    raise ArgumentError(
                        f"for {', '.join(el.names)} needs items of {len(el.names)} values, got {shown(item)}",
                        el.items.span,
                        "write each item as a tuple: for c, n in ((64, 2), (128, 3)) { ... }",
                    )
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
            raise LimitError(
                f"repeat count {n:,} would expand past {MAX_NODES:,} nodes", rep.count.span, "lower the repeat count"
            )
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
