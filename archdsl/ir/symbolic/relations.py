"""Deciding a relation between sizes for every positive integer value of one name: writing
``H = M*q + r`` for each residue ``r`` modulo the strides' product ``M`` turns every floor into a linear
function of ``q`` (:func:`truth_set`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from functools import cache

import sympy as sp

from ...limits import MAX_MODULUS, MAX_SLOW_MODULUS, MAX_START, MAX_THRESHOLD
from ..sizes import SizeSet, merge_runs

_Q = sp.Symbol("q", integer=True, nonnegative=True)

# ------------------------------------------------------------------ deciding a relation

_OPS = {
    "lt": lambda v: v < 0,
    "le": lambda v: v <= 0,
    "gt": lambda v: v > 0,
    "ge": lambda v: v >= 0,
    "eq": lambda v: v == 0,
    "ne": lambda v: v != 0,
}
_REL = {"lt": sp.Lt, "le": sp.Le, "gt": sp.Gt, "ge": sp.Ge, "eq": sp.Eq, "ne": sp.Ne}
_NOT = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt", "eq": "ne", "ne": "eq"}


def _holds(op: str, v: sp.Expr) -> bool | None:
    if not v.is_Rational:
        return None
    return bool(_OPS[op](v))


def _no_mod(e: sp.Expr) -> sp.Expr:
    return e.replace(sp.Mod, lambda a, b: a - b * sp.floor(a / b)) if e.has(sp.Mod) else e


def _linear_part(e: sp.Expr) -> sp.Expr:
    """``e`` with every floor and ceiling replaced by its argument."""
    return e.replace(lambda a: isinstance(a, (sp.floor, sp.ceiling)), lambda a: a.args[0])


def _linear_in_floors(e: sp.Expr, sym: sp.Symbol) -> bool:
    """Whether ``e`` is a linear combination of ``sym`` and floors (``H/2 + floor(H/4)``), not a ratio of them
    (``H / ceiling(H/2)``, whose linear part is a constant while it is not)."""
    atoms = sorted(e.atoms(sp.floor, sp.ceiling), key=str)
    stand = [sp.Dummy() for _ in atoms]
    flat = e.xreplace(dict(zip(atoms, stand)))
    return all(flat.is_polynomial(x) and sp.degree(flat, x) <= 1 for x in (sym, *stand) if flat.has(x))


def _modulus(e: sp.Expr, sym: sp.Symbol) -> int | None:
    """The M such that writing ``sym = M*q + r`` turns every floor of a linear argument into a linear
    function of q: the lcm of the denominators of the arguments' slopes."""
    m = 1
    for atom in e.atoms(sp.floor, sp.ceiling):
        arg = _linear_part(atom.args[0])
        if not arg.has(sym):
            continue
        slope = sp.diff(arg, sym)
        if slope.free_symbols:
            continue  # a ratio of sizes: solved for large q by _eventual
        if not slope.is_Rational:
            return None
        m = math.lcm(m, int(slope.q))
    return m


