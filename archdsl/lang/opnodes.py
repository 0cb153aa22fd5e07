"""Op nodes and references, for the elaborator: an op call's arguments bound and checked (positional,
keyword, ``-N`` and ``/N`` shorthands, variables' defaults, ``@label`` references) into one node, and a
reference resolved to the node it names."""

from __future__ import annotations

from typing import Any

from ..errors import ArchError, ArgumentError, Span, UnknownNameError
from ..ops import Op, OpProblem
from . import ast
from .args import kwarg_hint, kwarg_name, takes_word
from .eval import Env, evaluate, shown
from .naming import Scope, is_name_part


class OpNodes:
    """The part of :class:`~archdsl.lang.elaborate.Elaborator` that makes op nodes and resolves references."""

    def op_node(self, cls: type[Op], preset: dict, call: ast.OpCall, name: str, x: str, scope: Scope, env: Env) -> str:
        """The node of an op call: its arguments bound and checked, its references resolved into inputs."""
        refs: dict[str, str] = {}  # ref field → the node it names
        values, spans, bare_fc = self.arguments(cls, preset, call, scope, env, refs)
        for key, node in cls.ref_defaults.items():  # proposals' image: the network's input unless given
            if key not in values and node in self.g:
                values[key], refs[key] = node, node
        missing = [r for r in cls.refs if r not in values]
        if missing:
            raise ArgumentError(f"{cls.name} needs a reference: {cls.name}(@label)", call.span)
        op = self.make_op(cls, values, call.span, spans)
        extra_inputs = [refs[key] for key in cls.refs]  # in the op's order, whatever the order written
        for key in cls.refs:  # crop(@a) takes any node; unpool(@pool5) only a max-pool with indices
            target = self.g.nodes[refs[key]].op
            try:
                op.check_ref(key, target)
            except OpProblem as err:
                raise ArgumentError(err.message, spans.get(key, call.span), err.hint) from None
        if cls.ref_source:
            extra_inputs += [self.g.nodes[i].inputs[0] for i in list(extra_inputs)]
        node = self.add_node(name, op, [x, *extra_inputs], call.span)
        if bare_fc:
            self.bare_fc.append(node)
        return node

    def arguments(
        self, cls: type[Op], preset: dict, call: ast.OpCall, scope: Scope, env: Env, refs: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Span], bool]:
        """(values, where each was written, whether a bare FC takes ``classes``): positional arguments, keywords,
        the ``-N`` and ``/N`` shorthands, then the variables' defaults; references go into ``refs``."""
        values = dict(preset)
        spans: dict[str, Span] = {}
        positional = list(call.args)
        if cls.variadic and positional:
            vals = [evaluate(a, env) for a in positional]
            values[cls.positional[0]] = vals[0] if len(vals) == 1 else tuple(vals)
            positional = []
        if len(positional) > len(cls.positional):
            _too_many(cls, positional)
        for field_name, arg in zip(cls.positional, positional):
            values[field_name] = self.arg(cls, field_name, arg, env, scope, refs)
            spans[field_name] = arg.span
        for kw in call.kwargs:
            key = kwarg_name(cls, kw.name)
            if key not in cls.Params.model_fields:
                raise ArgumentError(f"{cls.name} takes no argument '{kw.name}'", kw.span, kwarg_hint(cls, kw.name))
            spans[key] = kw.span
            if key in values and key not in preset:
                raise ArgumentError(f"{cls.name} got '{key}' twice", kw.span)
            values[key] = self.arg(cls, key, kw.value, env, scope, refs)
        for part, attr in ((call.dash, "dash"), (call.slash, "slash")):
            if part is None:
                continue
            key = getattr(cls, attr)
            if key is None:
                sign = "-N" if attr == "dash" else "/N"
                raise ArgumentError(
                    f"{cls.name} takes no {sign} shorthand", part.span, f"write {cls.name}(...) with keywords instead"
                )
            values[key] = evaluate(part, env)
            spans[key] = part.span
        bare_fc = False
        for key, var in cls.var_defaults.items():
            if key not in values:
                values[key] = env.get(var, call.span)
                bare_fc = bare_fc or key == cls.classes_field
        return values, spans, bare_fc

    def arg(self, cls: type[Op], key: str, expr: ast.Expr, env: Env, scope: Scope, refs: dict[str, str]) -> Any:
        if isinstance(expr, ast.Ref):
            if key not in cls.refs:
                raise ArgumentError(f"'{key}' of {cls.name} is not a reference", expr.span)
            refs[key] = self.resolve(expr, scope, env)
            return self.ref_path(expr, env)
        if key in cls.refs:
            shown = expr.name if isinstance(expr, ast.Var) else "label"
            raise ArgumentError(
                f"'{key}' of {cls.name} takes a reference to a label", expr.span, f"write {cls.name}(@{shown})"
            )
        # a bare word is a value (p=same, mode=bilinear) only where the argument takes words;
        # elsewhere it is a variable, so a typo gets "unknown variable ... did you mean"
        try:
            return evaluate(expr, env, symbols=takes_word(cls, key))
        except UnknownNameError as err:
            if err.hint is None and isinstance(expr, ast.Var) and err.name == expr.name:
                raise UnknownNameError(
                    "variable",
                    expr.name,
                    (),
                    expr.span,
                    f"'{key}' of {cls.name} takes a number; a bare name is a variable, "
                    f"defined with `{expr.name} = ...`",
                ) from None
            raise

    def ref_path(self, ref: ast.Ref, env: Env | None) -> str:
        """The path a reference names: as written, or ``@"pool{s}"`` with its parts filled in."""
        if ref.template is None or env is None:
            return ref.path
        text = "".join(p if isinstance(p, str) else _label_part(evaluate(p, env), p.span) for p in ref.template.parts)
        if not all(is_name_part(part) for part in text.split(".")):
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
            raise ArchError(
                f"@{path} is ambiguous: it could be {', '.join('@' + t for t in sorted(tails))}",
                ref.span,
                "write the full path",
            )
        later = "" if self.labels else " (no label is defined before it)"
        inside = [k[len(scope.path) + 1 :] for k in self.labels if scope.path and k.startswith(scope.path + ".")]
        last = [k.rpartition(".")[2] for k in self.labels]  # @pool5 finds features.pool5 when unique
        raise UnknownNameError(
            "label",
            "@" + path,
            ["@" + k for k in [*self.labels, *inside, *last]],
            ref.span,
            None if self.labels else f"a reference names a label defined earlier{later}",
        )


def _label_part(value, span: Span) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ArgumentError(f"a label part must be an integer or a word, got {shown(value)}", span)
    return str(value)


def _too_many(cls: type[Op], positional: list) -> None:
    n = len(cls.positional)
    takes = (
        "takes no positional arguments"
        if n == 0
        else f"takes at most {n} positional argument{'s' if n > 1 else ''} ({', '.join(cls.positional)})"
    )
    raise ArgumentError(
        f"{cls.name} {takes}, got {len(positional)}",
        positional[n].span,
        f"its arguments are: {', '.join(cls.Params.model_fields)}; pass them by keyword"
        if cls.Params.model_fields
        else f"{cls.name} takes no arguments",
    )
