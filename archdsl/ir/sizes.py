"""Sets of input sizes: eventually periodic sets of positive integers (``H ≡ 12 (mod 16), H >= 188``).

The symbolic analysis (archdsl/ir/symbolic/) solves size conditions into these; the input contract
(archdsl/ir/contract.py) keeps them. Plain Python: reading a contract needs no sympy.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SizeSet:
    """An eventually periodic set of positive integers: below ``start`` the members are the runs listed in
    ``runs`` (``((lo, hi), ...)``: lo <= n < hi, sorted, apart); from ``start`` on, n is a member iff
    ``n % period`` is in ``residues``. Runs keep a bounded set (``H < 4000``) a pair, not 3,999 sizes, so
    that the sets of a long chain of layers combine in time that does not grow with the sizes."""

    period: int = 1
    start: int = 1
    residues: frozenset = frozenset({0})
    runs: tuple = ()

    @classmethod
    def all(cls) -> SizeSet:
        return cls()

    @classmethod
    def only(cls, n: int) -> SizeSet:
        """The set of one size."""
        return cls(1, n + 1, frozenset(), ((n, n + 1),))

    @classmethod
    def none(cls) -> SizeSet:
        return cls(residues=frozenset())

    @classmethod
    def listing(
        cls,
        period: int,
        start: int,
        residues: frozenset,
        members: Iterable[int] = (),
        runs: Iterable[tuple[int, int]] = (),
    ) -> SizeSet:
        """The set with these sizes (and runs of sizes) below ``start``, in its normal form."""
        return cls(period, start, frozenset(residues), merge_runs([*runs, *((n, n + 1) for n in members)])).normal()

    def __contains__(self, n: int) -> bool:
        if n >= self.start:
            return n % self.period in self.residues
        i = bisect.bisect_right(self.runs, (n, math.inf)) - 1
        return i >= 0 and self.runs[i][0] <= n < self.runs[i][1]

    @property
    def small(self) -> frozenset:
        """The members below ``start``, one by one."""
        return frozenset(n for lo, hi in self.runs for n in range(lo, hi))

    @property
    def top(self) -> int | None:
        """The largest member below ``start`` (None where there is none)."""
        return self.runs[-1][1] - 1 if self.runs else None

    @property
    def single(self) -> bool:
        """Whether the set holds exactly one size."""
        return not self.residues and len(self.runs) == 1 and self.runs[0][1] - self.runs[0][0] == 1

    @property
    def empty(self) -> bool:
        return not self.residues and not self.runs

    @property
    def full(self) -> bool:
        return len(self.residues) == self.period and (self.start == 1 or self.runs == ((1, self.start),))

    def _combine(self, other: SizeSet, f: Callable[[bool, bool], bool]) -> SizeSet:
        assert not f(False, False)  # and, or, minus: what is in neither set is in none of theirs
        p, t = math.lcm(self.period, other.period), max(self.start, other.start)
        res = frozenset(r for r in range(p) if f(r % self.period in self.residues, r % other.period in other.residues))
        cuts = sorted({1, t, self.start, other.start, *(x for lo, hi in (*self.runs, *other.runs) for x in (lo, hi))})
        runs = []
        for a, b in zip(cuts, cuts[1:]):  # on each piece below t, each set is all, nothing, or periodic
            if b > t:
                break
            runs += _piece(a, b, lambda n: f(n in self, n in other), self._period_at(a), other._period_at(a))
        return SizeSet(p, t, res, merge_runs(runs)).normal()

    def _period_at(self, n: int) -> int:
        """The period of this set's members around n: 1 below start (within a run or a gap), else period."""
        return 1 if n < self.start else self.period

    def __and__(self, other):
        return self._combine(other, lambda a, b: a and b)

    def __or__(self, other):
        return self._combine(other, lambda a, b: a or b)

    def __sub__(self, other):
        return self._combine(other, lambda a, b: a and not b)

    def __invert__(self):
        return SizeSet.all() - self

    def normal(self) -> SizeSet:
        """The same set with the smallest period and start."""
        p, res = self.period, self.residues
        for d in range(1, p + 1):
            if p % d == 0 and all((r in res) == (r % d in res) for r in range(p)):
                p, res = d, frozenset(r for r in res if r < d)
                break
        t, runs = self.start, list(self.runs)
        while t > 1:  # lower start while the sizes below it follow the period too
            if runs and runs[-1][1] == t:  # t - 1 is listed
                lo = runs[-1][0]
                if p == 1 and res:  # the whole run is periodic: start at its low end
                    runs.pop()
                    t = lo
                    continue
                if (t - 1) % p not in res:
                    break
                runs[-1] = (lo, t - 1)
                if lo == t - 1:
                    runs.pop()
                t -= 1
            else:
                if (t - 1) % p in res:
                    break
                if not res:  # nothing is periodic: start right after the last run
                    t = runs[-1][1] if runs else 1
                    continue
                t -= 1
        return SizeSet(p, t, res, tuple(runs))

    def _lowest(self) -> int | None:
        """The first member of the periodic part (at or after ``start``)."""
        if not self.residues:
            return None
        n = self.start
        while n % self.period not in self.residues:
            n += 1
        return n

    def members(self, upto: int) -> list[int]:
        return [n for n in range(1, upto + 1) if n in self]

    def describe(self, name: str = "n") -> str:
        """``H ≡ 12 (mod 16), H >= 188``; alternatives joined by ``or``."""
        if self.empty:
            return "never"
        if self.full:
            return f"every {name}"
        parts = []
        if self.residues:
            low = self._lowest()
            if self.period == 1:
                parts.append(f"{name} >= {low}")
            else:
                cong = f"{name} ≡ {_residue_list(sorted(self.residues))} (mod {self.period})"
                parts.append(cong + (f", {name} >= {low}" if self.start > 1 else ""))
        if self.runs:
            parts.append(f"{name} = {_describe_runs(self.runs)}")
        return " or ".join(parts)

    def to_sympy(self, sym: Any) -> Any:
        """The set as a sympy condition on ``sym``."""
        import sympy as sp

        if self.empty:
            return sp.false
        if self.full:
            return sp.true
        terms = []
        if self.residues:
            cong = (
                sp.Or(*(sp.Eq(sp.Mod(sym, self.period), r) for r in sorted(self.residues)))
                if self.period > 1
                else sp.true
            )
            terms.append(sp.And(cong, sym >= self._lowest()) if self.start > 1 else cong)
        terms += [sp.Eq(sym, lo) if hi == lo + 1 else sp.And(sym >= lo, sym < hi) for lo, hi in self.runs]
        return sp.Or(*terms)