def _eventual(atom: sp.Expr, q: sp.Symbol) -> tuple[sp.Expr, int] | None:
    """floor/ceiling of a ratio of linear functions of q is constant from some q on: (value, from);
    of a linear function with an integer slope, that slope times q plus a constant (from 0)."""
    neg = isinstance(atom, sp.ceiling)
    arg = sp.cancel(-atom.args[0] if neg else atom.args[0])  # ceiling(x) = -floor(-x)
    num, den = sp.fraction(arg)
    if not (num.is_polynomial(q) and den.is_polynomial(q)):
        return None
    pn, pd = sp.Poly(num, q), sp.Poly(den, q)
    if pd.degree() == 0 and pn.degree() <= 1:
        slope = sp.Rational(pn.coeff_monomial(q)) / sp.Rational(pd.coeff_monomial(1))
        if not slope.is_Integer:
            return None
        value = slope * q + sp.floor(sp.Rational(pn.coeff_monomial(1)) / sp.Rational(pd.coeff_monomial(1)))
        return (-value if neg else value), 0
    if pn.degree() > 1 or pd.degree() != 1:
        return None
    a1, a0 = (sp.Rational(c) for c in (pn.coeff_monomial(q), pn.coeff_monomial(1)))
    b1, b0 = (sp.Rational(c) for c in (pd.coeff_monomial(q), pd.coeff_monomial(1)))
    if b1 < 0:
        a1, a0, b1, b0 = -a1, -a0, -b1, -b0
    start = max(0, math.floor(-b0 / b1) + 1)  # past the pole the ratio is monotone, tending to a1/b1
    limit, c = a1 / b1, a0 * b1 - a1 * b0
    if c == 0:
        value, frm = math.floor(limit), start
    elif c > 0:  # from above: floor(limit) once below floor(limit) + 1
        value = math.floor(limit)
        k, m = a1 - (value + 1) * b1, (value + 1) * b0 - a0  # need k*q < m, k < 0
        frm = max(start, math.floor(m / k) + 1)
    else:  # from below: ceil(limit) - 1 once at least that
        value = math.ceil(limit) - 1
        k, m = a1 - value * b1, value * b0 - a0  # need k*q >= m, k > 0
        frm = max(start, math.ceil(m / k))
    return (-value if neg else value), frm


def _q_truth(op: str, e: sp.Expr, q: sp.Symbol, most: int = MAX_THRESHOLD) -> tuple[int, tuple, bool] | None:
    """Where ``e op 0`` holds for integer q >= 0: (Q, the q < Q where it holds, whether it holds for q >= Q);
    None when Q would be past ``most``."""
    tail, q0 = e, 0
    for _ in range(16):
        if tail.is_polynomial(q) and sp.Poly(tail, q).degree() <= 1:
            break
        progress = False
        for atom in tail.atoms(sp.floor, sp.ceiling):
            if not atom.has(q) or any(b.has(q) for b in atom.args[0].atoms(sp.floor, sp.ceiling)):
                continue  # innermost first
            found = _eventual(atom, q)
            if found is None:
                return None
            tail, q0, progress = tail.subs(atom, found[0]), max(q0, found[1]), True
        if not progress:
            return None
    else:
        return None
    poly = sp.Poly(tail, q)
    a, b = sp.Rational(poly.coeff_monomial(q)), sp.Rational(poly.coeff_monomial(1))
    q1 = q0 if a == 0 else max(q0, math.floor(-b / a) + 1)
    if q1 > min(most, MAX_THRESHOLD):
        return None
    at = _exact(e, q) if q0 else None
    small = set()
    for k in range(q1):
        if k < q0 and at is not None:
            try:
                ok = bool(_OPS[op](at(k)))
            except ZeroDivisionError:  # at a pole of a ratio: as sympy's zoo, undecided
                return None
        else:
            ok = _holds(op, e.subs(q, k) if k < q0 else a * k + b)
        if ok is None:
            return None
        if ok:
            small.add(k)
    return q1, merge_runs((k, k + 1) for k in small), bool(_OPS[op](a * q1 + b))


def _line_truth(op: str, a: Fraction, b: Fraction, most: int) -> tuple[int, tuple, bool] | None:
    """Where ``a*q + b op 0`` for integer q >= 0, as :func:`_q_truth` gives it (the q's as runs); None when
    it changes only past q = ``most``."""
    if a == 0:
        return 0, (), bool(_OPS[op](b))
    root = -b / a  # below it the line has the sign of -a, at it 0, past it the sign of a
    q1 = max(0, math.floor(root) + 1)
    if q1 > most:
        return None
    below = _OPS[op](-a)
    if root.denominator == 1 and 0 <= root < q1 and bool(_OPS[op](0)) != below:  # the root itself differs
        k = int(root)
        runs = [(0, k), (k + 1, q1)] if below else [(k, k + 1)]
    else:
        runs = [(0, q1)] if below else []
    return q1, merge_runs(runs), bool(_OPS[op](a))


