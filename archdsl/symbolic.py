"""Symbolic sizes: the ops' own shape rules run on sympy expressions in named input sizes.

``symbolic_report("unet", input="1xHxW")`` gives every layer's output shape as a formula in H
and W, the sizes for which the network is well formed (every rule's check passes), and the
sizes for which every strided window tiles its input and every centre crop is symmetric::

    >>> r = symbolic_report("conv3-8 - maxpool - conv(8, k=3, p=0)", input="3xHxW")
    >>> r.outputs["output"]
    (8, floor(H/2) - 2, floor(W/2) - 2)
    >>> r.valid
    (H >= 6) & (W >= 6)
    >>> r.exact_outputs["output"]
    (8, H/2 - 2, W/2 - 2)

How: there is no second set of shape formulas here. A size that depends on a name is a
:class:`Dim`, a sympy expression that the rules of ``archdsl/ops`` compute with as they do with
ints (``(n + 2*p - k) // s + 1`` gives ``floor(...)``). A comparison of sizes (``n < 1``, a crop
larger than its map, two branches that disagree) gives a :class:`Cond`; when a rule asks its
truth, it is decided exactly for every positive integer value (:func:`truth_set`: writing
``H = M*q + r`` for each residue ``r`` modulo the strides' product ``M`` turns every floor into a
linear function of ``q``). When the answer depends on the size the rule is run again for each
answer (a fork), so each run has a region of sizes where it holds: a run that raises marks its
region invalid, a run that returns gives the shape there. Every floor division by a constant
(``//`` in a rule) is recorded; it is exact where the numerator is a multiple of the divisor.

Sets of sizes are eventually periodic (:class:`SizeSet`) and are shown as congruences and
bounds (``H ≡ 12 (mod 16), H >= 188``) or as sympy booleans (``SizeSet.to_sympy``).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

import sympy as sp

from .errors import ArchError
from .ops import REGISTRY, OpProblem

__all__ = ["Dim", "SizeSet", "SymbolicResult", "format_result", "parse_input", "symbolic_report", "truth_set"]

MAX_MODULUS = 4096  # residues tried per relation; beyond it a relation is kept as it is (unsolved)
MAX_THRESHOLD = 100_000  # the largest q threshold solved by listing the values below it
MAX_START = 200_000  # sizes listed one by one below where a relation turns periodic; past it, unsolved
MAX_SLOW_MODULUS = 256  # residues tried through sympy (floors of ratios of sizes), each some milliseconds
MAX_RUNS = 256  # forks of one rule on one region
MAX_REGIMES = 64  # regions with different shapes alive at once
_Q = sp.Symbol("q", integer=True, nonnegative=True)

from .sizes import SizeSet, _residue_list, _runs, merge_runs  # noqa: E402,F401  (sets of sizes: no sympy there)

# ------------------------------------------------------------------ deciding a relation

_OPS = {"lt": lambda v: v < 0, "le": lambda v: v <= 0, "gt": lambda v: v > 0, "ge": lambda v: v >= 0,
        "eq": lambda v: v == 0, "ne": lambda v: v != 0}
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
    if any(not _linear_in_floors(f.args[0], sym) or not sp.diff(_linear_part(f.args[0]), sym).is_Rational
           for f in diff.atoms(sp.floor, sp.ceiling)):
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


# ------------------------------------------------------------------ regions and runs


@dataclass(frozen=True)
class Region:
    """A set of input sizes: one SizeSet per name, and relations that could not be solved (kept as sympy)."""

    sets: tuple = ()  # ((symbol, SizeSet), ...) sorted by name
    raw: tuple = ()  # sympy relations that also hold

    @classmethod
    def of(cls, symbols) -> Region:
        return cls(tuple((s, SizeSet.all()) for s in sorted(symbols, key=str)))

    def get(self, sym) -> SizeSet:
        return dict(self.sets).get(sym, SizeSet.all())

    def with_set(self, sym, s: SizeSet) -> Region:
        sets = dict(self.sets) | {sym: s}
        return Region(tuple(sorted(sets.items(), key=lambda kv: str(kv[0]))), self.raw)

    def __and__(self, other: Region) -> Region:
        out = self
        for sym, s in other.sets:
            out = out.with_set(sym, out.get(sym) & s)
        return Region(out.sets, tuple(dict.fromkeys(self.raw + other.raw)))

    @property
    def empty(self) -> bool:
        return any(s.empty for _, s in self.sets)

    def __contains__(self, values: dict) -> bool:
        by_name = {str(k): v for k, v in values.items()}
        for sym, s in self.sets:
            if by_name[str(sym)] not in s:
                return False
        subs = {sym: by_name[str(sym)] for sym, _ in self.sets}
        return all(bool(rel.subs(subs)) for rel in self.raw)

    def to_sympy(self) -> sp.Basic:
        return sp.And(*(s.to_sympy(sym) for sym, s in self.sets), *self.raw)

    def describe(self) -> str:
        if self.empty:
            return "never"
        parts = [s.describe(str(sym)) for sym, s in self.sets if not s.full]
        parts += [_show_rel(rel) for rel in self.raw]
        parts = [f"({p})" if " or " in p and len(parts) > 1 else p for p in parts]
        return "; ".join(parts) or "every size"


def relation(op: str, diff: sp.Expr) -> sp.Basic:
    """``diff <op> 0`` as a sympy relation with the terms on the side where they are positive (``H = W``)."""
    terms = sp.Add.make_args(sp.expand(diff))
    pos = sp.Add(*(t for t in terms if not t.could_extract_minus_sign()))
    neg = -sp.Add(*(t for t in terms if t.could_extract_minus_sign()))
    return _REL[op](pos, neg)


@cache
def _equalities(raw: tuple) -> dict:
    """Substitutions implied by the equations among ``raw``."""
    subs = {}
    for rel in raw:
        if isinstance(rel, sp.Equality):
            rel = rel.subs(subs)
            if rel is sp.true or rel is sp.false:
                continue
            for sym in sorted(rel.free_symbols, key=str):
                sol = sp.solve(rel, sym)
                if len(sol) == 1:
                    subs[sym] = sol[0]
                    break
    return subs


class _Run:
    """One run of a rule: the region it is in, the answers it takes at forks, the divisions it makes."""

    def __init__(self, region: Region, prefix: list[bool]):
        self.region, self.prefix = region, prefix
        self.choices: list[bool] = []
        self.alternatives: list[list[bool]] = []
        self.divisions: list[tuple[sp.Expr, int]] = []

    def decide(self, op: str, diff: sp.Expr) -> bool:
        if self.region.raw:  # sizes found equal earlier (H = W after an add of a map and its transpose)
            diff = sp.expand(diff.subs(_equalities(self.region.raw)))
        if diff.is_Number:
            return bool(_OPS[op](diff))
        syms = diff.free_symbols
        truth = truth_set(op, diff, next(iter(syms))) if len(syms) == 1 else None
        if truth is not None:
            sym = next(iter(syms))
            cur = self.region.get(sym)
            yes, no = cur & truth, cur - truth
            if no.empty:
                return True
            if yes.empty:
                return False
            branches = (self.region.with_set(sym, yes), self.region.with_set(sym, no))
        else:
            rel = relation(op, diff)
            if rel in (sp.true, sp.false):
                return bool(rel)
            branches = (Region(self.region.sets, self.region.raw + (rel,)),
                        Region(self.region.sets, self.region.raw + (relation(_NOT[op], diff),)))
        i = len(self.choices)
        if i < len(self.prefix):
            choice = self.prefix[i]
        else:
            choice = True
            self.alternatives.append(self.choices + [False])
        self.choices.append(choice)
        self.region = branches[0] if choice else branches[1]
        return choice


_RUN: _Run | None = None


def _e(v: Any) -> sp.Expr:
    if isinstance(v, Dim):
        return v.e
    if isinstance(v, bool):
        raise TypeError("a size is not a truth value")
    return sp.sympify(v)


class Cond:
    """The outcome of comparing sizes: true or false once a rule asks, decided in the current run."""

    __slots__ = ("op", "diff")

    def __init__(self, op: str, diff: sp.Expr):
        self.op, self.diff = op, diff

    def __bool__(self) -> bool:
        if _RUN is not None:
            return _RUN.decide(self.op, self.diff)
        rel = relation(self.op, self.diff)
        if rel in (sp.true, sp.false):
            return bool(rel)
        raise TypeError(f"cannot decide {rel} outside a symbolic run")

    def __repr__(self) -> str:
        return f"Cond({_REL[self.op](self.diff, 0, evaluate=False)})"


class Dim:
    """A size that depends on named input sizes: a sympy expression the ops' rules compute with."""

    __slots__ = ("e",)

    def __init__(self, e: sp.Expr):
        self.e = e

    @staticmethod
    def of(e: Any) -> Dim | int:
        """Wrap an expression; a plain int when it is a number."""
        e = sp.sympify(e)
        return int(e) if e.is_Integer else Dim(e)

    def __add__(self, o):
        return Dim.of(self.e + _e(o))

    __radd__ = __add__

    def __sub__(self, o):
        return Dim.of(self.e - _e(o))

    def __rsub__(self, o):
        return Dim.of(_e(o) - self.e)

    def __mul__(self, o):
        return Dim.of(self.e * _e(o))

    __rmul__ = __mul__

    def __neg__(self):
        return Dim.of(-self.e)

    def __pos__(self):
        return self

    def __truediv__(self, o):
        return Dim.of(self.e / _e(o))

    def __rtruediv__(self, o):
        return Dim.of(_e(o) / self.e)

    def __floordiv__(self, o):
        den = _e(o)
        if den == 1 and self.e.is_integer:  # a stride of 1: no floor (sympy takes ~1 ms to find that out)
            return self
        if den.is_Integer and den > 1 and _RUN is not None:
            _RUN.divisions.append((self.e, int(den)))  # exact where self.e is a multiple of den
        return Dim.of(sp.floor(self.e / den))

    def __rfloordiv__(self, o):
        return Dim.of(sp.floor(_e(o) / self.e))

    def __mod__(self, o):
        den = _e(o)
        return Dim.of(self.e - den * sp.floor(self.e / den))

    def __rmod__(self, o):
        num = _e(o)
        return Dim.of(num - self.e * sp.floor(num / self.e))

    def _cmp(self, op, o):
        return Cond(op, sp.expand(self.e - _e(o)))

    def __lt__(self, o):
        return self._cmp("lt", o)

    def __le__(self, o):
        return self._cmp("le", o)

    def __gt__(self, o):
        return self._cmp("gt", o)

    def __ge__(self, o):
        return self._cmp("ge", o)

    def __eq__(self, o):
        return self._cmp("eq", o)

    def __ne__(self, o):
        return self._cmp("ne", o)

    def __bool__(self):
        return bool(Cond("ne", self.e))

    def __hash__(self):
        return hash(self.e)

    def __int__(self):
        raise TypeError(f"size {self.e} depends on {', '.join(sorted(map(str, self.e.free_symbols)))}")

    def __str__(self):
        return show(self.e)

    __repr__ = __str__


