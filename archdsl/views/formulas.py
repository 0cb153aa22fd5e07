"""The symbolic report as text (``archdsl report --input 3xHxW``): output formulas, where the network is
well formed and exact, the key layers, and why other sizes fail."""

from __future__ import annotations

import math

from ..ir.symbolic.dim import Region
from ..ir.symbolic.show import show_shape
from ..ir.symbolic.walk import Division, Failure, Regime, SymbolicResult, union
from ..ops import REGISTRY

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
            lines.append(f"{pad}{out}: {'R x ' if result.output_rows.get(out, 1) > 1 else ''}{show_shape(shape)}")
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
    regions = sorted(set(result.rows.values()) - {1})
    if regions:
        counts = ", ".join(f"{r:,}" for r in regions)
        lines.append(f"  R = {counts} regions per image (at most), whatever the size: R x marks one row per region")
    if not result.regimes:
        lines.append("  well formed for no size")
    if result.failures:
        lines.append(
            "  ill formed otherwise; where the largest failing sizes stop:" if result.regimes else "  ill formed:"
        )
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
        rows.append(
            (node, op, result.rows_text(node) + show_shape(shape), region.describe() if node in divided else "")
        )
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
        by_node[key] = (f.region, f) if prev is None else (union(prev[0], f.region), prev[1])
    items = sorted(by_node.items(), key=lambda kv: -_largest(kv[1][0]))
    lines = []
    for (node, op), (region, f) in items:
        ex = f.example()
        why = f.message if ex is None else f"at {', '.join(f'{k} = {v}' for k, v in ex[0].items())}: {ex[1]}"
        lines.append(f"{region.describe()}: {op} at {node}, {why}")
    more = len(lines) - limit
    tail = [f"... and {more} more layer{'s' if more > 1 else ''} on smaller sizes"] if more > 0 else []
    return lines[:limit] + tail
