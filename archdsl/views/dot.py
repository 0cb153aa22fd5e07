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
from pathlib import Path
from typing import Any

from ..errors import ArchError, printable
from ..limits import DOT_TIMEOUT, MAX_ID
from .diagram import (
    CLUSTER_FILLS,
    PALETTE,
    REF_COLOR,
    SHORTCUT_COLOR,
    SKIP_COLOR,
    Box,
    Diagram,
    Edge,
    clip,
    color,
    diagram,
    enclosing,
    notes_text,
    shape_text,
)

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


def _label(box: Box, hwc: bool) -> str:
    """An HTML-like label: the op in bold, folded layers small, the name grey, the output shape."""
    parts = [f"<b>{esc(box.title)}</b>"]
    if box.notes:
        parts.append(f'<font point-size="8">{esc(notes_text(box.notes))}</font>')
    if box.kind == "block" and box.name:
        parts.append(f'<font point-size="8" color="#555555">{esc(box.name)}</font>')
    elif box.name:
        parts.append(f'<font point-size="8" color="#555555"><i>{esc(box.name)}</i></font>')
    if box.kind == "block":
        parts.append(f'<font point-size="8">{box.params:,} params</font>')
    if box.shape:
        parts.append(f'<font point-size="9">{esc(shape_text(box.shape, hwc, box.rows))}</font>')
    return "<" + "<br/>".join(parts) + ">"


def _node_attrs(box: Box, hwc: bool) -> dict[str, str]:
    cls = {
        "layer": f"layer {box.op}",
        "merge": f"layer merge {box.op}",
        "input": "layer input",
        "output": "output",
        "block": "block" if box.op == "block" else f"block {box.op}",
    }[box.kind]
    attrs = {"id": f"node:{box.id}", "class": cls, "label": _label(box, hwc), "fillcolor": color(box.op)}
    if box.kind == "merge":
        attrs.update(shape="ellipse", fillcolor="#FFFFFF", margin="0.02,0.02")
    elif box.kind == "block":  # box3d: several layers in one box (coloured as its op when it is one op + bn/relu)
        attrs.update(shape="box3d", style="filled", fillcolor=color(box.op, PALETTE["block"]))
    elif box.kind == "output":
        attrs.update(
            style="rounded,filled,bold",
            label=f"<<b>{esc(box.title)}</b><br/>"
            f'<font point-size="9">{esc(shape_text(box.shape, hwc, box.rows))}</font>>',
        )
    layers = ", ".join(x.name for x in box.layers) if box.kind != "output" else f"output {box.title}"
    attrs["tooltip"] = layers if len(layers) < 400 else layers[:400] + " ..."
    return {k: v if v.startswith("<") else _text(v) for k, v in attrs.items()}


def to_graph(d: Diagram, rankdir: str = "TB") -> graphviz.Digraph:
    """The diagram as a ``graphviz.Digraph``: nodes with ids ``node:NAME`` and classes (``layer conv``,
    ``layer merge residual``, ``block``, ``output``), clusters with ids ``cluster:NAME``, edges with ids
    ``edge:SRC:DST`` and classes ``data``, ``skip``, ``shortcut``, ``ref``, ``output`` (Graphviz copies ids and
    classes into the SVG). The graphviz package writes the DOT and quotes it; it displays in Jupyter."""
    import graphviz

    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be TB or LR, not {rankdir!r}")
    title = f"{d.name}: {d.params:,} params, {d.macs:,} MACs"
    if d.depth is not None:
        title += f" (blocks rolled up at depth {d.depth})"
    g = graphviz.Digraph(name=_text(d.name))
    g.attr("graph", rankdir=rankdir, label=_text(title), labelloc="t", fontname="Helvetica", fontsize="14",
           nodesep="0.25", ranksep="0.3", newrank="true", id=_text("graph:" + d.name))  # fmt: skip
    g.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10", margin="0.1,0.04",
           color="#555555", penwidth="0.8")  # fmt: skip
    g.attr("edge", fontname="Helvetica", fontsize="8", color="#555555", arrowsize="0.6", penwidth="0.9")
    _add_boxes(g, d)
    for e in d.edges:
        src, dst, attrs = _edge(d, e)
        g.edge(_node_name(src), _node_name(dst), _attributes=attrs)
    return g


