"""Sizes that depend on a name: :class:`Dim`, a sympy expression the ops' shape rules compute with as
with ints; :class:`Cond`, a comparison of sizes a rule asks the truth of; the regions of sizes a run of
a rule holds on, and :func:`explore`, which runs a rule again for each answer (a fork)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import sympy as sp

from ...errors import ArchError
from ...limits import MAX_RUNS
from ...ops import OpProblem
from ..sizes import SizeSet
from .relations import _NOT, _OPS, _REL, truth_set
from .show import _show_rel, show

# ------------------------------------------------------------------ regions and runs


@dataclass(frozen=True)
class Region:
    """A set of input sizes: one SizeSet per name, and relations that could not be solved (kept as sympy)."""

    sets: tuple = ()  # ((symbol, SizeSet), ...) sorted by name
    raw: tuple = ()  # sympy relations that also hold

    @classmethod
    def of(cls, symbols: Iterable[sp.Symbol]) -> Region:
        return cls(tuple((s, SizeSet.all()) for s in sorted(symbols, key=str)))

    def get(self, sym: sp.Symbol) -> SizeSet:
        return dict(self.sets).get(sym, SizeSet.all())

    def with_set(self, sym: sp.Symbol, s: SizeSet) -> Region:
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
            branches = (
                Region(self.region.sets, self.region.raw + (rel,)),
                Region(self.region.sets, self.region.raw + (relation(_NOT[op], diff),)),
            )
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
