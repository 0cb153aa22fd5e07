"""Presentation of an Analysis: terminal table (rich), markdown and JSON. Reads, never recomputes."""
from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from .analysis import Analysis, Layer


def shape_str(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def rf_str(layer: Layer) -> str:
    (h, w), (sh, sw) = layer.receptive_field.size, layer.receptive_field.stride
    size = f"{h}" if h == w else f"{h}x{w}"
    stride = _num(sh) if sh == sw else f"{_num(sh)}x{_num(sw)}"
    return f"{size}/{stride}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


COLUMNS = ("layer", "op", "output", "params", "MACs", "activations", "RF size/stride")
MAX_ROWS = 40  # the automatic depth keeps the table within about one screen


def prefix(name: str, depth: int | None) -> str:
    """``layer1.0.conv1`` at depth 2 → ``layer1.0``; depth None keeps every level."""
    return name if depth is None else ".".join(name.split(".")[:depth])


def _groups(a: Analysis, depth: int | None) -> dict[str, list[Layer]]:
    groups: dict[str, list[Layer]] = {}
    for layer in a.layers:
        groups.setdefault(prefix(layer.name, depth), []).append(layer)
    return groups


def auto_depth(a: Analysis, max_rows: int = MAX_ROWS) -> int | None:
    """The deepest naming level whose rolled-up table has at most ``max_rows`` rows (at least 1);
    None (every layer) when the whole network fits."""
    deepest = max(len(layer.name.split(".")) for layer in a.layers)
    if len(a.layers) <= max_rows:
        return None
    best = 1
    for depth in range(1, deepest + 1):
        if len(_groups(a, depth)) <= max_rows:
            best = depth
    return best


def _ops_summary(layers: list[Layer]) -> str:
    """``3 conv, 3 bn, 3 relu, projection, residual``: what a rolled-up block holds, in order."""
    counts: dict[str, int] = {}
    for layer in layers:
        if layer.op == "projection":  # a residual's shortcut: worth a word only when it is a real layer
            if not layer.params:
                continue
            op = "downsample"
        else:
            op = layer.op
        counts[op] = counts.get(op, 0) + 1
    return f"[{len(layers)} layers] " + ", ".join(op if n == 1 else f"{n} {op}" for op, n in counts.items())


def rows(a: Analysis, depth: int | None = None) -> list[tuple[str, ...]]:
    """One row per layer, or at ``depth`` one row per block with its totals; a block's output and
    receptive field are those of its own node (a residual's sum, a concat) or else its last layer."""
    out = []
    for name, layers in _groups(a, depth).items():
        if len(layers) == 1:
            layer = layers[0]
            out.append((layer.name, layer.describe, shape_str(layer.output_shape), f"{layer.params:,}",
                        f"{layer.macs:,}", f"{layer.activations:,}", rf_str(layer)))
            continue
        last = next((x for x in layers if x.name == name), layers[-1])
        acts = sum(x.activations for x in layers if not x.elementwise)
        out.append((name, _ops_summary(layers), shape_str(last.output_shape),
                    f"{sum(x.params for x in layers):,}", f"{sum(x.macs for x in layers):,}", f"{acts:,}",
                    rf_str(last)))
    return out


def summary_lines(a: Analysis) -> list[str]:
    t = a.totals
    outs = ", ".join(f"{k}: {shape_str(v)}" for k, v in a.outputs.items())
    return [
        f"input {shape_str(a.input_shape)}  →  {outs}",
        f"params {t.params:,} (trainable {t.trainable_params:,}, buffers {t.buffers:,})",
        f"MACs {t.macs:,} per sample (FLOPs = 2 x MACs = {t.flops:,})",
        f"activations {t.activations:,} per sample ({t.activations * 4:,} bytes as float32, forward only)",
    ]


def wide_console(width: int = 200) -> Console:
    """The terminal's width on a terminal; ``width`` columns when piped, so tables do not wrap."""
    return Console(width=None if Console().is_terminal else width)


def table(a: Analysis, console: Console | None = None, depth: int | None = None) -> None:
    console = console or wide_console()
    title = a.name if depth is None else f"{a.name} (blocks rolled up at depth {depth}; --depth all shows every layer)"
    tab = Table(title=title, show_lines=False, header_style="bold")
    for col in COLUMNS:
        tab.add_column(col, justify="right" if col in ("params", "MACs", "activations") else "left",
                       overflow="fold")
    for row in rows(a, depth):
        tab.add_row(*row)
    console.print(tab)
    for line in summary_lines(a):
        console.print(line)


def markdown(a: Analysis, depth: int | None = None) -> str:
    out = [f"# {a.name}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(r.replace("|", "\\|") for r in row) + " |" for row in rows(a, depth)]
    out += [""] + [f"- {line}" for line in summary_lines(a)]
    return "\n".join(out) + "\n"


def to_json(a: Analysis) -> str:
    return json.dumps(a.model_dump(mode="json"), indent=2)
