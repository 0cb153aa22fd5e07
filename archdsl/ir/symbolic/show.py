"""Formulas in sizes as text: floors merged and written over one denominator."""

from __future__ import annotations

from typing import Any

import sympy as sp


def tidy(e: Any) -> Any:
    """Equivalent, simpler form: nested floors merged (``floor((floor(x) + n)/m) = floor((x + n)/m)``),
    ``-floor(-x)`` written ``ceiling(x)``."""
    if not isinstance(e, sp.Basic) or not e.args:
        return e
    e = e.func(*(tidy(a) for a in e.args))
    if isinstance(e, (sp.floor, sp.ceiling)):
        f, arg = type(e), e.args[0]
        if arg.could_extract_minus_sign():  # floor(-x) = -ceiling(x)
            g = sp.ceiling if f is sp.floor else sp.floor
            return -tidy(g(-arg))
        inner = [t for t in sp.Add.make_args(sp.expand(arg)) if t.has(f)]
        if len(inner) == 1:
            coeff, atom = inner[0].as_coeff_Mul()
            rest = sp.expand(arg - inner[0])
            if (
                isinstance(atom, f)
                and coeff.is_Rational
                and coeff > 0
                and (1 / coeff).is_Integer
                and rest.is_Rational
                and (rest / coeff).is_Integer
            ):
                return tidy(f((atom.args[0] + rest / coeff) * coeff))
    return e


def show(e: Any) -> str:
    """A formula as text: floors' arguments over one denominator, ``floor((H + 4)/16)``."""
    if not isinstance(e, sp.Basic):
        return str(e)
    e = e.replace(
        lambda a: isinstance(a, (sp.floor, sp.ceiling)), lambda a: type(a)(sp.together(a.args[0]), evaluate=False)
    )
    return sp.sstr(e)


def _show_rel(rel: sp.Basic) -> str:
    sign = {sp.Equality: "=", sp.Unequality: "!="}.get(type(rel))
    return f"{show(rel.lhs)} {sign} {show(rel.rhs)}" if sign else show(rel)


def show_shape(shape: tuple) -> str:
    parts = [show(d) for d in shape]
    return " x ".join(f"({p})" if any(c in p for c in " +-") and not p.lstrip("-").isalnum() else p for p in parts)