def to_dot(d: Diagram, rankdir: str = "TB") -> str:
    """The diagram as DOT text (:func:`to_graph`'s source)."""
    return to_graph(d, rankdir).source


def _add_boxes(g, d: Diagram) -> None:
    """The boxes, nested in their clusters (a block's frame inside the frame of the block that holds it)."""
    tree: dict[str | None, list[str]] = {}
    for c in d.clusters:
        tree.setdefault(enclosing(c, d.clusters), []).append(c)
    direct: dict[str | None, list[Box]] = {}
    for box in d.boxes.values():
        direct.setdefault(box.clusters[-1] if box.clusters else None, []).append(box)

    def emit(graph, c: str | None, level: int) -> None:
        for box in direct.get(c, []):
            graph.node(_node_name(box.id), _attributes=_node_attrs(box, d.hwc))
        for child in tree.get(c, []):
            with graph.subgraph(name=_text("cluster_" + child)) as sub:
                sub.attr("graph", id=_text("cluster:" + child), label=_text(child), style="rounded,filled",
                         fillcolor=CLUSTER_FILLS[(level + 1) % 2], color="#8FA3BF", fontname="Helvetica",
                         fontsize="10", labeljust="l", margin="8", _attributes={"class": "block"})  # fmt: skip
                emit(sub, child, level + 1)

    emit(g, None, -1)


def _edge(d: Diagram, e: Edge) -> tuple[str, str, dict[str, str]]:
    """(tail, head, attributes) of an edge; on the way back up of a U, drawn reversed (``dir=back``)."""
    attrs: dict[str, str] = {"id": _text(f"edge:{e.src}:{e.dst}"), "class": e.kind}
    if e.label:
        attrs["label"] = " " + shape_text(e.shape, d.hwc, e.rows)
    if e.kind == "skip":
        attrs.update(style="dashed", color=SKIP_COLOR, fontcolor=SKIP_COLOR, penwidth="1.3")
    elif e.kind == "shortcut":
        attrs.update(style="dashed", color=SHORTCUT_COLOR, fontcolor=SHORTCUT_COLOR, penwidth="1.3")
    elif e.kind == "ref":
        attrs.update(style="dotted", color=REF_COLOR, arrowhead="empty", constraint="false", label=" size")
    src, dst = e.src, e.dst
    if d.u_shape:
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
    rankdir: str = "TB",
    hwc: bool = False,
    fold: bool | None = None,
    layout: str = "auto",
) -> Diagram:
    """Write the diagram of a Net (or Analysis) to ``path`` and return it; the format is the suffix: .svg, .png,
    .pdf (these run Graphviz's dot), .dot or .tex (TikZ). See :func:`diagram` for the other arguments.

    Without Graphviz, an .svg/.png/.pdf request still writes the .dot file beside it and then raises
    GraphvizMissing (its hint says how to install Graphviz)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ArchError(
            f"cannot render to '{path.suffix or path.name}'", None, "name the output .svg, .png, .pdf, .dot or .tex"
        )
    d = diagram(obj, depth=depth, fold=fold, hwc=hwc, layout=layout)
    from .. import output

    if fmt == "tex":
        from .tikz import to_tikz

        output.write_text(path, to_tikz(d))
        return d
    text = to_dot(d, rankdir)
    if fmt == "dot":
        output.write_text(path, text)
        return d
    try:
        output.write_bytes(path, run_dot(text, fmt))
    except GraphvizError as err:
        raise type(err)(
            f"{err.message}, so {printable(path, one_line=True)} was not written; {_fallback(path, text)}",
            None,
            err.hint,
        ) from None
    return d


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