@dataclass
class _Outcome:
    region: Region
    value: Any = None
    error: OpProblem | None = None
    divisions: list = field(default_factory=list)


def explore(fn: Callable[[], Any], region: Region) -> list[_Outcome]:
    """Run ``fn`` (a rule on Dims) once per way its undecided comparisons can go in ``region``."""
    global _RUN
    pending: list[list[bool]] = [[]]
    outcomes = []
    while pending:
        if len(outcomes) >= MAX_RUNS:
            raise ArchError(f"a shape rule forks more than {MAX_RUNS} ways on symbolic sizes", None)
        run = _Run(region, pending.pop())
        saved, _RUN = _RUN, run
        try:
            value = fn()
            outcomes.append(_Outcome(run.region, value=value, divisions=run.divisions))
        except OpProblem as err:
            outcomes.append(_Outcome(run.region, error=err))
        finally:
            _RUN = saved
        pending.extend(reversed(run.alternatives))
    return outcomes


# ------------------------------------------------------------------ presentation of formulas


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
            if isinstance(atom, f) and coeff.is_Rational and coeff > 0 and (1 / coeff).is_Integer \
                    and rest.is_Rational and (rest / coeff).is_Integer:
                return tidy(f((atom.args[0] + rest / coeff) * coeff))
    return e


