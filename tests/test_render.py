"""``archdsl render``: diagrams from the graph and the Analysis. The SVG tests parse what Graphviz drew
(ids and classes are copied from the DOT into the SVG); the TikZ tests check the .tex's structure and,
where pdflatex is installed, compile it."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

import archdsl
from archdsl import cli as archcli
from archdsl import limits
from archdsl.views import diagram as draw
from archdsl.views import dot, html, report
from archdsl.views import tikz as render_tikz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"

# the docs' copy-and-crop example grown into UNet (Ronneberger et al. 2015, Fig. 1): 572x572 in, 388x388 out
UNET = """
input 1x572x572
enc1 { conv(64, p=0) - relu - conv(64, p=0) - relu }
maxpool
enc2 { conv(128, p=0) - relu - conv(128, p=0) - relu }
maxpool
enc3 { conv(256, p=0) - relu - conv(256, p=0) - relu }
maxpool
enc4 { conv(512, p=0) - relu - conv(512, p=0) - relu }
maxpool
bottom { conv(1024, p=0) - relu - conv(1024, p=0) - relu }
up4: upconv2-512
dec4 {
    concat {
        @enc4 - crop(@up4)
        @up4
    }
    conv(512, p=0) - relu - conv(512, p=0) - relu
}
up3: upconv2-256
dec3 {
    concat {
        @enc3 - crop(@up3)
        @up3
    }
    conv(256, p=0) - relu - conv(256, p=0) - relu
}
up2: upconv2-128
dec2 {
    concat {
        @enc2 - crop(@up2)
        @up2
    }
    conv(128, p=0) - relu - conv(128, p=0) - relu
}
up1: upconv2-64
dec1 {
    concat {
        @enc1 - crop(@up1)
        @up1
    }
    conv(64, p=0) - relu - conv(64, p=0) - relu
}
conv1-2
"""


def cli(argv: list[str]) -> int:
    args = archcli.parser("render").parse_args(argv)  # the command's own run(), without main()'s handlers
    return args.func(args)


def parse(path) -> ET.Element:
    return ET.parse(path).getroot()


def groups(root: ET.Element, kind: str) -> dict[str, ET.Element]:
    """id → <g> for Graphviz's nodes, clusters or edges (by the first word of their class)."""
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if (g.get("class") or "").split()[:1] == [kind]}


def classes(g: ET.Element) -> set[str]:
    return set(g.get("class").split())


def texts(g: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in g.iter(f"{SVG}text")]


def centre(g: ET.Element) -> tuple[float, float]:
    """The middle of a node's outline (polygon, path or ellipse)."""
    xs, ys = [], []
    for el in g.iter():
        tag = el.tag.removeprefix(SVG)
        if tag == "ellipse":
            xs.append(float(el.get("cx")))
            ys.append(float(el.get("cy")))
        elif tag in ("polygon", "path"):
            nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", el.get("points") or el.get("d"))]
            xs += nums[0::2]
            ys += nums[1::2]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


@pytest.fixture(scope="module")
def resnet18():
    return archdsl.load("resnet18")


@pytest.fixture(scope="module")
def googlenet():
    return archdsl.load("googlenet_paper")


# --- every layer, every block, every shortcut ------------------------------------------------------------


@needs_dot
def test_full_depth_has_one_node_per_layer_and_a_cluster_per_block(resnet18, tmp_path):
    out = tmp_path / "r18.svg"
    assert cli(["render", "resnet18", "-o", str(out), "--depth", "all"]) == 0
    root = parse(out)
    a = resnet18.analyze()
    nodes = groups(root, "node")
    layers = {x.name for x in a.layers}
    # an identity shortcut (nothing to project) is drawn as an edge; every other layer is a node of its own
    identities = {x.name for x in a.layers if x.op == "projection" and x.params == 0}
    assert len(identities) == 5  # layer1.0, layer1.1, layer2.1, layer3.1, layer4.1
    assert {n.removeprefix("node:") for n in nodes if not n.startswith("node:output:")} == layers - identities
    assert len(nodes) == 63 - 5 + 1  # resnet18's 63 layers, less the identities, plus its output
    # a cluster per block and stage, labelled with its name
    clusters = groups(root, "cluster")
    blocks = [f"layer{s}.{i}" for s in (1, 2, 3, 4) for i in (0, 1)]
    assert set(clusters) == {f"cluster:{b}" for b in blocks + ["layer1", "layer2", "layer3", "layer4"]}
    for cid, g in clusters.items():
        assert texts(g) == [cid.removeprefix("cluster:")]
    # the shortcuts: dashed, one edge straight into each identity block's sum, two through each projection
    edges = groups(root, "edge")
    shortcut = {e for e, g in edges.items() if "shortcut" in classes(g)}
    for x in a.layers:
        if x.name in identities:
            assert f"edge:{x.inputs[0]}:{x.name.removesuffix('.downsample')}" in shortcut
    for b in ("layer2.0", "layer3.0", "layer4.0"):
        block_input = a.layer(f"{b}.downsample").inputs[0]
        assert {f"edge:{block_input}:{b}.downsample", f"edge:{b}.downsample:{b}"} <= shortcut
    assert len(shortcut) == 5 + 2 * 3
    for e in shortcut:
        assert edges[e].find(f"{SVG}path").get("stroke-dasharray")  # dashed
        assert texts(edges[e])  # with the tensor's shape
    assert not any("skip" in classes(g) for g in edges.values())  # a ResNet has shortcuts, no other skips


