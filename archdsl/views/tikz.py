"""A diagram as a TikZ picture in PlotNeuralNet's style: each layer a 3D box whose height and depth grow
with the map's height and width and whose thickness grows with the channels (log-scaled), its op and shape
written under it; merges as balls; shortcuts and skip connections as dashed arrows over the boxes.

The file is a ``standalone`` document that needs only TikZ (``pdflatex net.tex``); the
``tikzpicture`` inside can be pasted into a paper that loads tikz. Layout: left to right by the longest
path from the input, parallel branches one above the other.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from math import log2, sqrt

from ..limits import MAX_EXTENT
from .diagram import (
    DEFAULT_COLOR,
    DENSE_COLOR,
    PALETTE,
    REF_COLOR,
    SHORTCUT_COLOR,
    SKIP_COLOR,
    Box,
    Diagram,
    clip,
    color,
    notes_text,
)

DEPTH = 0.35  # the oblique offset of a box's depth, per unit of depth
GAP = 0.45  # between columns, besides the widest label
LABEL = 1.1  # room for the labels under a box, in cm
CHAR = 0.16  # about the width of a bold \scriptsize character, in cm

PREAMBLE = r"""\documentclass[tikz, border=8pt]{standalone}
% Written by archdsl render. Needs TikZ only: pdflatex FILE.tex
% \archbox{id}{x}{y}{width}{height}{depth}{colour}{label}: a layer, its front face's left edge centred at (x, y)
\newcommand{\archbox}[8]{%
  \pgfmathsetmacro\archxa{#2}\pgfmathsetmacro\archxb{#2+#4}%
  \pgfmathsetmacro\archya{#3-#5/2}\pgfmathsetmacro\archyb{#3+#5/2}%
  \pgfmathsetmacro\archd{0.35*#6}%
  \filldraw[fill=#7, draw=black!60, line join=round] (\archxa,\archya) rectangle (\archxb,\archyb);
  \filldraw[fill=#7!55!white, draw=black!60, line join=round]
    (\archxa,\archyb) -- ++(\archd,\archd) -- ++(#4,0) -- (\archxb,\archyb) -- cycle;
  \filldraw[fill=#7!80!black, draw=black!60, line join=round]
    (\archxb,\archya) -- ++(\archd,\archd) -- ++(0,#5) -- (\archxb,\archyb) -- cycle;
  \pgfmathsetmacro\archxe{#2+#4+\archd/2}\pgfmathsetmacro\archye{#3+\archd/2}%
  \pgfmathsetmacro\archxn{#2+#4/2+\archd/2}\pgfmathsetmacro\archyn{\archyb+\archd}%
  \pgfmathsetmacro\archxs{#2+#4/2}%
  \coordinate (#1-w) at (\archxa,#3);
  \coordinate (#1-e) at (\archxe,\archye);
  \coordinate (#1-n) at (\archxn,\archyn);
  \node[anchor=north, font=\scriptsize, align=center, inner sep=2pt] at (\archxs,\archya) {#8};
}
% \archball{id}{x}{y}{symbol}{label}: a merge (+, concat, mean)
\newcommand{\archball}[5]{%
  \node[circle, draw=black!60, fill=white, inner sep=1pt, minimum size=5mm, font=\scriptsize] (#1) at (#2,#3) {#4};
  \coordinate (#1-w) at (#1.west);
  \coordinate (#1-e) at (#1.east);
  \coordinate (#1-n) at (#1.north);
  \node[anchor=north, font=\scriptsize, align=center, inner sep=2pt] at (#1.south) {#5};
}
% \archout{id}{x}{y}{label}: an output of the network
\newcommand{\archout}[4]{%
  \node[draw=black!60, fill=archoutput, rounded corners=2pt, font=\scriptsize, align=center] (#1) at (#2,#3) {#4};
  \coordinate (#1-w) at (#1.west);
}
"""


def latex(text: str) -> str:
    """Plain text for LaTeX: its special characters escaped, control characters (a newline would end a
    comment) as '?', at most render.MAX_TEXT characters."""
    out = []
    for ch in clip(text):
        if ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch == "~":
            out.append(r"\textasciitilde{}")
        elif ch == "^":
            out.append(r"\textasciicircum{}")
        elif ch == "\\":
            out.append(r"\textbackslash{}")
        elif ch == "·":
            out.append(r"$\cdot$")
        elif ch == "×":
            out.append(r"$\times$")
        elif ch == "…":
            out.append(r"\dots{}")
        elif ch == "–":  # a stack of blocks, layer3.1–35
            out.append("--")
        else:
            out.append(ch)
    return "".join(out)


def _shape(shape: tuple[int, ...], hwc: bool, rows: int = 1) -> str:
    """``512 x 7 x 7`` in TeX's times signs; one row per region: ``R x 512 x 7 x 7``."""
    if hwc and len(shape) == 3:
        shape = (shape[1], shape[2], shape[0])
    return ("R" if rows > 1 else "") + "".join(
        rf"$\times${d}" if i or rows > 1 else str(d) for i, d in enumerate(shape)
    )


def _f(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") if x != 0 else "0"


class _Geometry:
    """Sizes of the boxes: height and depth from the map's height and width (square root of the ratio to
    the largest map), width from the channels (log2)."""

    def __init__(self, d: Diagram):
        spatial = [b.shape[1:] for b in d.boxes.values() if len(b.shape) == 3]
        self.hmax = max((s[0] for s in spatial), default=1) or 1
        self.wmax = max((s[1] for s in spatial), default=1) or 1
        vectors = [b.shape[0] for b in d.boxes.values() if len(b.shape) == 1]
        self.nmax = max(vectors, default=1)

    def size(self, box: Box) -> tuple[float, float, float]:
        """(width, height, depth) in cm."""
        s = box.shape
        if len(s) == 3:
            c, h, w = s
            return (0.1 + 0.12 * log2(c + 1), 0.3 + 3.0 * sqrt(h / self.hmax), 0.3 + 3.0 * sqrt(w / self.wmax))
        if len(s) == 1:  # a vector: a thin tall slab, as PlotNeuralNet draws fc layers
            return 0.25, 0.5 + 2.5 * log2(s[0] + 1) / log2(self.nmax + 2), 0.25
        return 0.5, 0.5, 0.5


def _colour_name(box: Box) -> str:
    return "arch" + ("block" if box.kind == "block" and box.op == "block" else box.op.replace("_", ""))


def _ranks(d: Diagram) -> dict[str, int]:
    """Column of each box: its longest path from a source along data edges (references do not count)."""
    preds: dict[str, list[str]] = {b: [] for b in d.boxes}
    for e in d.edges:
        if e.kind != "ref":
            preds[e.dst].append(e.src)
    rank: dict[str, int] = {}
    for b in d.boxes:  # boxes are in topological order, outputs last
        rank[b] = max((rank[p] + 1 for p in preds[b] if p in rank), default=0)
    # a short branch (a crop on a skip connection, a projection) sits just before where it joins
    succs: dict[str, list[str]] = {b: [] for b in d.boxes}
    for e in d.edges:
        if e.kind not in ("ref", "output"):
            succs[e.src].append(e.dst)
    for b in reversed(list(d.boxes)):
        if succs[b]:
            rank[b] = max(rank[b], min(rank[s] for s in succs[b]) - 1)
    return rank


def _lanes(d: Diagram, rank: dict[str, int]) -> dict[str, int]:
    """Row of each box: that of its main input when free in its column, else the nearest free one."""
    first: dict[str, str] = {}
    for e in sorted(d.edges, key=lambda e: e.kind != "data"):  # the main input before skips and shortcuts
        if e.kind != "ref" and e.dst not in first:
            first[e.dst] = e.src
    taken: dict[int, set[int]] = {}
    lane: dict[str, int] = {}
    resume: dict[tuple[int, int], int] = {}  # (column, wanted row) → the first step not yet known taken
    for b in d.boxes:
        want = lane.get(first.get(b, ""), 0)
        used = taken.setdefault(rank[b], set())
        step = resume.get((rank[b], want), 0)  # rows are never freed: the steps before were all taken
        while True:
            cand = want + ((step + 1) // 2) * (-1 if step % 2 else 1) if step else want
            if cand not in used:
                break
            step += 1
        resume[(rank[b], want)] = step + 1
        used.add(cand)
        lane[b] = cand
    return lane


class _Highest:
    """The highest top of the boxes whose x lies in a range, in O(log n) a question (a sparse table)."""

    def __init__(self, xs_tops: list[tuple[float, float]]):
        xs_tops = sorted(xs_tops)
        self.xs = [x for x, _ in xs_tops]
        self.table = [[t for _, t in xs_tops]]
        width = 1
        while 2 * width <= len(self.xs):
            row = self.table[-1]
            self.table.append([max(row[i], row[i + width]) for i in range(len(row) - width)])
            width *= 2

    def __call__(self, x0: float, x1: float) -> float | None:
        lo, hi = bisect_left(self.xs, x0), bisect_right(self.xs, x1)
        if lo >= hi:
            return None
        k = (hi - lo).bit_length() - 1
        return max(self.table[k][lo], self.table[k][hi - (1 << k)])


class _Spans:
    """The arcs already drawn over the boxes: (x0, x1, level), in the order drawn; :meth:`overlapping` finds
    those that overlap a range without looking at the rest (a chain of shortcuts overlaps none)."""

    def __init__(self):
        self.by_end: list[tuple[float, int, float, float]] = []  # (x1, order, x0, level), sorted

    def overlapping(self, x0: float, x1: float) -> list[tuple[float, float, float]]:
        i = bisect_right(self.by_end, (x0, float("inf")))
        found = sorted((n, a0, a1, lv) for a1, n, a0, lv in self.by_end[i:] if a0 < x1)
        return [(a0, a1, lv) for _, a0, a1, lv in found]

    def add(self, x0: float, x1: float, level: float) -> None:
        insort(self.by_end, (x1, len(self.by_end), x0, level))


def _label(box: Box, hwc: bool) -> str:
    lines = [r"\textbf{" + latex(box.title) + "}"]
    if box.notes and box.kind != "block":
        lines.append(latex(notes_text(box.notes)))
    if box.kind == "block" and box.op != "block":
        lines.append(latex(box.name))
    if box.shape:
        lines.append(_shape(box.shape, hwc, box.rows))
    return r"\\".join(lines)


@dataclass
class _Place:
    """Where each box goes: its column (rank) and row (lane), its size (w, h, depth) and lower left corner;
    the picture's width and the rows' heights."""

    rank: dict[str, int]
    lane: dict[str, int]
    sizes: dict[str, tuple[float, float, float]]
    pos: dict[str, tuple[float, float]]
    width: float
    row_y: dict[int, float]
    tall: dict[int, float]

    def top(self, b: str) -> float:
        return self.pos[b][1] + self.sizes[b][1] / 2 + DEPTH * self.sizes[b][2]


# --fit: the most a fitted picture may take, (width, height); a Beamer 16:9 frame is 16 x 9 cm, its title over it
FITS = {"page": ("16cm", "22cm"), "slide": ("15cm", "7.5cm")}


def to_tikz(d: Diagram, width: str | None = None, height: str | None = None) -> str:
    """The diagram as a standalone LaTeX document with one TikZ picture (PlotNeuralNet's look). With ``width``
    (a TeX length: ``16cm``), the picture is scaled to that width, or to ``height`` when that is reached first
    (``FITS`` holds a page's and a slide's): TeX measures it and ``\\resizebox`` scales it, labels too."""
    place = _place(d)
    ids = {b: f"n{i}" for i, b in enumerate(d.boxes)}
    out = [PREAMBLE, *_colour_lines(d), *_picture_head(d, place)]
    out += _cluster_lines(d, place)
    out += _box_lines(d, place, ids)
    out += _edge_lines(d, place, ids)
    out += ["\\end{tikzpicture}", "\\end{document}"]
    if width is not None:
        out = _fitted(out, width, height)
    return "\n".join(out) + "\n"


def _fitted(lines: list[str], width: str, height: str | None) -> list[str]:
    """The document with its picture boxed and scaled to ``width`` (or ``height``, when the picture at that
    width would be taller). The standalone class's ``tikz`` option makes each tikzpicture a page of its own,
    which cannot stand in a box: the class is loaded without it, and tikz as a package."""
    head = "\\documentclass[tikz, border=8pt]{standalone}\n"
    assert lines[0].startswith(head)
    lines = ["\\documentclass[border=8pt]{standalone}\n\\usepackage{tikz}\n" + lines[0].removeprefix(head), *lines[1:]]
    begin = next(i for i, line in enumerate(lines) if line == "\\begin{document}")
    pic = lines.index("\\begin{tikzpicture}[")
    end = lines.index("\\end{tikzpicture}")
    fit = [f"% scaled to {width} wide" + (f", or {height} high when that comes first" if height else "")]
    fit.append(f"\\sbox\\archfitted{{\\resizebox{{{width}}}{{!}}{{\\usebox\\archpicture}}}}%")
    if height:
        fit.append(
            f"\\ifdim\\ht\\archfitted>{height}\\relax\\resizebox{{!}}{{{height}}}{{\\usebox\\archpicture}}"
            "\\else\\usebox\\archfitted\\fi"
        )
    else:
        fit.append("\\usebox\\archfitted")
    return [
        *lines[:begin],
        "\\newsavebox\\archpicture",
        "\\newsavebox\\archfitted",
        *lines[begin:pic],
        "\\sbox\\archpicture{%",
        *lines[pic:end],
        "\\end{tikzpicture}%",
        "}%",
        *fit,
        *lines[end + 1 :],
    ]


def _place(d: Diagram) -> _Place:
    geo = _Geometry(d)
    rank = _ranks(d)
    lane = _lanes(d, rank)
    sizes = {b: geo.size(box) for b, box in d.boxes.items()}
    # columns: as wide as their widest box (with its depth) or label
    colw = [0.0] * (max(rank.values(), default=0) + 1)
    for b, box in d.boxes.items():
        w, h, dp = sizes[b]
        colw[rank[b]] = max(colw[rank[b]], w + DEPTH * dp, CHAR * _text_width(box))
    xs, x = [], 0.0
    for w in colw:
        xs.append(x)
        x += w + GAP
    # rows: stacked by the tallest box of each (with room for the labels under it); row -1 is above row 0
    tall: dict[int, float] = {}
    for b in d.boxes:
        w, h, dp = sizes[b]
        tall[lane[b]] = max(tall.get(lane[b], 0.0), h + DEPTH * dp)
    row_y = {0: 0.0}
    for r in range(1, max(tall) + 1):
        row_y[r] = row_y[r - 1] - (tall.get(r - 1, 0.0) / 2 + LABEL + tall.get(r, 0.0) / 2)
    for r in range(-1, min(tall) - 1, -1):
        row_y[r] = row_y[r + 1] + (tall.get(r + 1, 0.0) / 2 + LABEL + tall.get(r, 0.0) / 2)
    pos = {}
    for b in d.boxes:
        w, h, dp = sizes[b]
        pos[b] = (xs[rank[b]] + (colw[rank[b]] - w - DEPTH * dp) / 2, row_y[lane[b]])
    return _Place(rank, lane, sizes, pos, x, row_y, tall)


def _text_width(box: Box) -> int:
    """Characters of the widest line written under a box."""
    return max(
        [
            len(clip(box.title)),
            len(notes_text(box.notes)) if box.kind != "block" else 0,
            len(box.name) if box.kind == "block" else 0,
            3 * len(box.shape) + 4,
        ]
    )


def _colour_lines(d: Diagram) -> list[str]:
    colours = {
        "archblock": PALETTE["block"],
        "archoutput": PALETTE["output"],
        "archdefault": DEFAULT_COLOR,
        "archskip": SKIP_COLOR,
        "archshortcut": SHORTCUT_COLOR,
        "archref": REF_COLOR,
    }
    if any(e.kind == "dense" for e in d.edges):
        colours["archdense"] = DENSE_COLOR
    for box in d.boxes.values():
        name = _colour_name(box)
        if name not in colours:
            colours[name] = color(box.op)
    return [f"\\definecolor{{{k}}}{{HTML}}{{{v.lstrip('#')}}}" for k, v in colours.items()]


def _picture_head(d: Diagram, place: _Place) -> list[str]:
    title = f"{d.name}: {d.params:,} params, {d.macs:,} MACs"
    dense = any(e.kind == "dense" for e in d.edges)
    # TeX's lengths stop at about 575 cm (and PDF viewers' pages at 508 cm): shrink a very long picture whole
    rows = place.row_y.values()
    extent = max(place.width, max(rows) - min(rows) + max(place.tall.values(), default=0.0) + LABEL)
    scale = min(1.0, MAX_EXTENT / extent) if extent else 1.0
    units = (
        "" if scale == 1.0 else (f"  x={_f(scale)}cm, y={_f(scale)}cm, every node/.append style={{scale={_f(scale)}}},")
    )
    return [
        "\\begin{document}",
        f"% {latex(title)}",
        "\\begin{tikzpicture}[",
        *([units] if units else []),
        "  archedge/.style={->, >=latex, draw=black!70, line width=0.5pt},",
        "  archskip/.style={->, >=latex, dashed, draw=archskip, line width=0.7pt},",
        "  archshortcut/.style={->, >=latex, dashed, draw=archshortcut, line width=0.7pt},",
        "  archref/.style={->, >=stealth, dotted, draw=archref, line width=0.5pt},",
        *(["  archdense/.style={->, >=latex, draw=archdense, line width=0.4pt},"] if dense else []),
        "]",
    ]


def _cluster_lines(d: Diagram, place: _Place) -> list[str]:
    """Clusters first, under everything: a dashed frame round each block's boxes."""
    pos, sizes = place.pos, place.sizes
    bottom = {b: pos[b][1] - sizes[b][1] / 2 - 0.75 for b in d.boxes}
    right = {b: pos[b][0] + sizes[b][0] + DEPTH * sizes[b][2] for b in d.boxes}
    nest = max((len(b.clusters) for b in d.boxes.values()), default=0)
    out = []
    for c, members in sorted(d.clusters.items(), key=lambda kv: kv[0].count(".")):
        level = next(i for i, b in enumerate(d.boxes[members[0]].clusters) if b == c)
        m = 0.12 + 0.14 * (nest - level)
        x0 = min(pos[b][0] for b in members) - m
        x1 = max(right[b] for b in members) + m
        y0 = min(bottom[b] for b in members) - m
        y1 = max(place.top(b) for b in members) + m + 0.3
        out.append(
            f"\\draw[dashed, draw=black!35, rounded corners=3pt] ({_f(x0)},{_f(y0)}) rectangle "
            f"({_f(x1)},{_f(y1)}) node[anchor=north west, font=\\tiny, text=black!60] at "
            f"({_f(x0)},{_f(y1)}) {{{latex(c if c not in d.repeats else f'{c} ×{d.repeats[c]}')}}};"
        )
    return out


def _box_lines(d: Diagram, place: _Place, ids: dict[str, str]) -> list[str]:
    out = []
    for b, box in d.boxes.items():
        x, y = place.pos[b]
        w, h, dp = place.sizes[b]
        out.append(f"% {latex(b)}")
        if box.kind == "output":
            out.append(
                f"\\archout{{{ids[b]}}}{{{_f(x + 0.4)}}}{{{_f(y)}}}{{\\textbf{{{latex(box.title)}}}\\\\"
                f"{_shape(box.shape, d.hwc, box.rows)}}}"
            )
        elif box.kind == "merge":
            sign = box.layers[0].kind.symbol
            symbol = "+" if sign == "+" else rf"\textbf{{{sign}}}" if sign else latex(box.title)
            out.append(f"\\archball{{{ids[b]}}}{{{_f(x + 0.25)}}}{{{_f(y)}}}{{{symbol}}}{{{_label(box, d.hwc)}}}")
        else:
            out.append(
                f"\\archbox{{{ids[b]}}}{{{_f(x)}}}{{{_f(y)}}}{{{_f(w)}}}{{{_f(h)}}}{{{_f(dp)}}}"
                f"{{{_colour_name(box)}}}{{{_label(box, d.hwc)}}}"
            )
    return out


def _edge_lines(d: Diagram, place: _Place, ids: dict[str, str]) -> list[str]:
    """Straight between neighbours, over the top for shortcuts and skips (stacked when they overlap)."""
    pos, rank, lane = place.pos, place.rank, place.lane
    spans, highest = _Spans(), _Highest([(pos[b][0], place.top(b)) for b in d.boxes])
    out = []
    for e in d.edges:
        u, v = ids[e.src], ids[e.dst]
        if e.kind in ("skip", "shortcut") and (lane[e.src] != lane[e.dst] and rank[e.dst] - rank[e.src] <= 1):
            label = f" node[midway, sloped, above, font=\\tiny] {{{_shape(e.shape, d.hwc, e.rows)}}}" if e.label else ""
            out.append(f"\\draw[arch{e.kind}] ({u}-e) --{label} ({v}-w);")
        elif e.kind in ("skip", "shortcut"):
            x0, x1 = pos[e.src][0], pos[e.dst][0]
            level = (highest(x0, x1) or 0.0) + 0.35
            for _, _, lv in spans.overlapping(x0, x1):
                if abs(lv - level) < 0.25:
                    level = lv + 0.3
            spans.add(x0, x1, level)
            label = f" node[midway, above, font=\\tiny] {{{_shape(e.shape, d.hwc, e.rows)}}}" if e.label else ""
            out.append(
                f"\\draw[arch{e.kind}] ({u}-n) -- ({u}-n |- 0,{_f(level)}) --{label} "
                f"({v}-n |- 0,{_f(level)}) -- ({v}-n);"
            )
        elif e.kind == "dense" and e.label:  # all of a dense block's earlier maps, in one edge
            label = f" node[midway, above, font=\\tiny, text=archdense] {{{_shape(e.shape, d.hwc, e.rows)}}}"
            out.append(f"\\draw[archdense, line width=1.2pt] ({u}-e) --{label} ({v}-w);")
        elif e.kind == "dense":  # DenseNet: from an earlier layer of the block, arching over the ones between
            out.append(f"\\draw[archdense] ({u}-n) to[out=75, in=105] ({v}-n);")
        elif e.kind == "ref":
            out.append(f"\\draw[archref] ({u}-e) -- ({v}-w);")
        else:
            out.append(f"\\draw[archedge] ({u}-e) -- ({v}-w);")
    return out