def show(e: Any) -> str:
    """A formula as text: floors' arguments over one denominator, ``floor((H + 4)/16)``."""
    if not isinstance(e, sp.Basic):
        return str(e)
    e = e.replace(lambda a: isinstance(a, (sp.floor, sp.ceiling)),
                  lambda a: type(a)(sp.together(a.args[0]), evaluate=False))
    return sp.sstr(e)


def _show_rel(rel: sp.Basic) -> str:
    sign = {sp.Equality: "=", sp.Unequality: "!="}.get(type(rel))
    return f"{show(rel.lhs)} {sign} {show(rel.rhs)}" if sign else show(rel)


def show_shape(shape: tuple) -> str:
    parts = [show(d) for d in shape]
    return " x ".join(f"({p})" if any(c in p for c in " +-") and not p.lstrip("-").isalnum() else p for p in parts)


# ------------------------------------------------------------------ the walk over a network


@dataclass(frozen=True)
class Division:
    """A floor division by a constant in a node's rule: exact where ``numerator`` is a multiple of ``divisor``."""

    node: str
    op: str
    numerator: sp.Expr
    divisor: int

    @property
    def condition(self) -> sp.Basic:
        return sp.Eq(sp.Mod(self.numerator, self.divisor), 0)

    def exact(self) -> Region | None:
        """The sizes for which it is exact (None when the condition could not be solved)."""
        syms = self.numerator.free_symbols
        if len(syms) != 1:
            return None
        sym = next(iter(syms))
        s = truth_set("eq", self.numerator - self.divisor * sp.floor(self.numerator / self.divisor), sym)
        return None if s is None else Region(((sym, s),))


