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
    """``_repr_html_``: the report at its automatic depth as a compact HTML table. Shares come with a bar; a
    rolled-up block opens (``<details>``) onto the layers it holds; the op cell shows the diagram's words and,
    on hover, every argument (``title``)."""
    a = analysis_of(a)
    if depth == "auto":
        depth = report.auto_depth(a)
    elif depth == "all":
        depth = None
    numeric = {"params", "MACs", "activations"}
    head = "".join(
        f'<th style="text-align:{"right" if c in numeric else "left"}">{esc(c)}</th>' for c in report.COLUMNS
    )
    opts = report.Options(depth=depth)
    members = report.groups(a, depth)
    shapes = {x.name: tuple(x.output_shape) for x in a.layers}
    body = []
    for full in report.table_rows(a, opts):
        row = report.cells(full, a, opts)
        cells = []
        for c, v in zip(report.COLUMNS, row):
            style = f"text-align:{'right' if c in numeric else 'left'}"
            if c == "layer" and len(members.get(full.name, ())) > 1:
                inside = "".join(
                    f"<li>{esc(x.name)}: {esc(report.short_op(x, shapes))}</li>" for x in members[full.name]
                )
                v_html = f"<details><summary>{esc(v)}</summary><ul>{inside}</ul></details>"
            elif c in ("params %", "memory %") and v.endswith("%"):
                v_html = _bar(v)
            else:
                v_html = esc(v)
            title = f' title="{esc(full.describe)}"' if c == "op" else ""
            cells.append(f'<td style="{style}"{title}>{v_html}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    caption = esc(a.name) + ("" if depth is None else f" (blocks rolled up at depth {depth})")
    foot = "".join(f"<li>{esc(line)}</li>" for line in report.summary_lines(a))
    return (
        f'<table class="archdsl-report"><caption>{caption}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table><ul>{foot}</ul>"
    )


def _bar(share: str) -> str:
    """``41.2%`` with a bar of that length under it."""
    width = min(100.0, float(share.rstrip("%")))
    return (
        f'{esc(share)}<div style="background:#4c78a8;height:4px;width:{width:.1f}%;min-width:1px" '
        'aria-hidden="true"></div>'
    )
