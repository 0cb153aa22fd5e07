"""The complexity chart of the lectures (Canziani, Paszke, Culurciello 2017, "An Analysis of Deep Neural Network
Models for Practical Applications", Fig. 2): each network's published top-1 accuracy against its operations, the
bubble's area its parameters; or parameters against operations, which needs no accuracy.

matplotlib is imported here only, inside the functions that draw (its Agg canvas: no display, no pyplot state),
so that nothing else in archdsl needs it; :func:`require` turns its absence into a usage error that names the
``plot`` extra.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ArchError, UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("png", "svg", "pdf")
CREATOR = "archdsl plot"  # in every file's metadata (output.py recognises the SVG by it)
MAX_AREA = 2400.0  # points^2: the largest network's bubble; the others' areas are in proportion to their parameters
POINT_AREA = 50.0  # points^2: a marker when the parameters are on an axis already
LOG_RATIO = 20  # auto scale: logarithmic when the largest value is at least this many times the smallest

# what each axis shows: the Point field, its label
AXES = {
    "macs": ("macs", "operations: multiply-accumulates per image, at each spec's input size"),
    "params": ("params", "parameters"),
    "top1": ("top1", "top-1 accuracy (%), ImageNet, as published"),
}


@dataclass(frozen=True)
class Point:
    """One network of the chart: its name, exact parameters and MACs (the analysis'), and its published top-1
    (None where its spec states none) with the source the spec cites."""

    name: str
    params: int
    macs: int
    top1: float | None = None
    source: str | None = None

    def value(self, axis: str) -> float | None:
        return getattr(self, AXES[axis][0])


def require() -> None:
    """Nothing, or a UsageError (exit 2) when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("archdsl plot needs matplotlib: pip install 'archdsl[plot]'") from None


def axes(points: list[Point], x: str = "macs", y: str = "top1") -> tuple[str, str]:
    """The axes the chart draws: ``x``, ``y`` as asked, but parameters against MACs when the y axis is top-1 and no
    network has one (nothing else could be drawn)."""
    for axis in (x, y):
        if axis not in AXES:
            raise ArchError(f"no axis '{axis}'", None, f"the axes are {', '.join(AXES)}")
    if x == y:
        raise ArchError(f"both axes show '{x}'", None, "give the other axis another quantity")
    if "top1" in (x, y) and not any(p.top1 is not None for p in points):
        return ("macs", "params") if x != "params" else ("params", "macs")
    return x, y


def left_out(points: list[Point], x: str, y: str) -> list[str]:
    """The networks a chart of ``x`` against ``y`` cannot place: those without a published top-1 when it is an
    axis."""
    return [p.name for p in points if p.value(x) is None or p.value(y) is None]


def chart(
    points: list[Point],
    x: str = "macs",
    y: str = "top1",
    xscale: str = "auto",
    yscale: str = "auto",
    title: str | None = None,
) -> Figure:
    """The chart of ``y`` against ``x`` as a matplotlib Figure (not shown, not saved: :func:`save`).

    One circle per network that has both values (its ``offsets`` are the exact MACs, parameters or published
    top-1), labelled with its name; with parameters on neither axis the circle's area is in proportion to the
    network's parameters (the largest is ``MAX_AREA`` points^2) and a legend gives the scale. The networks left
    out (:func:`left_out`) are named in a note under the chart."""
    from matplotlib import patheffects, ticker
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if x == y or x not in AXES or y not in AXES:
        raise ArchError(f"cannot draw '{y}' against '{x}'", None, f"the axes are {', '.join(AXES)}, one each")
    drawn = [p for p in points if p.value(x) is not None and p.value(y) is not None]
    bubbles = "params" not in (x, y)
    fig = Figure(figsize=(10, 6.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, which="major", color="0.88", linewidth=0.8)
    ax.set_axisbelow(True)
    xs = [float(p.value(x)) for p in drawn]
    ys = [float(p.value(y)) for p in drawn]
    biggest = max((p.params for p in drawn), default=1) or 1
    sizes = [MAX_AREA * p.params / biggest if bubbles else POINT_AREA for p in drawn]
    colours = [_colour(i, len(drawn)) for i in range(len(drawn))]
    scatter = ax.scatter(xs, ys, s=sizes, c=colours, alpha=0.55, edgecolors=colours, linewidths=1.0, zorder=2)
    scatter.set_gid("networks")
    for axis, scale, values, set_scale in ((x, xscale, xs, ax.set_xscale), (y, yscale, ys, ax.set_yscale)):
        if _log(axis, scale, values):
            set_scale("log")
    for axis, which in ((x, ax.xaxis), (y, ax.yaxis)):
        if axis != "top1":
            which.set_major_formatter(ticker.EngFormatter(sep=""))
            if which.get_scale() == "log":
                which.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
                which.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel(AXES[x][1])
    ax.set_ylabel(AXES[y][1])
    ax.set_title(title if title is not None else _title(x, y, bubbles), fontsize=12)
    _margins(ax, xs, ys, sizes)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white", alpha=0.8)]
    labels = [
        ax.annotate(
            p.name,
            (vx, vy),
            xytext=(_radius(s) + 3, 0),
            textcoords="offset points",
            fontsize=8,
            va="center",
            path_effects=halo,  # readable over a bubble
        )
        for p, vx, vy, s in zip(drawn, xs, ys, sizes)
    ]
    if bubbles and drawn:
        handles, texts = scatter.legend_elements(
            prop="sizes", num=4, func=lambda s: s / MAX_AREA * biggest / 1e6, fmt="{x:.3g}M", color="0.6", alpha=0.5
        )
        fig.legend(
            handles,
            texts,
            title="parameters\n(bubble area)",
            loc="outside right upper",
            labelspacing=4.0,
            borderpad=1.2,
            handletextpad=1.2,
            frameon=False,
            fontsize=8,
            title_fontsize=8,
        )
    missing = left_out(points, x, y)
    notes = []
    if missing:
        notes.append(f"No published top-1 in their specs, not drawn: {', '.join(missing)}.")
    if "top1" in (x, y) and drawn:
        notes.append("Top-1: each spec's '# top-1:' line and the source it cites (docs/library.md).")
    if notes:
        fig.text(0.01, 0.005, textwrap.fill(" ".join(notes), 170), fontsize=7, color="0.35", va="bottom")
        fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))
    _spread(fig, labels)
    for label, s in zip(labels, sizes):  # a label moved off its point gets a thin line to it
        if abs(label.xyann[1]) > 1:
            ax.annotate("", label.xy, xytext=label.xyann, textcoords="offset points", arrowprops=_leader(s), zorder=1)
    return fig