@dataclass
class Regime:
    """A region of input sizes where the network is well formed, with every node's shape there."""

    region: Region
    shapes: dict[str, tuple]  # node → output shape (sympy expressions)
    outputs: dict[str, tuple]
    divisions: list[Division]

    def exact_region(self) -> Region:
        """Where, besides, every recorded floor division is exact."""
        region = self.region
        for d in self.divisions:
            ex = d.exact()
            region = region & ex if ex is not None else Region(region.sets, region.raw + (d.condition,))
        return region

    def exact_shape(self, shape: tuple, region: Region | None = None) -> tuple | None:
        """``shape`` with every floor dropped (its argument is an integer where the divisions are exact),
        checked residue by residue on ``region``; None when it does not simplify so."""
        region = region if region is not None else self.exact_region()
        out = []
        for d in shape:
            if not isinstance(d, sp.Basic) or d.is_Number:
                out.append(d)
                continue
            flat = sp.expand(_linear_part(d))
            diff = sp.expand(d - flat)
            for sym in diff.free_symbols:
                s = truth_set("ne", diff, sym) if len(diff.free_symbols) == 1 else None
                if s is None or not (s & region.get(sym)).empty:
                    return None
            out.append(flat)
        return tuple(out)


@dataclass
class Failure:
    """Sizes for which a node's rule raises: where and why."""

    region: Region
    node: str
    op: str
    message: str  # the rule's message, with formulas
    rule: Any = field(default=None, repr=False)  # the op and its input shapes, to restate the message at a size
    inputs: list = field(default_factory=list, repr=False)

    def example(self) -> tuple[dict, str] | None:
        """A size of the region (the largest where it is bounded) and the rule's message there."""
        if self.region.raw or self.rule is None or self.region.empty:
            return None
        values = {sym: s.top for sym, s in self.region.sets if not s.residues}  # bounded: the largest
        floor_ = max(values.values(), default=1)
        for sym, s in self.region.sets:  # unbounded: the first at least as large (H = W where it can be)
            if s.residues:
                values[sym] = next(n for n in range(floor_, floor_ + s.start + 2 * s.period) if n in s)
        values = {sym: values[sym] for sym, _ in self.region.sets}
        ins = [tuple(int(_e(d).subs(values)) for d in shape) for shape in self.inputs]
        try:
            self.rule.infer(ins)
        except OpProblem as err:
            return values, err.message
        return None