@needs_dot
def test_nodes_show_the_op_and_the_shape(resnet18, tmp_path):
    dot.render(resnet18, tmp_path / "a.svg")
    root = parse(tmp_path / "a.svg")
    nodes = groups(root, "node")
    # folded by default: the stem's conv box also says bn and relu
    assert texts(nodes["node:conv1"]) == ["conv 7x7/2, 64", "bn · relu", "conv1", "64x112x112"]
    assert texts(nodes["node:maxpool"])[0] == "maxpool 3x3/2"
    assert texts(nodes["node:fc"])[0] == "fc 1000"
    assert texts(nodes["node:layer2.0"])[:2] == ["+", "relu"]  # the residual's sum, with its relu
    assert texts(nodes["node:layer2.0.downsample"])[0] == "conv 1x1/2, 128"
    assert texts(nodes["node:output:output"]) == ["output", "1000"]
    # HxWxC on request
    dot.render(resnet18, tmp_path / "hwc.svg", hwc=True)
    assert texts(groups(parse(tmp_path / "hwc.svg"), "node")["node:conv1"])[-1] == "112x112x64"


def test_rolled_up_blocks_keep_every_parameter(resnet18, googlenet):
    for net in (resnet18, googlenet, archdsl.load("densenet121"), archdsl.load(UNET)):
        a = net.analyze()
        for depth in ("auto", "all", 1, 2, 3):
            for fold in (None, True, False):
                d = draw.diagram(net, depth=depth, fold=fold)
                assert sum(b.params for b in d.boxes.values()) == a.totals.params
                # every layer is in exactly one box, but the identity shortcuts (edges)
                drawn = Counter(x.name for b in d.boxes.values() for x in b.layers)
                assert set(drawn.values()) == {1}
                assert len(drawn) == len(a.layers) - sum(x.op == "projection" and x.params == 0 for x in a.layers)


def test_a_block_at_depth_shows_its_totals_and_output(resnet18):
    d = draw.diagram(resnet18, depth=2)
    box = d.boxes["layer2.0"]
    assert box.kind == "block" and box.shape == (128, 28, 28)
    assert box.params == sum(x.params for x in resnet18.analyze().layers if x.name.startswith("layer2.0"))
    assert box.params == 230_144
    assert box.notes == [
        dict(zip(report.COLUMNS, r))["op"] for r in report.rows(resnet18.analyze(), 2) if r[0] == "layer2.0"
    ]
    assert set(d.clusters) == {"layer1", "layer2", "layer3", "layer4"}


# --- big networks stay readable ----------------------------------------------------------------------------


@needs_dot
def test_resnet152_is_collapsed_by_default(tmp_path):
    net = archdsl.load("resnet152")
    a = net.analyze()
    assert cli(["render", "resnet152", "-o", str(tmp_path / "r.svg")]) == 0
    nodes = groups(parse(tmp_path / "r.svg"), "node")
    assert len(a.layers) == 507 and len(nodes) <= limits.MAX_BOXES < len(a.layers) / 5
    assert "node:layer3.0" in nodes and "node:layer3.0.conv1" not in nodes  # one box per bottleneck
    # ... and the 35 alike bottlenecks after layer3.0 as one box, ×35, holding their layers and parameters
    assert "node:layer3.1" in nodes and not any(f"node:layer3.{i}" in nodes for i in range(2, 36))
    assert texts(nodes["node:layer3.1"])[0] == "layer3.1–35 ×35"
    d = draw.diagram(net)
    stacked = [x for x in a.layers if x.name.split(".")[0] == "layer3" and x.name.split(".")[1] != "0"]
    assert d.depth == 2 and d.boxes["layer3.1"].params == sum(x.params for x in stacked) == 39_101_440
    assert len(d.boxes["layer3.1"].layers) == 35 * 9  # each bottleneck's nine (its identity shortcut is an edge)
    assert cli(["render", "resnet152", "-o", str(tmp_path / "r1.svg"), "--depth", "1"]) == 0
    stages = groups(parse(tmp_path / "r1.svg"), "node")
    assert {f"node:layer{i}" for i in (1, 2, 3, 4)} <= set(stages) and len(stages) < 15


