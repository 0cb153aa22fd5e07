"""Presentation of an Analysis: terminal table (rich), markdown, CSV and JSON. Reads, never recomputes.

Every column is defined in docs/report.md. ``Options`` holds what the command line sets:
the roll-up depth, the dtype's bytes, the batch, whether MACs count everything
(``--count all``) and whether shapes are written HxWxC (``--hwc``).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ir.analysis import Analysis, Layer
from ..limits import MAX_RICH_ROWS, MAX_ROWS
from . import plain

if TYPE_CHECKING:  # rich is imported where a table needs it (views/plain.py draws the others)
    from rich.console import Console

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}
COLUMNS = ("layer", "op", "output", "params", "params %", "MACs", "activations", "memory %", "RF size/stride")


@dataclass(frozen=True)
class Options:
    depth: int | None = None  # None: every layer
    dtype: str = "float32"
    batch: int = 1
    count_all: bool = False  # MACs include bias adds, BN, pooling, activations, sums (ptflops' rules)
    hwc: bool = False  # shapes as the slides write them, [55x55x96]
    accepts: str = ""  # the compiled model's input contract, in words (archdsl/ir/contract.py)
    verbose: bool = False  # the op column with every argument (conv(out=64, k=3, ...)), not the diagram's words

    @property
    def bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]


def shape_str(shape: tuple[int, ...], hwc: bool = False) -> str:
    if hwc and len(shape) == 3:
        return "[" + "x".join(str(d) for d in (*shape[1:], shape[0])) + "]"
    return "x".join(str(d) for d in shape)


def rf_str(layer: Layer) -> str:
    """``size/stride`` in input pixels; ``—`` for a per-region layer, whose field depends on each region's box."""
    if layer.rows > 1:
        return "—"
    (h, w), (sh, sw) = layer.receptive_field.size, layer.receptive_field.stride
    size = f"{h}" if h == w else f"{h}x{w}"
    stride = _num(sh) if sh == sw else f"{_num(sh)}x{_num(sw)}"
    return f"{size}/{stride}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"


def prefix(name: str, depth: int | None) -> str:
    """``layer1.0.conv1`` at depth 2 → ``layer1.0``; depth None keeps every level."""
    return name if depth is None else ".".join(name.split(".")[:depth])


def groups(a: Analysis, depth: int | None) -> dict[str, list[Layer]]:
    """The layers by the row they roll up into at ``depth`` (their name's prefix)."""
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
        if len(groups(a, depth)) <= max_rows:
            best = depth
    return best


def _ops_summary(layers: list[Layer]) -> str:
    """``[10 layers] 3 conv, 3 bn, 2 relu, downsample, residual``: what a rolled-up block holds."""
    counts: dict[str, int] = {}
    for layer in layers:
        if layer.kind.shortcut:  # a residual's shortcut: worth a word only when it is a real layer
            if not layer.params:
                continue
            op = "downsample"
        else:
            op = layer.op
        counts[op] = counts.get(op, 0) + 1
    return f"[{len(layers)} layers] " + ", ".join(op if n == 1 else f"{n} {op}" for op, n in counts.items())


@dataclass(frozen=True)
class Row:
    """One row of the table: a layer, or a block rolled up (``depth``)."""

    name: str
    op: str  # in the diagram's words (conv 3x3, 64); a rolled-up block: what it holds
    output_shape: tuple[int, ...]
    params: int
    macs: int
    activations: int  # the values it keeps (in-place layers alone show their output's size)
    receptive_field: str
    in_place: bool = False  # a single layer that overwrites its input: no memory of its own
    describe: str = ""  # the op with every argument (conv(out=64, k=3, s=1, ...)); a block: as op
    rows: int = 1  # rows per image: R for a per-region layer (its shape is a region's)


def short_op(layer: Layer, shapes: dict[str, tuple[int, ...]]) -> str:
    """The op in the diagram's words (``conv 3x3, 64``, ``maxpool 3x3/2``, ``fc 4096``): ``Op.title`` with
    the shapes of its data inputs (``shapes``: every layer's output shape)."""
    n_data, _ = layer.kind.split_inputs(len(layer.inputs))
    return layer.kind.title(layer.args, [shapes[i] for i in layer.inputs[:n_data]], layer.output_shape)