@dataclass
class SymbolicResult:
    name: str
    input: tuple  # the input shape: ints and sympy symbols
    symbols: tuple
    regimes: list[Regime]
    failures: list[Failure]
    ops: dict[str, str]  # node → op name

    def _one(self) -> Regime:
        if len(self.regimes) != 1:
            raise ValueError(f"{self.name} has {len(self.regimes)} regimes of shapes; read .regimes")
        return self.regimes[0]

    @property
    def outputs(self) -> dict[str, tuple]:
        """Output name → shape formulas (a single regime)."""
        return self._one().outputs

    @property
    def shapes(self) -> dict[str, tuple]:
        return self._one().shapes

    @property
    def valid(self) -> sp.Basic:
        """The condition on the input sizes for the network to be well formed."""
        return sp.Or(*(r.region.to_sympy() for r in self.regimes))

    @property
    def exact(self) -> sp.Basic:
        """Well formed, every strided window tiling its input and every centre crop symmetric."""
        return sp.Or(*(r.exact_region().to_sympy() for r in self.regimes))

    @property
    def exact_outputs(self) -> dict[str, tuple] | None:
        """The output formulas where ``exact`` holds (floors gone), or None when they do not simplify."""
        reg = self._one()
        region = reg.exact_region()
        outs = {k: reg.exact_shape(v, region) for k, v in reg.outputs.items()}
        return None if any(v is None for v in outs.values()) else outs

    def _values(self, values: dict) -> dict:
        by_name = {str(k): v for k, v in values.items()}
        missing = [str(s) for s in self.symbols if str(s) not in by_name]
        if missing:
            raise TypeError(f"give a value for {', '.join(missing)}")
        return {s: by_name[str(s)] for s in self.symbols}

    def holds(self, **values: int) -> bool:
        """Whether the network is well formed at these sizes (``holds(H=572, W=572)``)."""
        v = self._values(values)
        return any(v in r.region for r in self.regimes)

    def is_exact(self, **values: int) -> bool:
        v = self._values(values)
        return any(v in r.exact_region() for r in self.regimes)

    def shape(self, node: str = "output", **values: int) -> tuple[int, ...]:
        """A node's (or output's) shape at these sizes."""
        v = self._values(values)
        for r in self.regimes:
            if v in r.region:
                shape = r.outputs.get(node) or r.shapes[node]
                return tuple(int(sp.sympify(d).subs(v)) for d in shape)
        raise ValueError(f"{self.name} is not well formed at {values}")


def parse_input(text: str | tuple | list) -> tuple:
    """``"3xHxW"`` → ``(3, H, W)`` with H, W positive integer sympy symbols."""
    parts = list(text) if isinstance(text, (tuple, list)) else re.split(r"\s*[x×X,]\s*", text.strip())
    out, syms = [], {}
    for p in parts:
        if isinstance(p, sp.Symbol):
            p = p.name
        if isinstance(p, int) or (isinstance(p, str) and p.isascii() and p.isdigit()):  # not "²"
            if int(p) < 1:
                raise ArchError(f"input sizes must be positive, got {p}", None)
            out.append(int(p))
        elif isinstance(p, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) and p not in ("x", "X"):
            out.append(syms.setdefault(p, sp.Symbol(p, integer=True, positive=True)))
        else:
            raise ArchError(f"bad symbolic input shape {text!r}", None,
                            "write it as CxHxW with numbers or names, e.g. 3xHxW or 1xHxH")
    return tuple(out)


def symbolic_report(spec_or_net: Any, input: str | tuple, **variables: Any) -> SymbolicResult:
    """Every node's output shape as formulas in the named sizes of ``input`` (``"3xHxW"``), the sizes
    for which the network is well formed, and the floor divisions its rules make.

    ``spec_or_net``: what ``archdsl.load`` takes (library name, path, inline text) or a loaded Net;
    ``variables`` override the spec's variables (``classes=10``)."""
    from .pipeline import Net, load
    shape = parse_input(input)
    symbols = tuple(dict.fromkeys(d for d in shape if isinstance(d, sp.Symbol)))
    if isinstance(spec_or_net, Net):
        net = spec_or_net
    else:  # the graph does not depend on the input size: elaborate at any concrete one
        net = load(spec_or_net, input=tuple(d if isinstance(d, int) else 64 for d in shape), **variables)
    return _walk(net.graph, shape, symbols)


@dataclass
class _State:
    region: Region
    shapes: dict  # node → live shape (ints and Dims)
    divisions: list


