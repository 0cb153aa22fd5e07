"""A diagram as DOT text, and Graphviz's ``dot`` run on it for SVG, PNG and PDF; :func:`render` writes
any format to a file (.tex through :mod:`archdsl.views.tikz`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    import graphviz


import hashlib
import html
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ArchError, printable
from ..limits import DOT_TIMEOUT, MAX_ID
from .diagram import (
    CLUSTER_FILLS,
    DENSE_COLOR,
    PALETTE,
    REF_COLOR,
    SHORTCUT_COLOR,
    SKIP_COLOR,
    Box,
    Diagram,
    Edge,
    analysis_of,
    clip,
    color,
    diagram,
    enclosing,
    levels,
    notes_text,
    shape_text,
)
from .layout import ranks, u_levels, wrap

FORMATS = ("svg", "png", "pdf", "dot", "tex")
TOO_BIG_HINT = (
    "draw fewer boxes (--depth auto, 1, 2, ...), or render the .dot file with Graphviz yourself "
    "(dot -Tsvg net.dot -o net.svg), with all the time it needs"
)
INSTALL_HINT = (
    "install Graphviz for SVG/PNG/PDF: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install graphviz`; or render the .dot file "
    "elsewhere with `dot -Tsvg net.dot -o net.svg`"
)


class GraphvizError(ArchError):
    """Graphviz could not draw the diagram: ``archdsl render`` exits 3 (the .dot file is written instead)."""


class GraphvizMissing(GraphvizError):
    """Graphviz's ``dot`` program is not on the PATH (SVG, PNG and PDF need it; DOT and TikZ do not)."""


class GraphvizFailed(GraphvizError):
    """``dot`` ran but failed, or did not finish within DOT_TIMEOUT seconds (a diagram too wide for it)."""


# ---------------------------------------------------------------------------------------------------------
# DOT


@dataclass(frozen=True)
class Style:
    """Font sizes (points) and spacing of a drawing: the page's by default, larger ones for a slide."""

    node: int = 10  # a box's op, in bold
    small: int = 8  # folded layers, names, parameters
    shape: int = 9  # output shapes
    edge: int = 8  # shapes on edges
    title: int = 14  # the graph's title
    cluster: int = 10  # block frames' names
    nodesep: str = "0.25"
    ranksep: str = "0.3"
    zero_params: bool = True  # a block's "0 params" line (a slide leaves it out: crops and reshapes)


PAGE = Style()
SLIDE = Style(
    node=16, small=12, shape=13, edge=12, title=18, cluster=14, nodesep="0.3", ranksep="0.35", zero_params=False
)


def esc(text: str) -> str:
    return html.escape(clip(text), quote=True)


def _text(text: str) -> str:
    """A name or plain label as DOT reads it literally: printable, at most MAX_ID characters (cut with a digest
    of the whole, so that two long names stay two ids), backslashes doubled (DOT reads ``\\l`` and ``\\N`` as
    escapes). The graphviz package quotes it and escapes its quotes."""
    text = printable(text, one_line=True)
    if len(text) > MAX_ID:
        text = text[: MAX_ID - 9] + "~" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return text.replace("\\", "\\\\")


def _node_name(box_id: str) -> str:
    """A box's node in the DOT source: its id, with ':' (an output box, ``output:NAME``) as '/', which
    DOT would read as a port."""
    return _text(box_id.replace(":", "/"))


def _label(box: Box, hwc: bool, style: Style = PAGE) -> str:
    """An HTML-like label: the op in bold, folded layers small, the name grey, the output shape."""
    small, big = style.small, style.shape
    parts = [f"<b>{esc(box.title)}</b>"]
    if box.notes and box.kind == "block" and box.op == "block":  # what it holds, then a DenseNet block's note
        parts += [f'<font point-size="{small}">{esc(note)}</font>' for note in box.notes]
    elif box.notes:
        parts.append(f'<font point-size="{small}">{esc(notes_text(box.notes))}</font>')
    if box.kind == "block" and box.name:
        parts.append(f'<font point-size="{small}" color="#555555">{esc(box.name)}</font>')
    elif box.name:
        parts.append(f'<font point-size="{small}" color="#555555"><i>{esc(box.name)}</i></font>')
    if box.kind == "block" and (box.params or style.zero_params):
        parts.append(f'<font point-size="{small}">{box.params:,} params</font>')
    if box.shape:
        parts.append(f'<font point-size="{big}">{esc(shape_text(box.shape, hwc, box.rows))}</font>')
    return "<" + "<br/>".join(parts) + ">"


