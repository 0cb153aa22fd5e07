"""What a notebook shows: the diagram as SVG, the report as an HTML table."""

from __future__ import annotations

from typing import Any

from . import report
from .diagram import analysis_of
from .dot import dot_program, esc, svg


def repr_svg(obj: Any) -> str | None:
    """``_repr_svg_``: the SVG, or None (the notebook then shows the next representation) without dot."""
    if dot_program() is None:
        return None
    return svg(obj)


def html_table(a: Any, depth: int | str | None = "auto") -> str:
    """``_repr_html_``: the report's rows (at the report's automatic depth) as a plain HTML table; the op cell
    shows the diagram's words and, on hover, every argument (``title``)."""
    a = analysis_of(a)
    if depth == "auto":
        depth = report.auto_depth(a)
    elif depth == "all":
        depth = None
    numeric = {"params", "MACs", "activations"}
    head = "".join(
        f'<th style="text-align:{"right" if c in numeric else "left"}">{esc(c)}</th>' for c in report.COLUMNS
    )
    body = []
    opts = report.Options(depth=depth)
    for row, full in zip(report.rows(a, opts=opts), report.table_rows(a, opts)):
        cells = "".join(
            f'<td style="text-align:{"right" if c in numeric else "left"}"'
            + (f' title="{esc(full.describe)}"' if c == "op" else "")
            + f">{esc(v)}</td>"
            for c, v in zip(report.COLUMNS, row)
        )
        body.append(f"<tr>{cells}</tr>")
    caption = esc(a.name) + ("" if depth is None else f" (blocks rolled up at depth {depth})")
    foot = "".join(f"<li>{esc(line)}</li>" for line in report.summary_lines(a))
    return (
        f'<table class="archdsl-report"><caption>{caption}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table><ul>{foot}</ul>"
    )