def _walk(g, shape: tuple, symbols: tuple, fixed: dict | None = None) -> SymbolicResult:
    """``fixed``: node → the torch module (ModuleSpec) compiled for it at the declared size; where a
    rule's module differs at some sizes (a Linear's in_features, a projection's stride), those sizes fail
    there as if the rule had raised: the compiled model is not that network at them (archdsl/contract.py)."""
    live_input = tuple(Dim(d) if isinstance(d, sp.Basic) else d for d in shape)
    states = [_State(Region.of(symbols), {}, [])]
    failures: list[Failure] = []
    ops = {}
    for name in g:
        data = g.nodes[name]
        op, inputs = data["op"], data["inputs"]
        ops[name] = op.name
        if op.is_input:
            for st in states:
                st.shapes[name] = live_input
            continue
        nxt = []
        for st in states:
            ins = [st.shapes[i] for i in inputs]
            groups: dict[tuple, list[_Outcome]] = {}
            try:
                found = explore(lambda op=op, ins=ins, name=name: _rule(op, ins, fixed.get(name) if fixed else None),
                                st.region)
            except (TypeError, ValueError, AttributeError) as err:  # a rule that cannot take symbolic sizes
                raise ArchError(f"{op.name} at {name}: its shape rule cannot run on symbolic sizes ({err})",
                                data.get("span"), "give that size as a number") from None
            for oc in found:
                if oc.error is not None:
                    failures.append(Failure(oc.region, name, op.name, oc.error.message, op, ins))
                else:
                    groups.setdefault(tuple(_e(d) for d in oc.value), []).append(oc)
            for i, ocs in enumerate(_unify(groups).values()):
                divisions = st.divisions + list(dict.fromkeys(
                    Division(name, op.name, num, den) for oc in ocs for num, den in oc.divisions))
                for region in _merge([oc.region for oc in ocs]):
                    shapes = st.shapes if len(groups) == 1 and i == 0 and region is not None else dict(st.shapes)
                    shapes[name] = tuple(Dim.of(tidy(_e(d))) for d in ocs[0].value)
                    nxt.append(_State(region, shapes, divisions))
        if len(nxt) > MAX_REGIMES:
            raise ArchError(f"the shapes of {g.graph['name']} split into more than {MAX_REGIMES} regimes", None)
        states = nxt
        if not states:
            break
    outputs = g.graph["outputs"]
    regimes = [Regime(st.region, {k: tuple(_e(d) for d in v) for k, v in st.shapes.items()},
                      {k: tuple(_e(d) for d in st.shapes[v]) for k, v in outputs.items()}, st.divisions)
               for st in states]
    return SymbolicResult(g.graph["name"], shape, symbols, regimes, failures, ops)


def _rule(op, ins: list, module) -> tuple:
    """The op's shape rule; with ``module``, also the condition that it compiles to that module."""
    out = op.infer(ins)
    if module is not None and op.torch(ins, out) != module:
        raise OpProblem(f"the compiled module is {_spec_text(module)}, built for the declared input size",
                        "compile the network at this size (load(..., input=...))")
    return out


def _spec_text(spec) -> str:
    args = [repr(a) for a in spec.args] + [f"{k}={v!r}" for k, v in spec.kwargs.items()]
    return f"{spec.cls}({', '.join(args)})"


def _same_on(a: tuple, b: tuple, region: Region) -> bool:
    """Whether shapes ``a`` and ``b`` are equal at every size of ``region``."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        diff = sp.expand(x - y)
        if diff == 0:
            continue
        syms = diff.free_symbols
        truth = truth_set("eq", diff, next(iter(syms))) if len(syms) == 1 else None
        if truth is None or not (region.get(next(iter(syms))) - truth).empty:
            return False
    return True


def _unify(groups: dict[tuple, list[_Outcome]]) -> dict[tuple, list[_Outcome]]:
    """Outcomes whose formulas differ but whose values agree where each holds (a ceil-mode pool's two
    branches) are one outcome: the first group's formula serves for all."""
    out: dict[tuple, list[_Outcome]] = {}
    for key, ocs in groups.items():
        for k in out:
            if all(_same_on(k, key, oc.region) for oc in ocs):
                out[k] = out[k] + ocs
                break
        else:
            out[key] = ocs
    return out


def _merge(regions: list[Region]) -> list[Region]:
    """Regions with the same outcome, joined where they differ in one name only."""
    out: list[Region] = []
    for reg in regions:
        for i, other in enumerate(out):
            differ = [sym for (sym, a), (_, b) in zip(reg.sets, other.sets) if a != b]
            if reg.raw == other.raw and len(differ) <= 1:
                out[i] = other.with_set(differ[0], reg.get(differ[0]) | other.get(differ[0])) if differ else other
                break
        else:
            out.append(reg)
    return out


