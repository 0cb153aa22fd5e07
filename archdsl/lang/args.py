"""Arguments: keyword spellings, which arguments take words, hints, and binding a block's parameters."""

from __future__ import annotations

import re
from typing import Any, Literal, get_args, get_origin

from ..errors import ArgumentError, UnknownNameError, did_you_mean
from ..ops import ALIASES, Op
from ..ops.base import KWARG_ALIASES, SHORTHAND
from . import ast
from .eval import Env, evaluate


def kwarg_name(cls: type[Op], name: str) -> str:
    if name not in cls.Params.model_fields and KWARG_ALIASES.get(name) in cls.Params.model_fields:
        return KWARG_ALIASES[name]
    return name


def takes_word(cls: type[Op], key: str) -> bool:
    """Whether the op's argument ``key`` accepts a word (a str or Literal of strs, like p=same)."""

    def words(tp) -> bool:
        if tp is str:
            return True
        if get_origin(tp) is Literal:
            return any(isinstance(a, str) for a in get_args(tp))
        return any(words(a) for a in get_args(tp))

    field = cls.Params.model_fields.get(key)
    return field is not None and words(field.annotation)


def kwarg_hint(cls: type[Op], name: str) -> str:
    """'did you mean ...?' over an op's argument names and their accepted spellings."""
    fields = list(cls.Params.model_fields)
    spellings = fields + [a for a, f in KWARG_ALIASES.items() if f in fields]
    guess = did_you_mean(name, spellings)
    if guess:
        return f"did you mean '{guess}'?"
    return f"its arguments are: {', '.join(fields)}" if fields else f"{cls.name} takes no arguments"


def shorthand_hint(name: str) -> str | None:
    m = re.match(r"^([A-Za-z_]+?)(\d+)[xX×](\d+)$", name)  # conv3x3-64, as some slides write it
    if m and m.group(1).lower() in ALIASES:
        op, a, b = m.groups()
        return (
            f"write the kernel size once: {op}{a}-N for a {a}x{a} kernel"
            if a == b
            else f"write a {a}x{b} kernel as {op}(N, k=({a}, {b}))"
        )
    m = SHORTHAND.match(name)
    if m and m.group(1).lower() in ALIASES:
        return f"{m.group(1)} has no size shorthand; write {m.group(1)}(...) with arguments"
    return None


def bind_params(name: str, params: tuple[ast.Param, ...], call: ast.OpCall, defaults_env: Env, caller_env: Env) -> Env:
    """Bind a block's parameters: positional, then keywords, then defaults (evaluated in order)."""
    local = defaults_env.child()
    names = [p.name for p in params]
    if len(call.args) > len(params):
        raise ArgumentError(
            f"block '{name}' takes {len(params)} argument{'' if len(params) == 1 else 's'}"
            f"{' (' + ', '.join(names) + ')' if names else ''}, got {len(call.args)}",
            call.args[len(params)].span,
            f"call it as {name}({', '.join(names)})",
        )
    given: dict[str, Any] = {}
    for p, a in zip(params, call.args):
        given[p.name] = evaluate(a, caller_env)
    for kw in call.kwargs:
        if kw.name not in names:
            raise UnknownNameError(
                "argument",
                kw.name,
                names,
                kw.span,
                None if did_you_mean(kw.name, names) else f"call it as {name}({', '.join(names)})",
                where=f" of block '{name}'",
            )
        if kw.name in given:
            raise ArgumentError(f"block '{name}' got '{kw.name}' twice", kw.span)
        given[kw.name] = evaluate(kw.value, caller_env, symbols=True)
    for p in params:
        if p.name in given:
            local.set(p.name, given[p.name], p.span)
        elif p.default is not None:
            local.set(p.name, evaluate(p.default, local), p.span)
        else:
            raise ArgumentError(
                f"block '{name}' needs the argument '{p.name}'", call.span, f"call it as {name}({', '.join(names)})"
            )
    return local