def _node_attrs(box: Box, hwc: bool, style: Style = PAGE) -> dict[str, str]:
    cls = {
        "layer": f"layer {box.op}",
        "merge": f"layer merge {box.op}",
        "input": "layer input",
        "output": "output",
        "block": "block" if box.op == "block" else f"block {box.op}",
    }[box.kind]
    attrs = {"id": f"node:{box.id}", "class": cls, "label": _label(box, hwc, style), "fillcolor": color(box.op)}
    if box.kind == "merge":
        attrs.update(shape="ellipse", fillcolor="#FFFFFF", margin="0.02,0.02")
    elif box.kind == "block":  # box3d: several layers in one box (coloured as its op when it is one op + bn/relu)
        # the 3D face takes 4pt at the top and right of the outline: margins that keep the title below it
        attrs.update(shape="box3d", style="filled", fillcolor=color(box.op, PALETTE["block"]), margin="0.14,0.1")
    elif box.kind == "output":
        attrs.update(
            style="rounded,filled,bold",
            label=f"<<b>{esc(box.title)}</b><br/>"
            f'<font point-size="{style.shape}">{esc(shape_text(box.shape, hwc, box.rows))}</font>>',
        )
    layers = ", ".join(x.name for x in box.layers) if box.kind != "output" else f"output {box.title}"
    attrs["tooltip"] = layers if len(layers) < 400 else layers[:400] + " ..."
    return {k: v if v.startswith("<") else _text(v) for k, v in attrs.items()}


def to_graph(
    d: Diagram, rankdir: str = "TB", style: Style = PAGE, columns: int = 1, rows: dict[str, int] | None = None
) -> graphviz.Digraph:
    """The diagram as a ``graphviz.Digraph``: nodes with ids ``node:NAME`` and classes (``layer conv``,
    ``layer merge residual``, ``block``, ``output``), clusters with ids ``cluster:NAME``, edges with ids
    ``edge:SRC:DST`` and classes ``data``, ``skip``, ``shortcut``, ``ref``, ``output`` (Graphviz copies ids and
    classes into the SVG). The graphviz package writes the DOT and quotes it; it displays in Jupyter.

    ``style`` sets the font sizes (``SLIDE`` for a projector); ``columns`` > 1 wraps the chain into that many
    columns side by side, read left to right (see :func:`wrap`); ``rows`` puts each box on the row it names,
    its boxes read left to right (a U as the UNet paper draws it: :func:`u_levels`)."""
    import graphviz

    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be TB or LR, not {rankdir!r}")
    title = f"{d.name}: {d.params:,} params, {d.macs:,} MACs"
    if d.depth is not None:
        title += f" (blocks rolled up at depth {d.depth})"
    g = graphviz.Digraph(name=_text(d.name))
    g.attr("graph", rankdir=rankdir, label=_text(title), labelloc="t", fontname="Helvetica", fontsize=str(style.title),
           nodesep=style.nodesep, ranksep=style.ranksep, newrank="true", id=_text("graph:" + d.name))  # fmt: skip
    g.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize=str(style.node),
           margin="0.1,0.04", color="#555555", penwidth="0.8")  # fmt: skip
    g.attr("edge", fontname="Helvetica", fontsize=str(style.edge), color="#555555", arrowsize="0.6", penwidth="0.9")
    column = wrap(d, columns) if columns > 1 else {}
    _add_boxes(g, d, style, column)
    for e in d.edges:
        src, dst, attrs = _edge(d, e, u=rows is None)
        if column and column[e.src] != column[e.dst]:
            attrs["constraint"] = "false"  # from the foot of one column to the next: it ranks nothing
        if rows is not None and rows[dst] < rows[src]:  # up a row: laid out downwards, drawn pointing back
            src, dst = dst, src
            attrs["dir"] = "back"
        g.edge(_node_name(src), _node_name(dst), _attributes=attrs)
    if column:
        _align_columns(g, d, column)
    if rows is not None:
        for r in sorted(set(rows.values())):
            with g.subgraph() as same:
                same.attr("graph", rank="same")
                for b in d.boxes:
                    if rows[b] == r:
                        same.node(_node_name(b))
    return g