@pytest.mark.parametrize("name", ["densenet201", "inception_v3", "resnet152"])
def test_big_networks_roll_up_to_a_readable_size(name):
    net = archdsl.load(name)
    d = draw.diagram(net)
    assert d.depth is not None and len(d.boxes) <= limits.MAX_BOXES
    assert len(draw.diagram(net, depth="all").boxes) > 2 * limits.MAX_BOXES


@needs_dot
def test_googlenet_shows_its_inception_modules_and_each_output(googlenet, tmp_path):
    out = tmp_path / "g.svg"
    assert cli(["render", "googlenet_paper", "-o", str(out)]) == 0
    root = parse(out)
    clusters = groups(root, "cluster")
    modules = [f"inception{m}" for m in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")]
    assert {f"cluster:{m}" for m in modules + ["aux1", "aux2"]} <= set(clusters)
    nodes = groups(root, "node")
    concats = [n for n, g in nodes.items() if {"merge", "concat"} <= classes(g)]
    assert sorted(concats) == sorted(f"node:{m}" for m in modules)
    # the branches side by side, between the module's input and its concat
    heads = [centre(nodes[f"node:inception3a.branch{i}.0"]) for i in (1, 2, 3, 4)]
    xs = sorted(x for x, _ in heads)
    assert all(b - a > 20 for a, b in zip(xs, xs[1:]))
    top, bottom = centre(nodes["node:pool2"])[1], centre(nodes["node:inception3a"])[1]
    assert all(top < y < bottom for _, y in heads)
    # each output ends in its own node, fed by its head
    edges = groups(root, "edge")
    outputs = googlenet.graph.graph["outputs"]
    assert set(outputs) == {"prob", "aux1", "aux2"}
    for name in outputs:
        assert f"node:output:{name}" in nodes
        assert sum(1 for e in edges if e.endswith(f":output:{name}")) == 1
    # the edges into a concat carry the shapes of its branches
    into = [texts(g) for e, g in edges.items() if e.endswith(":inception3a")]
    assert sorted(t[0].strip() for t in into) == ["128x28x28", "32x28x28", "32x28x28", "64x28x28"]
    assert not any(classes(g) & {"skip", "shortcut"} for g in edges.values())  # branches are not skips


# --- skips, the U, references ------------------------------------------------------------------------------


@needs_dot
def test_unet_is_drawn_as_a_u_with_its_skips_across(tmp_path):
    net = archdsl.load(UNET)
    assert net.analyze().totals.params == 31_030_658  # UNet's published 31.0M
    d = dot.render(net, tmp_path / "u.svg")
    assert d.u_shape
    root = parse(tmp_path / "u.svg")
    nodes, edges = groups(root, "node"), groups(root, "edge")
    skips = {e for e, g in edges.items() if "skip" in classes(g)}
    for level in (1, 2, 3, 4):
        enc, crop = f"enc{level}.2", f"dec{level}.0.branch1"
        assert {f"edge:{enc}:{crop}", f"edge:{crop}:dec{level}.0"} <= skips
        # across: the copy and its crop side by side, the crop to the right of the encoder
        (ex, ey), (cx, cy) = centre(nodes[f"node:{enc}"]), centre(nodes[f"node:{crop}"])
        assert abs(ey - cy) < 1 and cx > ex
        # the crop's reference lends only its size: a dotted edge from the up-convolution
        ref = edges[f"edge:up{level}:{crop}"]
        assert "ref" in classes(ref) and ref.find(f"{SVG}path").get("stroke-dasharray")
    assert len(skips) == 8
    # the way back up: the output is drawn above the bottleneck, level with the input
    bottom, output, inp = (centre(nodes[n])[1] for n in ("node:bottom.2", "node:output:output", "node:input"))
    assert output < bottom and abs(output - inp) < abs(bottom - inp)
    # --layout chain draws it top to bottom instead
    dot.render(net, tmp_path / "chain.svg", layout="chain")
    nodes = groups(parse(tmp_path / "chain.svg"), "node")
    assert centre(nodes["node:output:output"])[1] > centre(nodes["node:bottom.2"])[1]


def test_long_range_edges_into_a_merge_are_skips():
    # FCN's fusion: a 1x1 score on pool4, cropped, added to the upsampled coarse scores
    net = archdsl.load("""
        input 3x64x64
        conv3-16 - relu - maxpool - [conv3-32 - relu]x2 - pool4: maxpool
        conv3-64 - relu - maxpool - score: conv1-5
        up: upconv(5, k=2, s=2)
        @pool4 - side: conv1-5
        sidec: crop(@up)
        fuse: add {
            @up
            @sidec
        }
        upconv(5, k=4, s=4)
    """)
    kinds = {(e.src, e.dst): e.kind for e in draw.diagram(net, depth="all").edges}
    assert kinds[("pool4", "side")] == kinds[("side", "sidec")] == kinds[("sidec", "fuse")] == "skip"
    assert kinds[("up", "fuse")] == "data" and kinds[("up", "sidec")] == "ref"
    # DenseNet: the identity branch of every dense layer's concat
    d = draw.diagram(archdsl.load("densenet121"), depth="all")
    skips = [e for e in d.edges if e.kind == "skip"]
    identities = [b for b in d.boxes.values() if b.op == "identity"]
    assert len(identities) == 6 + 12 + 24 + 16 and len(skips) == 2 * len(identities)


# --- layout, formats, fallbacks ----------------------------------------------------------------------------


@needs_dot
def test_rankdir_lr_lays_the_network_out_left_to_right(tmp_path):
    spots = {}
    for rankdir in ("TB", "LR"):
        out = tmp_path / f"{rankdir}.svg"
        assert cli(["render", "vgg11", "-o", str(out), "--rankdir", rankdir]) == 0
        nodes = groups(parse(out), "node")
        (x0, y0), (x1, y1) = centre(nodes["node:input"]), centre(nodes["node:output:output"])
        spots[rankdir] = (x1 - x0, y1 - y0)
    (dx, dy) = spots["TB"]
    assert dy > 10 * abs(dx)  # SVG's y grows downwards
    (dx, dy) = spots["LR"]
    assert dx > 10 * abs(dy)


@needs_dot
@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_png_and_pdf(tmp_path, fmt, magic):
    out = tmp_path / f"net.{fmt}"
    assert cli(["render", "lenet5", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(magic)


def test_without_dot_the_dot_file_is_still_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "")
    out = tmp_path / "net.svg"
    assert cli(["render", "resnet18", "-o", str(out)]) == 3
    assert not out.exists()
    text = (tmp_path / "net.dot").read_text()
    assert text.startswith("digraph resnet18 {") and text.count("subgraph ") == 12
    err = capsys.readouterr().err
    assert "dot" in err and "apt-get install graphviz" in err and "net.dot" in err
    # a .dot output needs no Graphviz at all; nor does TikZ
    assert cli(["render", "resnet18", "-o", str(tmp_path / "r.dot")]) == 0
    assert cli(["render", "resnet18", "-o", str(tmp_path / "r.tex")]) == 0
    assert html.repr_svg(archdsl.load("lenet5")) is None  # a notebook falls back to the next repr
    with pytest.raises(dot.GraphvizMissing):
        dot.svg(archdsl.load("lenet5"))


def test_bad_arguments(tmp_path, capsys):
    assert cli(["render", "lenet5", "-o", str(tmp_path / "net.jpg")]) == 2
    assert ".svg, .png, .pdf, .dot or .tex" in capsys.readouterr().err
    assert cli(["render", "lenet5", "-o", str(tmp_path / "net.svg"), "--depth", "0"]) == 2
    assert "--depth" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SystemExit) as err:
        cli(["render", "lenet5", "--rankdir", "XY"])
    assert err.value.code == 2


# --- TikZ ----------------------------------------------------------------------------------------------


def _balanced(text: str) -> bool:
    depth = 0
    for m in re.finditer(r"\\.|[{}]", text):
        if m.group() == "{":
            depth += 1
        elif m.group() == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


@pytest.mark.parametrize(
    "spec, depth",
    [
        ("resnet18", "auto"),
        ("resnet18", "2"),
        ("googlenet_paper", "auto"),
        (UNET, "auto"),
        ("input 3x32x32\nconv_a: conv3-8 - relu - fc-10", "all"),
    ],
)
def test_tikz_picture_structure(tmp_path, spec, depth):
    out = tmp_path / "net.tex"
    assert cli(["render", spec, "-o", str(out), "--depth", depth]) == 0
    tex = out.read_text()
    assert tex.startswith("\\documentclass[tikz, border=8pt]{standalone}")
    assert "\\usepackage" not in tex and "\\usetikzlibrary" not in tex  # standalone + tikz, nothing else
    assert tex.count("\\begin{tikzpicture}") == tex.count("\\end{tikzpicture}") == 1
    assert tex.rstrip().endswith("\\end{document}") and _balanced(tex)
    net = archdsl.load(spec)
    d = draw.diagram(net, depth=depth if depth in ("auto", "all") else int(depth))
    lines = tex.splitlines()
    drawn = [ln for ln in lines if ln.startswith(("\\archbox{", "\\archball{"))]
    assert len(drawn) == sum(1 for b in d.boxes.values() if b.kind != "output")  # one box per layer or block
    assert sum(ln.startswith("\\archout{") for ln in lines) == len(net.analyze().outputs)
    assert sum(ln.startswith("\\draw[archedge]") for ln in lines) == sum(e.kind in ("data", "output") for e in d.edges)
    skips = sum(e.kind in ("skip", "shortcut") for e in d.edges)
    assert sum(ln.startswith(("\\draw[archskip]", "\\draw[archshortcut]")) for ln in lines) == skips
    if spec == "resnet18" and depth == "auto":
        assert skips == 11
    if "conv_a" in spec:  # LaTeX's special characters escaped
        assert "conv\\_a" in tex and "conv_a" not in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_tikz_compiles(tmp_path):
    for spec in ("resnet18", UNET):
        out = tmp_path / "net.tex"
        dot.render(archdsl.load(spec), out)
        proc = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name],
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout.decode(errors="replace")[-2000:]
        assert (tmp_path / "net.pdf").read_bytes().startswith(b"%PDF")