def table_rows(a: Analysis, opts: Options = Options()) -> list[Row]:
    out = []
    shapes = {x.name: tuple(x.output_shape) for x in a.layers}
    for name, layers in groups(a, opts.depth).items():
        macs = sum(x.macs_all if opts.count_all else x.macs for x in layers)
        if len(layers) == 1:
            x = layers[0]
            op = x.describe if opts.verbose else short_op(x, shapes)
            out.append(
                Row(
                    x.name,
                    op,
                    x.output_shape,
                    x.params,
                    macs,
                    x.activations,
                    rf_str(x),
                    x.elementwise,
                    x.describe,
                    x.rows,
                )
            )
            continue
        last = next((x for x in layers if x.name == name), layers[-1])  # a block's own node, or its last
        acts = sum(x.activations for x in layers if not x.elementwise)
        summary = _ops_summary(layers)
        params = sum(x.params for x in layers)
        out.append(
            Row(name, summary, last.output_shape, params, macs, acts, rf_str(last), describe=summary, rows=last.rows)
        )
    return out


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _bar(part: int, whole: int, width: int = 10) -> str:
    """``41.2% ████▏``: the share, with a bar a reader finds at a glance."""
    if not whole:
        return "-"
    frac = part / whole
    eighths = round(frac * width * 8)
    bar = "█" * (eighths // 8) + ("▏▎▍▌▋▊▉"[eighths % 8 - 1] if eighths % 8 else "")
    return f"{100 * frac:5.1f}% {bar}"


def rows(
    a: Analysis, depth: int | None = None, opts: Options | None = None, bars: bool = False
) -> list[tuple[str, ...]]:
    """The table as text cells, in ``COLUMNS`` order. The shares are of the totals: params, and the
    activation memory (the values each row keeps, of the forward total)."""
    opts = opts or Options(depth=depth)
    return [cells(r, a, opts, bars) for r in table_rows(a, opts)]


def cells(r: Row, a: Analysis, opts: Options, bars: bool = False) -> tuple[str, ...]:
    """One row's text cells, in ``COLUMNS`` order (``bars``: the shares with a bar)."""
    share = _bar if bars else _share
    t = a.totals
    memory = "in place" if r.in_place else share(r.activations, t.activations)
    return (
        r.name,
        r.op,
        a.rows_text(r.rows) + shape_str(r.output_shape, opts.hwc),
        f"{r.params:,}",
        share(r.params, t.params),
        f"{r.macs * opts.batch:,}",
        f"{r.activations * opts.batch:,}",
        memory,
        r.receptive_field,
    )


def summary_lines(a: Analysis, opts: Options = Options()) -> list[str]:
    """The totals, per image and for the batch, in elements and in bytes of the dtype."""
    t, b, n = a.totals, opts.bytes, opts.batch
    per = "per image" if n == 1 else f"for a batch of {n}"
    outs = ", ".join(
        f"{k}: {a.rows_text(a.output_rows.get(k, 1))}{shape_str(v, opts.hwc)}" for k, v in a.outputs.items()
    )
    macs = t.macs_all if opts.count_all else t.macs
    counted = "conv, fc and every other op (--count all)" if opts.count_all else "conv and fc layers"
    return [
        f"{_inputs_text(a, opts)}  →  {outs}",
        *([f"  the compiled model takes N x {opts.accepts}"] if opts.accepts else []),
        f"params {t.params:,}: trainable {t.trainable_params:,}, non-trainable {t.buffers:,} (BN statistics); "
        f"{human_bytes((t.params + t.buffers) * b)} as {opts.dtype}",
        f"MACs {macs * n:,} {per} ({counted}); FLOPs = 2 x MACs = {2 * macs * n:,}",
        *_regions_lines(a),
        f"activations {t.activations * n:,} {per} ({human_bytes(t.activations * n * b)}): every layer's output, "
        "forward",
        f"  inference peak {t.peak_activations * n:,} ({human_bytes(t.peak_activations * n * b)}): the most alive "
        "at once, each freed after its last reader",
        f"  training {t.saved_activations * n:,} saved for backward ({human_bytes(t.saved_activations * n * b)}); "
        f"with their gradients about {human_bytes(2 * t.saved_activations * n * b)}",
        f"  largest single activation {t.largest_activation * n:,} ({human_bytes(t.largest_activation * n * b)}) "
        f"at {t.largest_layer}",
    ]


def _inputs_text(a: Analysis, opts: Options) -> str:
    """``input 3x224x224``; a network of several inputs: ``inputs image 3x600x800, boxes 300x4``."""
    if len(a.inputs) <= 1:
        return f"input {shape_str(a.input_shape, opts.hwc)}"
    return "inputs " + ", ".join(f"{k} {shape_str(v, opts.hwc and len(v) == 3)}" for k, v in a.inputs.items())


def _regions_lines(a: Analysis) -> list[str]:
    """What R is, where the network has per-region layers (after RoI pooling)."""
    counts = a.region_counts
    if not counts:
        return []
    r = "R" if len(counts) == 1 else "each count"
    return [
        f"  {r} = {', '.join(f'{c:,}' for c in counts)} regions per image (at most): a row marked R× counts "
        f"{r} times a region's MACs and values"
    ]


def wide_console(width: int = 200) -> Console:
    """The terminal's width on a terminal; ``width`` columns when piped, so tables do not wrap."""
    import sys

    from rich.console import Console

    terminal = sys.stdout.isatty()
    # no guessing at colours for numbers and brackets in the text: the table styles what it means to
    return Console(width=None if terminal else width, highlight=False, emoji=False)


@dataclass(frozen=True)
class Fit:
    """How a terminal table narrows: ``drop``, the groups of columns a narrow terminal leaves out, in order;
    ``folds``, the columns that fold onto more lines instead (down to FOLDED characters); ``right``, the
    right-justified ones; ``formats``, the command's formats that show every column. Every other cell is
    shown whole or not at all: no number is ever cut."""

    columns: tuple[str, ...]
    drop: tuple[tuple[str, ...], ...]
    folds: tuple[str, ...]
    right: tuple[str, ...]
    formats: str


FOLDED = 12
REPORT_FIT = Fit(
    COLUMNS,
    (("RF size/stride",), ("memory %",), ("params %",), ("activations",), ("output",), ("MACs",), ("params",)),
    ("layer", "op"),
    ("params", "MACs", "activations"),
    "markdown or csv",
)


def min_widths(cells: list[tuple[str, ...]], fit: Fit = REPORT_FIT) -> dict[str, int]:
    """Each column's narrowest: its widest cell, or FOLDED characters for a column that folds."""
    widest = {col: max([len(col), *(len(row[i]) for row in cells)]) for i, col in enumerate(fit.columns)}
    return {col: min(w, FOLDED) if col in fit.folds else w for col, w in widest.items()}


def fit_columns(cells: list[tuple[str, ...]], width: int, fit: Fit = REPORT_FIT) -> tuple[list[str], list[str]]:
    """The columns a table of ``cells`` shows in ``width`` characters, and those it leaves out."""
    least = min_widths(cells, fit)

    def needed(cols: list[str]) -> int:  # rich draws "│ cell " per column and a last "│"
        return sum(least[c] for c in cols) + 3 * len(cols) + 1

    shown, dropped = list(fit.columns), []
    for group in fit.drop:
        if needed(shown) <= width:
            break
        shown = [c for c in shown if c not in group]
        dropped += group
    return shown, dropped


def fitted_table(console: Console, title: str, cells: list[tuple[str, ...]], fit: Fit) -> None:
    """Print ``cells`` as a table that fits the console (``Fit``), and a line naming what it left out."""
    from rich.table import Table

    shown, dropped = fit_columns(cells, console.width, fit)
    least = min_widths(cells, fit)
    tab = Table(title=title, show_lines=False, header_style="bold")
    for col in shown:
        tab.add_column(
            col,
            justify="right" if col in fit.right else "left",
            overflow="fold",
            no_wrap=col not in fit.folds,
            min_width=least[col],
        )
    for row in cells:
        tab.add_row(*(row[fit.columns.index(col)] for col in shown))
    console.print(tab)
    if dropped:
        console.print(_left_out(console.width, dropped, fit))


def _left_out(width: int, dropped: list[str], fit: Fit) -> str:
    return (
        f"left out to fit {width} columns: {', '.join(dropped)} (a wider terminal, --format {fit.formats} shows "
        "every column)"
    )


def printed(
    title: str,
    cells: list[tuple[str, ...]],
    fit: Fit,
    lines: list[str],
    console: Console | None = None,
    out: plain.Output | None = None,
) -> bool:
    """``cells`` as :func:`fitted_table` prints them on :func:`wide_console`, then ``lines``: drawn by views/plain.py
    where that gives rich's text (without importing rich), else by rich; on ``console`` when one is given. With
    ``out``, only drawn there by views/plain.py, if it can: whether it did."""
    plain_only = out is not None
    out = out or (plain.output() if console is None else None)
    if out is None and console is None and len(cells) > MAX_RICH_ROWS:
        out = plain.Output(sys.stdout, wide_console().width, False)  # rich would take seconds over it
    if out is not None:
        shown, dropped = fit_columns(cells, out.width, fit)
        least = min_widths(cells, fit)
        index = [fit.columns.index(col) for col in shown]
        args = (title, shown, [tuple(row[i] for i in index) for row in cells], [c in fit.right for c in shown], out)
        text = plain.table(*args, [least[c] for c in shown])
        after = [plain.line(x, out) for x in ([_left_out(out.width, dropped, fit)] if dropped else []) + lines]
        if text is not None and None not in after:
            out.file.write(text + "".join(after))
            return True
        if len(cells) > MAX_RICH_ROWS and not plain_only:  # drawn plainly: rich takes ~0.4 ms a row
            text = plain.folded_table(*args, [least[c] for c in shown], [c in fit.folds for c in shown])
            more = [_left_out(out.width, dropped, fit)] if dropped else []
            out.file.write(text + "".join(y or x + "\n" for x, y in zip(more + lines, after)))
            return True
    if plain_only:
        return False
    console = console or wide_console()
    fitted_table(console, title, cells, fit)
    for line in lines:
        console.print(line)
    return False


def table(a: Analysis, console: Console | None = None, depth: int | None = None, opts: Options | None = None) -> None:
    """The report as a terminal table that fits the console: names and ops fold, numbers never do; a column
    that does not fit is left out, and a line under the table says which."""
    opts = opts or Options(depth=depth)
    title = (
        a.name
        if opts.depth is None
        else f"{a.name} (blocks rolled up at depth {opts.depth}; --depth all shows every layer)"
    )
    printed(title, rows(a, opts=opts, bars=True), REPORT_FIT, summary_lines(a, opts), console)


def markdown(a: Analysis, depth: int | None = None, opts: Options | None = None) -> str:
    opts = opts or Options(depth=depth)
    out = [f"# {a.name}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(r.replace("|", "\\|") for r in row) + " |" for row in rows(a, opts=opts)]
    out += [""] + [f"- {line.strip()}" for line in summary_lines(a, opts)]
    return "\n".join(out) + "\n"


CSV_COLUMNS = ("layer", "op", "output_shape", "params", "macs", "activations", "rf_size", "rf_stride")


def to_csv(a: Analysis, opts: Options = Options()) -> str:
    """Plain numbers (no separators), one row per layer or block; a spreadsheet's input."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in table_rows(a, opts):
        size, stride = r.receptive_field.split("/") if "/" in r.receptive_field else ("", "")
        w.writerow(
            (
                r.name,
                r.describe,
                a.rows_text(r.rows) + shape_str(r.output_shape, opts.hwc),
                r.params,
                r.macs * opts.batch,
                r.activations * opts.batch,
                size,
                stride,
            )
        )
    return buf.getvalue()


def to_json(a: Analysis) -> str:
    return json.dumps(a.model_dump(mode="json"), indent=2)


DIFF_COLUMNS = (
    "stage",
    "output A",
    "output B",
    "params A",
    "params B",
    "MACs A",
    "MACs B",
    "activations A",
    "activations B",
)


# a narrow terminal leaves out a pair of columns at a time, activations first; stage names fold
DIFF_FIT = Fit(
    DIFF_COLUMNS,
    (("activations A", "activations B"), ("output A", "output B"), ("MACs A", "MACs B")),
    ("stage",),
    tuple(c for c in DIFF_COLUMNS if not c.startswith(("stage", "output"))),
    "markdown or json",
)


def diff_rows(a: Analysis, b: Analysis, depth: int | None = 1) -> list[tuple[str, ...]]:
    """Two analyses side by side, one row per stage (naming level ``depth``), matched by name in the
    order they first appear; a stage only one network has shows blanks for the other."""
    ra = {r.name: r for r in table_rows(a, Options(depth=depth))}
    rb = {r.name: r for r in table_rows(b, Options(depth=depth))}
    names = list(ra) + [n for n in rb if n not in ra]

    def cells(r: Row | None) -> tuple[str, str, str, str]:
        if r is None:
            return ("", "", "", "")
        rows = f"{r.rows}×" if r.rows > 1 else ""
        return (rows + shape_str(r.output_shape), f"{r.params:,}", f"{r.macs:,}", f"{r.activations:,}")

    out = []
    for n in names:
        (sa, pa, ma, aa), (sb, pb, mb, ab) = cells(ra.get(n)), cells(rb.get(n))
        out.append((n, sa, sb, pa, pb, ma, mb, aa, ab))
    return out


def diff_totals(a: Analysis, b: Analysis) -> list[tuple[str, int, int, str]]:
    """(what, A, B, B/A) for the totals that matter when comparing two designs."""
    ta, tb = a.totals, b.totals
    pairs = [
        ("params", ta.params, tb.params),
        ("MACs", ta.macs, tb.macs),
        ("activations", ta.activations, tb.activations),
        ("inference peak", ta.peak_activations, tb.peak_activations),
        ("saved for backward", ta.saved_activations, tb.saved_activations),
    ]
    return [(what, x, y, f"{y / x:.3f}x" if x else "-") for what, x, y in pairs]


def diff_table(a: Analysis, b: Analysis, depth: int | None = 1, console: Console | None = None) -> None:
    from rich.table import Table

    console = console or wide_console()
    fitted_table(console, f"A = {a.name}, B = {b.name}", diff_rows(a, b, depth), DIFF_FIT)
    totals = Table(header_style="bold")
    for col in ("total", "A", "B", "B / A"):
        totals.add_column(col, justify="left" if col == "total" else "right")
    for what, x, y, ratio in diff_totals(a, b):
        totals.add_row(what, f"{x:,}", f"{y:,}", ratio)
    console.print(totals)
    console.print(f"outputs: A {a.outputs_text()}; B {b.outputs_text()}")


def diff_markdown(a: Analysis, b: Analysis, depth: int | None = 1) -> str:
    """``archdsl diff --format markdown``: the stages and the totals as two markdown tables."""
    out = [
        f"# A = {a.name}, B = {b.name}",
        "",
        "| " + " | ".join(DIFF_COLUMNS) + " |",
        "|" + "---|" * len(DIFF_COLUMNS),
    ]
    out += ["| " + " | ".join(row) + " |" for row in diff_rows(a, b, depth)]
    out += ["", "| total | A | B | B / A |", "|---|---:|---:|---:|"]
    out += [f"| {what} | {x:,} | {y:,} | {ratio} |" for what, x, y, ratio in diff_totals(a, b)]
    return "\n".join(out) + "\n"


def diff_json(a: Analysis, b: Analysis, depth: int | None = 1) -> str:
    """``archdsl diff --format json``: per stage and in total, plain numbers (null where a network lacks the
    stage)."""
    ra = {r.name: r for r in table_rows(a, Options(depth=depth))}
    rb = {r.name: r for r in table_rows(b, Options(depth=depth))}

    def record(r: Row | None) -> dict | None:
        if r is None:
            return None
        return {"output": list(r.output_shape), "params": r.params, "macs": r.macs, "activations": r.activations}

    stages = [
        {"stage": n, "A": record(ra.get(n)), "B": record(rb.get(n))} for n in [*ra, *(n for n in rb if n not in ra)]
    ]
    totals = {what: {"A": x, "B": y} for what, x, y, _ in diff_totals(a, b)}
    return json.dumps({"A": a.name, "B": b.name, "depth": depth, "stages": stages, "totals": totals}, indent=2)