def to_dot(d: Diagram, rankdir: str = "TB", style: Style = PAGE, columns: int = 1) -> str:
    """The diagram as DOT text (:func:`to_graph`'s source)."""
    return to_graph(d, rankdir, style, columns).source


def _add_boxes(g, d: Diagram, style: Style = PAGE, column: dict[str, int] | None = None) -> None:
    """The boxes, nested in their clusters (a block's frame inside the frame of the block that holds it). In
    wrapped columns, a block cut by a column's end is framed in each column it reaches, the later frames
    labelled "(cont.)"."""
    tree: dict[str | None, list[str]] = {}
    for c in d.clusters:
        tree.setdefault(enclosing(c, d.clusters), []).append(c)
    column = column or {}
    direct: dict[tuple[int, str | None], list[Box]] = {}
    reached: dict[str, set[int]] = {}  # cluster → the columns its boxes are in
    for box in d.boxes.values():
        col = column.get(box.id, 0)
        direct.setdefault((col, box.clusters[-1] if box.clusters else None), []).append(box)
        for c in box.clusters:
            reached.setdefault(c, set()).add(col)

    def emit(graph, c: str | None, level: int, col: int) -> None:
        for box in direct.get((col, c), []):
            attrs = _node_attrs(box, d.hwc, style)
            if column:  # one group a column: Graphviz keeps the edges between its boxes straight
                attrs["group"] = f"column{col}"
            graph.node(_node_name(box.id), _attributes=attrs)
        for child in tree.get(c, []):
            if col not in reached.get(child, ()):
                continue
            first = col == min(reached[child])
            name, cid, label = "cluster_" + child, "cluster:" + child, child
            if child in d.repeats:
                label = f"{child} ×{d.repeats[child]}"
            if not first:
                name, cid, label = f"{name}~{col}", f"{cid}~{col}", f"{label} (cont.)"
            with graph.subgraph(name=_text(name)) as sub:
                sub.attr("graph", id=_text(cid), label=_text(label), style="rounded,filled",
                         fillcolor=CLUSTER_FILLS[(level + 1) % 2], color="#8FA3BF", fontname="Helvetica",
                         fontsize=str(style.cluster), labeljust="l", margin="8",
                         _attributes={"class": "block"})  # fmt: skip
                emit(sub, child, level + 1, col)

    for col in sorted({column.get(b, 0) for b in d.boxes}):
        emit(g, None, -1, col)


def _align_columns(g, d: Diagram, column: dict[str, int]) -> None:
    """The first box of each column on the top rank, the columns in order left to right (an invisible edge
    from each column's first box to the next's, on the same rank)."""
    rank = ranks(d)
    tops: dict[int, str] = {}
    for b in d.boxes:
        c = column[b]
        if c not in tops or rank[b] < rank[tops[c]]:
            tops[c] = b
    heads = [_node_name(tops[c]) for c in sorted(tops)]
    with g.subgraph() as same:
        same.attr("graph", rank="same")
        for a, b in zip(heads, heads[1:]):
            same.edge(a, b, style="invis")


def _edge(d: Diagram, e: Edge, u: bool = True) -> tuple[str, str, dict[str, str]]:
    """(tail, head, attributes) of an edge; on the way back up of a U, drawn reversed (``dir=back``)."""
    attrs: dict[str, str] = {"id": _text(f"edge:{e.src}:{e.dst}"), "class": e.kind}
    if e.label:
        attrs["label"] = " " + shape_text(e.shape, d.hwc, e.rows)
    if e.kind == "skip":
        attrs.update(style="dashed", color=SKIP_COLOR, fontcolor=SKIP_COLOR, penwidth="1.3")
    elif e.kind == "shortcut":
        attrs.update(style="dashed", color=SHORTCUT_COLOR, fontcolor=SHORTCUT_COLOR, penwidth="1.3")
    elif e.kind == "dense" and e.label:  # DenseNet's long blocks: all the earlier maps, in one edge
        attrs.update(color=DENSE_COLOR, fontcolor=DENSE_COLOR, penwidth="2.2")
    elif e.kind == "dense":  # DenseNet: into a layer from an earlier one of its block; many, so light and unranked
        attrs.update(color=DENSE_COLOR, penwidth="0.6", arrowsize="0.4", weight="0")
    elif e.kind == "ref":
        attrs.update(style="dotted", color=REF_COLOR, arrowhead="empty", constraint="false", label=" size")
    src, dst = e.src, e.dst
    if d.u_shape and u:
        up_src, up_dst = src in d.up, dst in d.up
        if up_src and up_dst or (up_dst and not up_src and e.kind == "data"):
            # the way back up: ranked upwards (the edge is laid out reversed and drawn pointing back)
            src, dst = dst, src
            attrs["dir"] = "back"
        elif up_dst and not up_src and e.kind in ("skip", "ref"):
            # across the U: the same rank on both sides
            attrs.update(constraint="false" if e.kind == "ref" else "true", minlen="0", weight="4")
        elif e.kind == "output" and up_src:
            src, dst = dst, src
            attrs["dir"] = "back"
    return src, dst, attrs