def save(fig: Figure, path: str | Path) -> None:
    """Write the chart to ``path``, the format its suffix (.png, .svg, .pdf), through a temporary file beside it
    (archdsl/output.py)."""
    from matplotlib import rc_context

    from .. import output

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ArchError(f"cannot plot to '{path.suffix or path.name}'", None, "name the output .png, .svg or .pdf")
    metadata = {"png": {"Software": CREATOR}, "svg": {"Creator": CREATOR, "Date": None}}
    metadata["pdf"] = {"Creator": CREATOR, "CreationDate": None}
    with rc_context({"svg.hashsalt": "archdsl", "svg.fonttype": "path"}), output.replacing(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=150, metadata=metadata[fmt])


def _title(x: str, y: str, bubbles: bool) -> str:
    names = {"macs": "operations", "params": "parameters", "top1": "top-1 accuracy"}
    text = f"{names[y][0].upper()}{names[y][1:]} against {names[x]}"
    return f"{text} (bubble area: parameters)" if bubbles else text


def _log(axis: str, scale: str, values: list[float]) -> bool:
    if scale not in ("auto", "linear", "log"):
        raise ArchError(f"no scale '{scale}'", None, "the scales are auto, linear and log")
    if scale != "auto":
        return scale == "log"
    positive = [v for v in values if v > 0]
    return axis != "top1" and bool(positive) and max(positive) >= LOG_RATIO * min(positive)


def _radius(area: float) -> float:
    """A circle marker's radius in points, from its area in points^2 as scatter takes it (the square it fills)."""
    return math.sqrt(area) / 2


def _leader(area: float) -> dict:
    return {"arrowstyle": "-", "color": "0.6", "linewidth": 0.5, "shrinkA": 2, "shrinkB": _radius(area)}


def _colour(i: int, n: int) -> tuple:
    """Ten strong colours for ten networks or fewer, twenty (their lighter shades too) beyond."""
    from matplotlib import colormaps

    return colormaps["tab10"](i % 10) if n <= 10 else colormaps["tab20"](i % 20)


def _margins(ax, xs: list[float], ys: list[float], sizes: list[float]) -> None:
    """Room around the points for the largest bubble and the labels to its right."""
    if not xs:
        return
    ax.margins(x=0.12, y=0.1)
    ax.autoscale_view()
    if ax.get_xscale() == "log":
        lo, hi = min(xs), max(xs)
        ax.set_xlim(lo / 1.6, hi * 2.2)
    if ax.get_yscale() == "log":
        lo, hi = min(ys), max(ys)
        ax.set_ylim(lo / 1.6, hi * 1.6)


def _spread(fig: Figure, labels: list) -> None:
    """Move labels that overlap apart vertically (a few passes; each label keeps a thin line to its point)."""
    if len(labels) < 2:
        return
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    step = 72.0 / fig.dpi  # display pixels → points

    def extent(label):  # the text's box, without the line to its point
        label.update_positions(renderer)
        return Text.get_window_extent(label, renderer)

    for _ in range(60):
        boxes = [extent(t) for t in labels]
        moved = False
        for i in range(len(labels)):
            for j in range(i + 1, len(labels)):
                a, b = boxes[i], boxes[j]
                if not (a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1):
                    continue
                overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
                low, high = (i, j) if (a.y0 + a.y1, i) < (b.y0 + b.y1, j) else (j, i)
                for k, sign in ((low, -1), (high, 1)):
                    dx, dy = labels[k].xyann
                    labels[k].xyann = (dx, dy + sign * (overlap / 2 + 1) * step)
                boxes[low], boxes[high] = extent(labels[low]), extent(labels[high])
                moved = True
        if not moved:
            break
