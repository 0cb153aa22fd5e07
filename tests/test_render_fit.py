"""``archdsl render --fit slide|page`` and ``--width``, DenseNet's dense edges, the frames of a stage's blocks
(``layer3 ×36``) and block titles clear of the 3-D face. The pictures are measured: a PNG's size from its header,
an SVG's boxes from what Graphviz drew (ids and classes are copied from the DOT)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib

import pytest

import archdsl
from archdsl import cli as archcli
from archdsl.views import diagram as draw
from archdsl.views import dot, tikz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"
SLIDES = ["resnet50", "googlenet_paper", "densenet121", "unet", "ssd300", "resnet152"]


def cli(argv: list[str]) -> int:
    args = archcli.parser("render").parse_args(argv)
    return args.func(args)


def png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def groups(path, kind: str) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if (g.get("class") or "").split()[:1] == [kind]}


def texts(g: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in g.iter(f"{SVG}text")]


def outline(g: ET.Element) -> tuple[float, float, float, float]:
    """min x, min y, max x, max y of a node's polygons, paths and ellipses."""
    xs, ys = [], []
    for el in g.iter():
        tag = el.tag.removeprefix(SVG)
        if tag == "ellipse":
            cx, cy, rx, ry = (float(el.get(k)) for k in ("cx", "cy", "rx", "ry"))
            xs += [cx - rx, cx + rx]
            ys += [cy - ry, cy + ry]
        elif tag in ("polygon", "path"):
            nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", el.get("points") or el.get("d"))]
            xs += nums[0::2]
            ys += nums[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def pdf_width(pdf: bytes) -> float:
    """The first page's width in points, from its MediaBox (in an object stream, compressed, with pdfTeX)."""
    chunks = [pdf]
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    for chunk in chunks:
        box = re.search(rb"/MediaBox\s*\[([^\]]*)\]", chunk)
        if box:
            x0, _, x1, _ = (float(v) for v in box.group(1).split())
            return x1 - x0
    raise AssertionError("no MediaBox")


def middle(g: ET.Element) -> tuple[float, float]:
    x0, y0, x1, y1 = outline(g)
    return (x0 + x1) / 2, (y0 + y1) / 2


# --- a 16:9 slide -------------------------------------------------------------------------------------------


@needs_dot
def test_resnet152_on_a_slide_is_16_9_and_says_x36(tmp_path):
    out = tmp_path / "x.png"
    assert cli(["render", "resnet152", "--fit", "slide", "-o", str(out)]) == 0
    w, h = png_size(out)
    assert (w, h) == (1920, 1080) and 1.6 < w / h < 1.95
    assert cli(["render", "resnet152", "--fit", "slide", "-o", str(tmp_path / "x.svg")]) == 0
    clusters = groups(tmp_path / "x.svg", "cluster")
    labels = {t for g in clusters.values() for t in texts(g)}
    assert {"layer1 ×3", "layer2 ×8", "layer3 ×36", "layer4 ×3"} <= labels  # the paper's Table 1
    nodes = groups(tmp_path / "x.svg", "node")
    assert texts(nodes["node:layer3.1"])[0] == "layer3.1–35 ×35"


@needs_dot
@pytest.mark.parametrize("name", SLIDES)
def test_each_slide_is_16_9_and_large_enough_to_read(name, tmp_path):
    net = archdsl.load(name)
    f = dot.fitted(net, "slide")
    boxes = sum(b.kind != "output" for b in f.diagram.boxes.values())
    assert dot.FIT_FEWEST <= boxes <= dot.FIT_BOXES
    assert f.scale >= 0.45  # the slide shows it at this fraction of its size or more: 16 pt titles at 7 pt or more
    assert abs(f.size[0] / f.size[1] - 16 / 9) < 1e-3
    out = tmp_path / f"{name}.png"
    dot.render(net, out, fit="slide")
    w, h = png_size(out)
    assert abs(w - 1920) <= 1 and abs(h - 1080) <= 1


def test_slide_depth_is_the_deepest_that_reads():
    f = dot.fitted(archdsl.load("resnet50"), "slide")
    assert f.diagram.depth == 2 and f.scale >= dot.READABLE and f.columns >= 2  # one box per bottleneck
    f = dot.fitted(archdsl.load("lenet5"), "slide")
    assert f.diagram.depth is None and f.scale >= dot.READABLE  # every layer
    f = dot.fitted(archdsl.load("resnet50"), "slide", depth=1)  # a depth asked for is kept
    assert f.diagram.depth == 1


@needs_dot
def test_wrapped_columns_read_left_to_right(tmp_path):
    out = tmp_path / "r.svg"
    assert cli(["render", "resnet50", "--fit", "slide", "-o", str(out)]) == 0
    nodes = groups(out, "node")
    f = dot.fitted(archdsl.load("resnet50"), "slide")
    column = dot.wrap(f.diagram, f.columns)
    # every box of a column left of every box of the next one
    spans: dict[int, tuple[float, float]] = {}
    for b, c in column.items():
        x0, _, x1, _ = outline(nodes["node:" + b])
        lo, hi = spans.get(c, (x0, x1))
        spans[c] = (min(lo, x0), max(hi, x1))
    for c in range(1, f.columns):
        assert spans[c - 1][1] < spans[c][0]
    # the first box of each column on the same top row
    tops = {c: min(middle(nodes["node:" + b])[1] for b in column if column[b] == c) for c in spans}
    assert max(tops.values()) - min(tops.values()) < 1


@needs_dot
def test_a_u_on_a_slide_is_drawn_a_row_per_resolution(tmp_path):
    out = tmp_path / "u.svg"
    assert cli(["render", "unet", "--fit", "slide", "-o", str(out)]) == 0
    nodes, edges = groups(out, "node"), groups(out, "edge")
    skips = [e for e, g in edges.items() if "skip" in g.get("class").split()]
    assert len(skips) == 4
    for e in skips:  # each skip runs across its row, from the way down to the way up
        src, dst = e.removeprefix("edge:").split(":")
        (xs, ys), (xd, yd) = middle(nodes["node:" + src]), middle(nodes["node:" + dst])
        assert abs(ys - yd) < 1 and xs < xd
    ys = [middle(nodes[f"node:{b}"])[1] for b in ("down1", "down2", "down3", "down4", "center")]
    assert ys == sorted(ys) and len(set(ys)) == 5  # one row further down for each halving


def test_fit_without_graphviz_still_writes_the_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(dot, "dot_program", lambda: None)
    out = tmp_path / "r.dot"
    d = dot.render(archdsl.load("resnet50"), out, fit="slide")
    text = out.read_text()
    assert text.startswith("digraph resnet50") and "rank=same" in text and "fontsize=16" in text
    assert d.depth is None or d.depth >= 1


def test_a_page_fit_and_bad_values(tmp_path):
    f = dot.fitted(archdsl.load("resnet50"), "page") if shutil.which("dot") else None
    if f is not None:
        assert abs(f.size[0] / f.size[1] - 6.3 / 9.45) < 1e-3
    with pytest.raises(ValueError):
        dot.render(archdsl.load("lenet5"), tmp_path / "x.svg", fit="poster")


# --- TikZ scaled to a slide, a page or a width ----------------------------------------------------------


def test_tikz_fit_and_width(tmp_path, capsys):
    out = tmp_path / "s.tex"
    assert cli(["render", "inception_v3", "--fit", "slide", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("\\documentclass[border=8pt]{standalone}\n\\usepackage{tikz}\n% Written by archdsl render")
    assert "\\sbox\\archpicture{%\n\\begin{tikzpicture}[" in text
    assert "\\resizebox{15cm}{!}{\\usebox\\archpicture}" in text and "\\ifdim\\ht\\archfitted>7.5cm" in text
    assert cli(["render", "lenet5", "--fit", "page", "-o", str(tmp_path / "p.tex")]) == 0
    assert "\\resizebox{16cm}{!}" in (tmp_path / "p.tex").read_text()
    assert cli(["render", "resnet50", "--width", "120mm", "-o", str(tmp_path / "w.tex")]) == 0
    w = (tmp_path / "w.tex").read_text()
    assert "\\resizebox{120mm}{!}{\\usebox\\archpicture}" in w and "\\ifdim" not in w
    # the default is the unscaled picture, standalone's tikz mode
    plain = tikz.to_tikz(draw.diagram(archdsl.load("lenet5")))
    assert plain.startswith("\\documentclass[tikz, border=8pt]{standalone}") and "resizebox" not in plain
    for bad in (["--width", "12"], ["--width", "0cm"], ["--width", "900cm"], ["--width=-3cm"], ["--width", "²cm"]):
        assert cli(["render", "lenet5", *bad, "-o", str(tmp_path / "b.tex")]) == 2
    assert cli(["render", "lenet5", "--width", "12cm", "-o", str(tmp_path / "b.svg")]) == 2
    assert "--width is for a .tex output" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_fitted_tikz_compiles_to_its_width(tmp_path):
    for name, args, width_cm in (("inception_v3", ["--fit", "slide"], 15.0), ("resnet50", ["--width", "12cm"], 12.0)):
        out = tmp_path / f"{name}.tex"
        assert cli(["render", name, *args, "-o", str(out)]) == 0
        proc = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name],
            cwd=tmp_path,
            capture_output=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout.decode(errors="replace")[-2000:]
        log = (tmp_path / f"{name}.log").read_text(errors="replace")
        assert "Overfull" not in log
        # the page: the picture's width plus standalone's border of 8pt on each side
        page_cm = pdf_width((tmp_path / f"{name}.pdf").read_bytes()) / 72 * 2.54
        assert abs(page_cm - (width_cm + 2 * 8 / 72.27 * 2.54)) < 0.05


# --- DenseNet, frames, titles ---------------------------------------------------------------------------------


def test_densenet_draws_its_dense_connectivity():
    net = archdsl.load("densenet121")
    d = draw.diagram(net)  # depth 3: a box per dense layer
    assert d.depth == 3
    block1 = "features.denseblock1.denselayer"
    into6 = {e.src for e in d.edges if e.dst == f"{block1}6" and e.kind == "dense"}
    assert into6 == {"features.pool0", *(f"{block1}{i}" for i in range(1, 5))}  # 5 is the data edge before it
    full = [e for e in d.edges if e.kind == "dense" and not e.label]
    assert len(full) == 1 + 2 + 3 + 4 + 5  # block 1 (6 layers): every edge, as the paper's Figure 1
    bundled = [e for e in d.edges if e.kind == "dense" and e.label]
    assert len(bundled) == 11 + 23 + 15  # blocks of 12, 24 and 16 layers: one labelled edge into each later layer
    assert d.boxes[f"{block1}6"].notes[-1] == "dense: concat of 7"
    # every layer: the concats are titled with what they join, fed by every earlier layer's new maps
    d = draw.diagram(net, depth="all")
    assert d.boxes[f"{block1}6"].title == "concat of 7"
    srcs = {e.src for e in d.edges if e.dst == f"{block1}6" and e.kind == "dense"}
    assert srcs == {"features.pool0", *(f"{block1}{i}.conv2" for i in range(1, 6))}  # 6's own is the data edge
    # rolled up a block a box: a note
    d = draw.diagram(net, depth=2)
    assert d.boxes["features.denseblock3"].notes[-1] == "dense: 24 layers, each reads all before it"
    assert not any(e.kind == "dense" for e in d.edges)
    # a network with no dense block has no dense edge
    assert not any(
        e.kind == "dense" for n in ("resnet18", "googlenet_paper", "unet") for e in draw.diagram(archdsl.load(n)).edges
    )


@needs_dot
def test_block_titles_clear_the_3d_face(tmp_path):
    out = tmp_path / "i.svg"
    assert cli(["render", "inception_v3", "-o", str(out)]) == 0
    blocks = [g for g in groups(out, "node").values() if "block" in g.get("class").split()]
    assert len(blocks) >= 15
    for g in blocks:
        _, top, _, _ = outline(g)
        title = next(g.iter(f"{SVG}text"))
        size = float(title.get("font-size"))
        # box3d's top face is 4pt deep; the title's cap height (about 0.75 of its size) starts below it
        assert float(title.get("y")) - 0.75 * size >= top + 4, texts(g)[0]


@needs_dot
def test_net_render_takes_fit_as_the_command_does(tmp_path):
    """Net.render(fit="slide") returns the fitted graph (a notebook shows it) and writes the slide's PNG."""
    net = archdsl.load("resnet152")
    graph = net.render(fit="slide")
    assert "layer3 ×36" in graph.source
    again = net.render(tmp_path / "r.png", fit="slide")
    assert png_size(tmp_path / "r.png") == (1920, 1080)
    assert again.source == graph.source  # the PNG's resolution is set on a copy
    net.render(tmp_path / "r.tex", fit="slide")
    assert "\\resizebox" in (tmp_path / "r.tex").read_text()