# ---------------------------------------------------------------------------------------------------------
# fitted: a 16:9 slide or a page, large type on a slide, a long chain wrapped into columns


@dataclass(frozen=True)
class Fit:
    """What a fitted picture must fill: its size in inches, its type, and a PNG's width in pixels."""

    name: str
    inches: tuple[float, float]
    style: Style
    png: int


FITS = {
    "slide": Fit("slide", (13.333, 7.5), SLIDE, 1920),  # 16:9, PowerPoint's and Keynote's; a PNG of 1920x1080
    "page": Fit("page", (6.3, 9.45), PAGE, 1260),  # an A4 page's text, 16 x 24 cm; a PNG at 200 dpi
}
READABLE = 0.7  # shown at this fraction of its size or more, a picture reads: 16 pt titles at 11 pt on a slide
FIT_BOXES = 60  # the most boxes a fitted picture tries to draw (at depth auto)
FIT_FEWEST = 12  # and the fewest it prefers: a slide of 4 boxes says little
FIT_COLUMNS = 10


def plain_size(g: graphviz.Digraph) -> tuple[float, float]:
    """The width and height in inches of Graphviz's layout of ``g`` (``dot -Tplain``)."""
    head = run_dot(g.source, "plain").decode().split("\n", 1)[0].split()
    return float(head[2]), float(head[3])


@dataclass
class Fitted:
    """A diagram laid out to fill a slide or a page: its graph (padded to the fit's shape), its direction, the
    columns it is wrapped into, the scale at which the slide or page shows it (1: its own size; 0 when not
    measured, without Graphviz), and its padded size in inches."""

    diagram: Diagram
    graph: graphviz.Digraph
    fit: Fit
    rankdir: str
    columns: int
    scale: float
    size: tuple[float, float]

    def png_dpi(self) -> float:
        """The dpi at which a PNG of the picture is ``fit.png`` pixels wide."""
        return self.fit.png / self.size[0] if self.size[0] else 96.0