def _exact(e: sp.Expr, sym: sp.Symbol) -> Callable[[int], Fraction] | None:
    """``e`` as a Python function of an integer value of ``sym``, in exact fractions (no sympy per value);
    None for anything but sums, products, integer powers, floors and ceilings."""
    if e == sym:
        return Fraction
    if e.is_Rational:
        c = Fraction(int(e.p), int(e.q))
        return lambda n: c
    parts = [_exact(a, sym) for a in e.args]
    if not e.args or None in parts:
        return None
    if isinstance(e, sp.Add):
        return lambda n: sum(f(n) for f in parts)
    if isinstance(e, sp.Mul):
        return lambda n: math.prod(f(n) for f in parts)
    if isinstance(e, sp.Pow) and e.exp.is_Integer:
        k = int(e.exp)
        return lambda n: parts[0](n) ** k
    if isinstance(e, (sp.floor, sp.ceiling)):
        rnd = math.floor if isinstance(e, sp.floor) else math.ceil
        return lambda n: Fraction(rnd(parts[0](n)))
    return None


def _linear_residues(op: str, diff: sp.Expr, sym: sp.Symbol, m: int) -> list | None:
    """:func:`truth_set`'s residues without sympy per residue, when every floor's argument has a constant
    slope: with ``sym = m*q + r`` each floor is then exactly linear in q (its slope times m is an integer),
    so ``diff = a*q + diff(r)`` for every q >= 0, with the same ``a`` for every r. None when that does not
    apply; [] when it does but the relation settles past MAX_START (left unsolved)."""
    if any(
        not _linear_in_floors(f.args[0], sym) or not sp.diff(_linear_part(f.args[0]), sym).is_Rational
        for f in diff.atoms(sp.floor, sp.ceiling)
    ):
        return None
    line = _linear_part(diff)
    if not line.is_polynomial(sym) or sp.degree(line, sym) > 1:
        return None
    at = _exact(diff, sym)
    if at is None:
        return None
    slope = sp.diff(line, sym) * m
    a = Fraction(int(slope.p), int(slope.q))
    found = []
    for r in range(1, m + 1):
        res = _line_truth(op, a, at(r), MAX_START // m)
        if res is None:
            return []  # it settles too late to list: unsolved, without trying sympy on it
        found.append((r, *res))
    return found


def _residues(op: str, diff: sp.Expr, sym: sp.Symbol, m: int) -> list | None:
    """(r, Q, the q < Q where it holds, whether it holds from Q on) for each residue r of ``sym = m*q + r``,
    through sympy (floors whose argument's slope depends on the size: adaptive pooling's windows)."""
    if m > MAX_SLOW_MODULUS:
        return None
    found = []
    for r in range(1, m + 1):
        res = _q_truth(op, diff.subs(sym, m * _Q + r), _Q, MAX_START // m)
        if res is None:
            return None
        found.append((r, *res))
    return found


@cache
def truth_set(op: str, diff: sp.Expr, sym: sp.Symbol) -> SizeSet | None:
    """The positive integers ``sym`` for which ``diff <op> 0`` (op: lt, le, gt, ge, eq, ne), exactly;
    None when the relation is not of the kind solved here (not eventually linear on residue classes)."""
    diff = _no_mod(diff)
    m = _modulus(diff, sym)
    if m is None or m > MAX_MODULUS:
        return None
    found = _linear_residues(op, diff, sym, m)
    if found is None:
        found = _residues(op, diff, sym, m)
    if not found:
        return None
    start = max(m * q1 + r for r, q1, _, _ in found)
    if start > MAX_START:
        return None
    runs = []
    for r, q1, members, tail in found:  # below start: the listed q's, then the tail's up to start
        for lo, hi in members:
            if m == 1:
                runs.append((lo + r, hi + r))
            else:
                runs += [(m * k + r, m * k + r + 1) for k in range(lo, hi)]
        if tail:
            runs += [(q1 + r, start)] if m == 1 else [(n, n + 1) for n in range(m * q1 + r, start, m)]
    residues = frozenset(r % m for r, _, _, tail in found if tail)
    return SizeSet.listing(m, start, residues, runs=runs)
