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


def rows(a: Analysis) -> list[tuple[str, ...]]:
    return [(layer.name, layer.describe, shape_str(layer.output_shape), f"{layer.params:,}", f"{layer.macs:,}",
             f"{layer.activations:,}", rf_str(layer)) for layer in a.layers]


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


def table(a: Analysis, console: Console | None = None) -> None:
    console = console or wide_console()
    tab = Table(title=f"{a.name}", show_lines=False, header_style="bold")
    for col in COLUMNS:
        tab.add_column(col, justify="right" if col in ("params", "MACs", "activations") else "left",
                       overflow="fold")
    for row in rows(a):
        tab.add_row(*row)
    console.print(tab)
    for line in summary_lines(a):
        console.print(line)


def markdown(a: Analysis) -> str:
    out = [f"# {a.name}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(r.replace("|", "\\|") for r in row) + " |" for row in rows(a)]
    out += [""] + [f"- {line}" for line in summary_lines(a)]
    return "\n".join(out) + "\n"


def to_json(a: Analysis) -> str:
    return json.dumps(a.model_dump(mode="json"), indent=2)