# --- notebooks ----------------------------------------------------------------------------------------------


@needs_dot
def test_svg_for_notebooks(googlenet):
    text = dot.svg(googlenet)
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert html.repr_svg(googlenet) == text
    # an Analysis alone will do: its outputs are found among the layers nothing reads
    root = ET.fromstring(dot.svg(googlenet.analyze(), depth=1))
    assert {"node:output:prob", "node:output:aux1", "node:output:aux2"} <= set(groups(root, "node"))


def test_html_table(resnet18):
    a = resnet18.analyze()
    text = html.html_table(resnet18)
    assert text.startswith('<table class="archdsl-report">') and text.count("<th ") == len(report.COLUMNS)
    assert text.count("<tr>") == 1 + len(report.rows(a, report.auto_depth(a)))
    ET.fromstring(f"<div>{text}</div>")  # well-formed
    assert "layer1.0" in text and f"{a.totals.params:,}" in text


def test_the_archdsl_command_has_render(tmp_path):
    from archdsl import cli as archcli

    if "render" not in archcli.parser()._subparsers._group_actions[0].choices:
        pytest.skip("archdsl.cli does not wire `render` yet")
    assert archcli.main(["render", "lenet5", "-o", str(tmp_path / "l.dot")]) == 0
    assert (tmp_path / "l.dot").read_text().startswith("digraph lenet5 {")


def test_a_very_long_tikz_picture_is_drawn_to_scale(tmp_path):
    # TeX cannot measure past about 575 cm: DenseNet-201's 806 layers in a row are shrunk to fit 500 cm
    net = archdsl.load("densenet201")
    dot.render(net, tmp_path / "d.tex", depth="all")
    tex = (tmp_path / "d.tex").read_text()
    scale = float(re.search(r"x=([\d.]+)cm, y=\1cm, every node/\.append style=\{scale=\1\}", tex).group(1))
    xs = [float(m.group(1)) for m in re.finditer(r"^\\arch(?:box|ball)\{n\d+\}\{([-\d.]+)\}", tex, re.M)]
    assert len(xs) == len(net.analyze().layers) == 805 and 0 < scale < 1
    assert max(xs) * scale <= render_tikz.MAX_EXTENT < max(xs)