def fit_diagram(d: Diagram, fit: str | Fit = "slide", rankdir: str | None = None) -> Fitted:
    """``d`` in the fit's type, laid out to be shown largest on the slide (16:9) or page: top to bottom and
    left to right (unless ``rankdir`` is given), each wrapped into 1, 2, ... columns (rows, left to right),
    each measured with ``dot -Tplain``; then padded to the fit's shape exactly. A U is drawn as the UNet paper
    does, a row per resolution. Without Graphviz the number of columns is guessed and nothing is padded."""
    fit = FITS[fit] if isinstance(fit, str) else fit
    style, (fw, fh) = fit.style, fit.inches
    top = max(ranks(d).values(), default=0)
    most = max(1, min(FIT_COLUMNS, (top + 1) // 3))
    if dot_program() is None:
        k = 1 if d.u_shape else min(most, max(1, round((0.9 * (top + 1)) ** 0.5)))
        rows = u_levels(d) if d.u_shape and rankdir in (None, "TB") else None
        graph = to_graph(d, rankdir or "TB", style, k, rows)
        return Fitted(d, graph, fit, rankdir or "TB", k, 0.0, (0.0, 0.0))
    best: Fitted | None = None
    for direction in [rankdir] if rankdir else ["TB", "LR"]:
        if d.u_shape:
            tries = [(1, u_levels(d) if direction == "TB" else None)]
        else:
            tries = [(k, None) for k in range(1, most + 1)]
        worse = 0
        for k, rows in tries:
            g = to_graph(d, direction, style, k, rows)
            try:
                w, h = plain_size(g)
            except GraphvizFailed:  # dot fails to route an edge of some wrappings ("triangulation failed")
                continue
            scale = min(fw / w, fh / h)
            if best is None or scale > best.scale * 1.01:
                best, worse = Fitted(d, g, fit, direction, k, scale, (w, h)), 0
            else:
                worse += 1
                if worse >= 2:  # past the best: more columns only shrink it further
                    break
    if best is None:  # every layout failed to route: the plain one, unmeasured (rendering it says why)
        return Fitted(d, to_graph(d, rankdir or "TB", style), fit, rankdir or "TB", 1, 0.0, (0.0, 0.0))
    w, h = best.size
    pad, ratio = 0.15, fw / fh
    px = py = pad
    if (w + 2 * pad) / (h + 2 * pad) < ratio:
        px = ((h + 2 * pad) * ratio - w) / 2
    else:
        py = ((w + 2 * pad) / ratio - h) / 2
    best.graph.attr("graph", pad=f"{px:.4f},{py:.4f}")
    best.size = (w + 2 * px, h + 2 * py)
    return best


def fitted(
    obj: Any,
    fit: str | Fit = "slide",
    depth: int | str | None = "auto",
    rankdir: str | None = None,
    hwc: bool = False,
    fold: bool | None = None,
    layout: str = "auto",
) -> Fitted:
    """The diagram of a Net (or Analysis) fitted to a 16:9 slide or a page (:func:`fit_diagram`). bn,
    activations, flatten, permute and reshape are folded unless ``fold=False``. ``depth="auto"`` tries the
    naming levels with at most FIT_BOXES boxes, every layer first, then one level less each time, and takes
    the first that the slide shows at READABLE of its size or more; when none is, the one shown largest (of
    those with FIT_FEWEST boxes or more, when there are; of two shown about as large, the one of fewer boxes)."""
    fold = True if fold is None else fold
    if depth != "auto":
        d = diagram(obj, depth=depth, fold=fold, hwc=hwc, layout=layout, reshapes=fold)
        return fit_diagram(d, fit, rankdir)
    a = analysis_of(obj)
    tried: list[Fitted] = []
    for level in levels(a, fold, FIT_BOXES, reshapes=fold) or [1]:
        d = diagram(obj, depth=level or "all", fold=fold, hwc=hwc, layout=layout, reshapes=fold)
        f = fit_diagram(d, fit, rankdir)
        boxes = sum(1 for b in d.boxes.values() if b.kind != "output")
        if (f.scale >= READABLE and boxes >= FIT_FEWEST) or f.scale == 0.0:
            return f
        tried.append(f)

    def boxes(f: Fitted) -> int:
        return sum(b.kind != "output" for b in f.diagram.boxes.values())

    tried = [f for f in tried if boxes(f) >= FIT_FEWEST] or tried
    largest = max(f.scale for f in tried)
    return min((f for f in tried if f.scale >= 0.95 * largest), key=boxes)  # as large: the fewer boxes


# ---------------------------------------------------------------------------------------------------------
# running dot


def dot_program() -> str | None:
    return shutil.which("dot")


def run_dot(dot_text: str, fmt: str, timeout: float | None = None) -> bytes:
    """``dot -T<fmt>`` on the text; GraphvizMissing when dot is not installed, GraphvizFailed when it fails or
    runs past ``timeout`` seconds (DOT_TIMEOUT by default)."""
    exe = dot_program()
    if exe is None:
        raise GraphvizMissing(
            "Graphviz's `dot` program is not installed (SVG, PNG and PDF need it)", None, INSTALL_HINT
        )
    limit = DOT_TIMEOUT if timeout is None else timeout
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise GraphvizFailed(f"Graphviz's dot did not finish within {limit:g} s", None, TOO_BIG_HINT) from None
    if proc.returncode != 0:
        said = clip(" ".join(proc.stderr.decode(errors="replace").split()), 300)
        raise GraphvizFailed(f"dot -T{fmt} failed: {said}", None, TOO_BIG_HINT)
    return proc.stdout


def svg(
    obj: Any,
    depth: int | str | None = "auto",
    rankdir: str = "TB",
    hwc: bool = False,
    fold: bool | None = None,
    layout: str = "auto",
) -> str:
    """The diagram as SVG text (for notebooks: ``Net._repr_svg_``). Raises GraphvizMissing without dot."""
    d = diagram(obj, depth=depth, fold=fold, hwc=hwc, layout=layout)
    return run_dot(to_dot(d, rankdir), "svg").decode()


def render(
    obj: Any,
    path: str | Path,
    depth: int | str | None = "auto",
    rankdir: str | None = None,
    hwc: bool = False,
    fold: bool | None = None,
    layout: str = "auto",
    fit: str | None = None,
    width: str | None = None,
) -> Diagram:
    """Write the diagram of a Net (or Analysis) to ``path`` and return it; the format is the suffix: .svg, .png,
    .pdf (these run Graphviz's dot), .dot or .tex (TikZ). See :func:`diagram` for the other arguments;
    ``rankdir`` is TB unless given (with ``fit``, the direction that shows the picture largest).

    ``fit="slide"`` or ``"page"`` lays the picture out for a 16:9 slide or a page (:func:`fitted`: large type on
    a slide, a long chain wrapped into columns, padded to the shape exactly; a slide's PNG is 1920x1080); for
    .tex it scales the picture to a slide's or a page's width (``tikz.FITS``), and ``width`` (a TeX length,
    ``12cm``) to that width.

    Without Graphviz, an .svg/.png/.pdf request still writes the .dot file beside it and then raises
    GraphvizMissing (its hint says how to install Graphviz)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ArchError(
            f"cannot render to '{path.suffix or path.name}'", None, "name the output .svg, .png, .pdf, .dot or .tex"
        )
    if fit is not None and fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, not {fit!r}")
    from .. import output

    if fmt == "tex":
        from . import tikz

        d = diagram(obj, depth=depth, fold=fold, hwc=hwc, layout=layout)
        size = (width, None) if width is not None else tikz.FITS[fit] if fit is not None else (None, None)
        output.write_text(path, tikz.to_tikz(d, *size))
        return d
    if fit is not None:
        f = fitted(obj, fit, depth=depth, rankdir=rankdir, hwc=hwc, fold=fold, layout=layout)
        write_fitted(f, path)
        return f.diagram
    d = diagram(obj, depth=depth, fold=fold, hwc=hwc, layout=layout)
    _write(path, fmt, to_dot(d, rankdir or "TB"))
    return d


def write_fitted(f: Fitted, path: str | Path) -> None:
    """Write a fitted diagram (:func:`fitted`) to ``path`` (.svg, .png, .pdf or .dot); a slide's PNG is
    1920x1080."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS or fmt == "tex":
        raise ArchError(f"cannot write a fitted diagram to '{path.suffix or path.name}'", None, _FITTED_HINT)
    text = f.graph.source
    graph = f.graph.copy()
    if fmt == "png":  # the fit's pixels across: a slide's 1920x1080
        graph.attr("graph", dpi=f"{f.png_dpi():.3f}")
    _write(path, fmt, text, graph.source)


_FITTED_HINT = "name the output .svg, .png, .pdf or .dot (a .tex one: render(..., fit=) scales the TikZ picture)"


def _write(path: Path, fmt: str, text: str, drawn: str | None = None) -> None:
    """``text`` (DOT) to ``path``: as it is for .dot, else drawn by dot from ``drawn`` (``text`` unless given),
    with the .dot source beside it when dot cannot run."""
    from .. import output

    drawn = text if drawn is None else drawn
    if fmt == "dot":
        output.write_text(path, text)
        return
    try:
        output.write_bytes(path, run_dot(drawn, fmt))
    except GraphvizError as err:
        raise type(err)(
            f"{err.message}, so {printable(path, one_line=True)} was not written; {_fallback(path, text)}",
            None,
            err.hint,
        ) from None


def _fallback(path: Path, text: str) -> str:
    """Write the DOT source beside ``path`` when dot cannot draw it, unless that would replace a file
    archdsl did not write; say which."""
    from .. import output

    dot = path.with_suffix(".dot")
    shown = printable(dot, one_line=True)
    if dot.exists() and not output.ours(dot):
        return f"{shown} exists and archdsl did not write it, so the .dot source was not written either"
    output.write_text(dot, text)
    return f"wrote {shown} instead"