# ------------------------------------------------------------------ the text


EXACT = "no size is rounded: every strided window tiles its input, every centre crop is symmetric"


def format_result(result: SymbolicResult, key_layers: bool = True) -> str:
    """The report as text: the output formulas, where the network is well formed and where no size
    is rounded (with the outputs there), the layers that change the size, and why other sizes fail."""
    lines = [f"{result.name}: input {show_shape(result.input)}"]
    for n, reg in enumerate(result.regimes):
        pad = "  "
        if len(result.regimes) > 1:
            lines.append(f"  regime {n + 1} of {len(result.regimes)}:")
            pad = "    "
        for out, shape in reg.outputs.items():
            lines.append(f"{pad}{out}: {show_shape(shape)}")
        lines.append(f"{pad}well formed when: {reg.region.describe()}" if result.symbols else f"{pad}well formed")
        if reg.divisions:
            exact = reg.exact_region()
            lines.append(f"{pad}exact when: {exact.describe()}")
            lines.append(f"{pad}  ({EXACT})")
            for out, shape in reg.outputs.items():
                flat = reg.exact_shape(shape, exact)
                if flat is not None and flat != shape and not exact.empty:
                    lines.append(f"{pad}  {out} there: {show_shape(flat)}")
        if key_layers:
            lines += [pad + line for line in _key_table(result, reg)]
    if not result.regimes:
        lines.append("  well formed for no size")
    if result.failures:
        lines.append("  ill formed otherwise; where the largest failing sizes stop:" if result.regimes
                     else "  ill formed:")
        lines += [f"    {f}" for f in _failure_summary(result.failures)]
    return "\n".join(lines)


def _key_table(result: SymbolicResult, reg: Regime) -> list[str]:
    """Layers that change the size by a stride, a crop or an upsampling, and the condition for no rounding
    in them and every layer before them."""
    divided: dict[str, list[Division]] = {}
    for d in reg.divisions:
        divided.setdefault(d.node, []).append(d)
    rows, region = [], Region.of(result.symbols)
    for node, shape in reg.shapes.items():
        op = result.ops[node]
        if node not in divided and not REGISTRY[op].resizes:
            continue
        for d in divided.get(node, []):
            ex = d.exact()
            region = region & ex if ex is not None else Region(region.sets, region.raw + (d.condition,))
        rows.append((node, op, show_shape(shape), region.describe() if node in divided else ""))
    if not rows:
        return []
    w = [max(len(r[i]) for r in rows + [("layer", "op", "shape", "")]) for i in range(3)]
    lines = ["key layers:", f"  {'layer':<{w[0]}}  {'op':<{w[1]}}  {'shape':<{w[2]}}  exact up to here when"]
    lines += [f"  {r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]}".rstrip() for r in rows]
    return lines


def _largest(region: Region) -> float:
    """The largest size in a region (inf when it is unbounded)."""
    tops = [(s.top or 0) if not s.residues else math.inf for _, s in region.sets if not s.full]
    return min(tops, default=math.inf)


def _failure_summary(failures: list[Failure], limit: int = 4) -> list[str]:
    """One line per failing node, those failing up to the largest sizes first."""
    by_node: dict[tuple, tuple[Region, Failure]] = {}
    for f in failures:
        key = (f.node, f.op)
        prev = by_node.get(key)
        by_node[key] = (f.region, f) if prev is None else (_union(prev[0], f.region), prev[1])
    items = sorted(by_node.items(), key=lambda kv: -_largest(kv[1][0]))
    lines = []
    for (node, op), (region, f) in items:
        ex = f.example()
        why = f.message if ex is None else \
            f"at {', '.join(f'{k} = {v}' for k, v in ex[0].items())}: {ex[1]}"
        lines.append(f"{region.describe()}: {op} at {node}, {why}")
    more = len(lines) - limit
    tail = [f"... and {more} more layer{'s' if more > 1 else ''} on smaller sizes"] if more > 0 else []
    return lines[:limit] + tail


def _union(a: Region, b: Region) -> Region:
    merged = _merge([a, b])
    return merged[0] if len(merged) == 1 else a