def _residue_list(rs: list[int]) -> str:
    return ", ".join(map(str, rs)) if len(rs) <= 6 else _runs(rs)


def _describe_runs(runs: tuple) -> str:
    """``((1, 4), (7, 8))`` → ``1..3, 7`` (a run of two: ``4, 5``)."""
    return ", ".join(
        str(lo) if hi == lo + 1 else f"{lo}, {lo + 1}" if hi == lo + 2 else f"{lo}..{hi - 1}" for lo, hi in runs
    )


def _runs(ns: list[int]) -> str:
    """``1, 2, 3, 7`` → ``1..3, 7``."""
    return _describe_runs(merge_runs([(n, n + 1) for n in ns]))


def merge_runs(runs: Iterable[tuple[int, int]]) -> tuple:
    """Runs ``(lo, hi)`` sorted, the empty ones dropped, and those that touch or overlap joined."""
    out: list[list[int]] = []
    for lo, hi in sorted(r for r in runs if r[1] > r[0]):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def _piece(a: int, b: int, member: Callable[[int], bool], *periods: int) -> list[tuple[int, int]]:
    """The runs of members in a <= n < b, where membership repeats with the periods given: one pass over a
    period decides a long piece at once (all or nothing), else its members are listed."""
    p = math.lcm(*periods)
    pattern = [member(n) for n in range(a, min(b, a + p))]
    if all(pattern):
        return [(a, b)]
    if not any(pattern):
        return []
    return [(n, n + 1) for n in range(a, b) if pattern[(n - a) % p]]
