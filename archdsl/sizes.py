"""Sets of input sizes: eventually periodic sets of positive integers (``H ≡ 12 (mod 16), H >= 188``).

The symbolic analysis (archdsl/symbolic.py) solves size conditions into these; the input contract
(archdsl/contract.py) keeps them. Plain Python: reading a contract needs no sympy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class SizeSet:
    """An eventually periodic set of positive integers: below ``start`` the members are listed in
    ``small``; from ``start`` on, n is a member iff ``n % period`` is in ``residues``."""

    period: int = 1
    start: int = 1
    residues: frozenset = frozenset({0})
    small: frozenset = frozenset()

    @classmethod
    def all(cls) -> "SizeSet":
        return cls()

    @classmethod
    def only(cls, n: int) -> "SizeSet":
        """The set of one size."""
        return cls(1, n + 1, frozenset(), frozenset({n}))

    @classmethod
    def none(cls) -> "SizeSet":
        return cls(residues=frozenset())

    def __contains__(self, n: int) -> bool:
        return n in self.small if n < self.start else n % self.period in self.residues

    @property
    def empty(self) -> bool:
        return not self.residues and not self.small

    @property
    def full(self) -> bool:
        return len(self.residues) == self.period and len(self.small) == self.start - 1

    def _combine(self, other: "SizeSet", f: Callable[[bool, bool], bool]) -> "SizeSet":
        p, t = math.lcm(self.period, other.period), max(self.start, other.start)
        res = frozenset(r for r in range(p) if f(r % self.period in self.residues, r % other.period in other.residues))
        small = frozenset(n for n in range(1, t) if f(n in self, n in other))
        return SizeSet(p, t, res, small).normal()

    def __and__(self, other):
        return self._combine(other, lambda a, b: a and b)

    def __or__(self, other):
        return self._combine(other, lambda a, b: a or b)

    def __sub__(self, other):
        return self._combine(other, lambda a, b: a and not b)

    def __invert__(self):
        return SizeSet.all() - self

    def normal(self) -> "SizeSet":
        """The same set with the smallest period and start."""
        p, res = self.period, self.residues
        for d in range(1, p + 1):
            if p % d == 0 and all((r in res) == (r % d in res) for r in range(p)):
                p, res = d, frozenset(r for r in res if r < d)
                break
        t, small = self.start, set(self.small)
        while t > 1 and ((t - 1) in small) == ((t - 1) % p in res):
            t -= 1
            small.discard(t)
        return SizeSet(p, t, res, frozenset(small))

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
        if self.small:
            parts.append(f"{name} = {_runs(sorted(self.small))}")
        return " or ".join(parts)

    def to_sympy(self, sym):
        """The set as a sympy condition on ``sym``."""
        import sympy as sp
        if self.empty:
            return sp.false
        if self.full:
            return sp.true
        terms = []
        if self.residues:
            cong = sp.Or(*(sp.Eq(sp.Mod(sym, self.period), r) for r in sorted(self.residues))) \
                if self.period > 1 else sp.true
            terms.append(sp.And(cong, sym >= self._lowest()) if self.start > 1 else cong)
        terms += [sp.Eq(sym, n) for n in sorted(self.small)]
        return sp.Or(*terms)


def _residue_list(rs: list[int]) -> str:
    return ", ".join(map(str, rs)) if len(rs) <= 6 else _runs(rs)


def _runs(ns: list[int]) -> str:
    """``1, 2, 3, 7`` → ``1..3, 7``."""
    out, i = [], 0
    while i < len(ns):
        j = i
        while j + 1 < len(ns) and ns[j + 1] == ns[j] + 1:
            j += 1
        out.append(str(ns[i]) if j == i else f"{ns[i]}, {ns[j]}" if j == i + 1 else f"{ns[i]}..{ns[j]}")
        i = j + 1
    return ", ".join(out)


