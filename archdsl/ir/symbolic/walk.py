"""The walk over a network: every node's output shape as formulas in the named input sizes, the regions
where it is well formed, the floor divisions its rules make, and the failures elsewhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    from ..graph import Graph


import re
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ...errors import ArchError
from ...limits import MAX_REGIMES
from ...ops import OpProblem
from ..shapes import split_shape
from .dim import Dim, Region, _e, _Outcome, explore
from .relations import _linear_part, truth_set
from .show import tidy

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
    rows: dict[str, int] = field(default_factory=dict)  # node → rows per image: 1, or R per region (any size)
    output_rows: dict[str, int] = field(default_factory=dict)  # output → its rows per image

    def rows_text(self, node: str) -> str:
        """``R x `` before a per-region node's shape (``R x 512 x 7 x 7``), nothing before a per-image one."""
        return "R x " if self.rows.get(node, 1) > 1 else ""

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
    parts = list(text) if isinstance(text, (tuple, list)) else split_shape(text)
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
            raise ArchError(
                f"bad symbolic input shape {text!r}",
                None,
                "write it as CxHxW with numbers or names, e.g. 3xHxW or 1xHxH",
            )
    return tuple(out)


def symbolic_shapes(g: Graph, input: str | tuple) -> SymbolicResult:
    """Every node's output shape in graph ``g`` as formulas in the named sizes of ``input`` (``"3xHxW"``),
    the sizes for which the network is well formed, and the floor divisions its rules make."""
    shape = parse_input(input)
    return _walk(g, shape, tuple(dict.fromkeys(d for d in shape if isinstance(d, sp.Symbol))))


@dataclass
class _State:
    region: Region
    shapes: dict  # node → live shape (ints and Dims)
    divisions: list


def _walk(g, shape: tuple, symbols: tuple, fixed: dict | None = None) -> SymbolicResult:
    """``fixed``: node → the torch module (ModuleSpec) compiled for it at the declared size; where a
    rule's module differs at some sizes (a Linear's in_features, a projection's stride), those sizes fail
    there as if the rule had raised: the compiled model is not that network at them (archdsl/ir/contract.py)."""
    live_input = tuple(Dim(d) if isinstance(d, sp.Basic) else d for d in shape)
    states = [_State(Region.of(symbols), {}, [])]
    failures: list[Failure] = []
    ops, rows = {}, {}
    for name in g:
        data = g.nodes[name]
        op, inputs = data.op, data.inputs
        ops[name] = op.name
        if op.is_input:  # the first input has the symbolic sizes; a further one (boxes) its declared shape
            rows[name] = 1
            for st in states:
                st.shapes[name] = live_input if name == "input" else tuple(op.p.shape)
            continue
        rows[name] = _rows(op, [rows[i] for i in inputs], [states[0].shapes[i] for i in inputs] if states else [])
        nxt = []
        for st in states:
            ins = [st.shapes[i] for i in inputs]
            groups: dict[tuple, list[_Outcome]] = {}
            try:
                found = explore(
                    lambda op=op, ins=ins, name=name: _rule(op, ins, fixed.get(name) if fixed else None), st.region
                )
            except (TypeError, ValueError, AttributeError) as err:  # a rule that cannot take symbolic sizes
                raise ArchError(
                    f"{op.name} at {name}: its shape rule cannot run on symbolic sizes ({err})",
                    data.span,
                    "give that size as a number",
                ) from None
            for oc in found:
                if oc.error is not None:
                    failures.append(Failure(oc.region, name, op.name, oc.error.message, op, ins))
                else:
                    groups.setdefault(tuple(_e(d) for d in oc.value), []).append(oc)
            for i, ocs in enumerate(_unify(groups).values()):
                divisions = st.divisions + list(
                    dict.fromkeys(Division(name, op.name, num, den) for oc in ocs for num, den in oc.divisions)
                )
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
    regimes = [
        Regime(
            st.region,
            {k: tuple(_e(d) for d in v) for k, v in st.shapes.items()},
            {k: tuple(_e(d) for d in st.shapes[v]) for k, v in outputs.items()},
            st.divisions,
        )
        for st in states
    ]
    output_rows = {k: rows.get(v, 1) for k, v in outputs.items()}
    return SymbolicResult(g.graph["name"], shape, symbols, regimes, failures, ops, rows, output_rows)


def _rows(op, rows: list[int], ins: list) -> int:
    """A node's rows per image; they depend on no size (the boxes' and proposals' counts), so one regime's
    shapes tell them. 1 where the rule refuses: the shape walk reports that failure."""
    try:
        return op.rows(rows, ins)
    except (OpProblem, TypeError, ValueError):
        return 1


def _rule(op, ins: list, module) -> tuple:
    """The op's shape rule; with ``module``, also the condition that it compiles to that module."""
    out = op.infer(ins)
    if module is not None and op.torch(ins, out) != module:
        raise OpProblem(
            f"the compiled module is {_spec_text(module)}, built for the declared input size",
            "compile the network at this size (load(..., input=...))",
        )
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


def union(a: Region, b: Region) -> Region:
    """The two regions as one, where they differ in one name only (else ``a``)."""
    merged = _merge([a, b])
    return merged[0] if len(merged) == 1 else a
