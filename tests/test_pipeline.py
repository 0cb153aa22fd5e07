"""The pipeline API: load forms, analysis without torch, compile options."""

import shutil
import subprocess
import sys

import pytest
import torch

import archdsl
from archdsl import ArchError
from archdsl.ir.shapes import parse_shape


def test_analyze_never_imports_torch():
    code = (
        "import sys, archdsl\n"
        "a = archdsl.load('[CONV-POOL]x2-FC', input='3x32x32', classes=10).analyze()\n"
        "assert a.outputs == {'output': (10,)}\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_load_inline_with_variables():
    net = archdsl.load("[CONV-POOL]x2-FC", input="3x32x32", classes=10)
    a = net.analyze()
    assert a.outputs == {"output": (10,)}
    assert a.totals.params == 896 + 9248 + (32 * 8 * 8 * 10 + 10)


def test_load_unknown_variable_suggests():
    with pytest.raises(ArchError, match="unknown variable 'clases'") as exc:
        archdsl.load("fc", input="3x4x4", clases=3)
    assert "did you mean 'classes'" in str(exc.value)


def test_unknown_library_name_suggests():
    with pytest.raises(ArchError, match="unknown spec 'vgg61'"):
        archdsl.load("vgg61")


def test_meta_device_builds_without_memory():
    model = archdsl.load("conv3-512 - fc-4096", input="3x224x224").compile(device="meta")
    assert all(p.is_meta for p in model.parameters())


def test_dtype():
    model = archdsl.load("conv3-8 - bn - relu", input="3x8x8").compile(dtype=torch.float64)
    assert model(torch.randn(1, 3, 8, 8, dtype=torch.float64)).dtype == torch.float64


def test_several_outputs_return_a_dict():
    spec = "input 3x16x16\ntrunk { conv3-8 - relu }\n@trunk - cls: fc-10\n@trunk - box: fc-4\noutput cls, box"
    net = archdsl.load(spec)
    assert net.analyze().outputs == {"cls": (10,), "box": (4,)}
    y = net.compile()(torch.randn(2, 3, 16, 16))
    assert set(y) == {"cls", "box"} and y["box"].shape == (2, 4)


def test_compiled_module_trains():
    model = archdsl.load("conv3-4 - bn - relu - gap - fc-3", input="3x8x8").compile()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 8, 8)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    opt.step()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(
    "text,shape", [("3x224x224", (3, 224, 224)), ("1 x 32 x 32", (1, 32, 32)), ((3, 8, 8), (3, 8, 8))]
)
def test_parse_shape(text, shape):
    assert parse_shape(text) == shape


def test_parse_shape_rejects_garbage():
    with pytest.raises(ArchError, match="bad input shape"):
        parse_shape("3xfoo")


def test_compile_refuses_a_model_too_large_to_allocate():
    net = archdsl.load("fc-99999999 - fc-99999999", input="1x1x1")
    with pytest.raises(archdsl.LimitError, match="more than the limit of 2,000,000,000"):
        net.compile()
    assert sum(p.numel() for p in net.compile(device="meta").parameters()) == net.analyze().totals.params


def test_to_networkx_is_the_analysed_graph(tmp_path):
    import networkx as nx

    net = archdsl.load("input 3x8x8\na: conv3-4 - maxpool - b: conv3-4 - upconv(4, k=2) - crop(@a) - fc-2")
    g = net.to_networkx()
    a = net.analyze()
    assert list(nx.topological_sort(g))[0] == "input" and set(g) == {layer.name for layer in a.layers}
    assert g.nodes["a"] == {
        "op": "conv",
        "describe": a.layer("a").describe,
        "params": 112,
        "macs": 6912,
        "shape": "4x8x8",
        "source": "<inline>:2:4",
    }
    crop = next(layer.name for layer in a.layers if layer.op == "crop")
    assert [(u, d["role"]) for u, _, d in sorted(g.in_edges(crop, data=True), key=lambda e: e[2]["index"])] == [
        (a.layers[4].name, "data"),
        ("a", "ref"),
    ]
    assert g.graph["outputs"] == f"output={a.layers[-1].name}"
    assert nx.dag_longest_path_length(g) == 6 and nx.shortest_path_length(g, "input", a.layers[-1].name) == 3  # via @a
    nx.write_graphml(g, tmp_path / "net.graphml")
    assert set(nx.read_graphml(tmp_path / "net.graphml")) == set(g)


def test_analysis_does_not_import_networkx():
    code = "import sys, archdsl; archdsl.load('vgg16').analyze(); assert 'networkx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_stages_leave_the_graph_as_elaborated():
    """The graph is a record of typed nodes (op, inputs, span) that analysis, contract and compile only read."""
    from archdsl.ir.graph import Node

    net = archdsl.load("resnet18")
    before = {n: (id(d.op), tuple(d.inputs), d.span) for n, d in net.graph.nodes.items()}
    net.analyze()
    net.input_contract()
    net.compile(device="meta")
    net.fully_convolutional()
    assert {n: (id(d.op), tuple(d.inputs), d.span) for n, d in net.graph.nodes.items()} == before
    assert all(type(d) is Node for d in net.graph.nodes.values())


def test_a_notebook_shows_a_net_as_its_diagram_and_an_analysis_as_its_table():
    """Issue 17: the HTML table used to win over the SVG in a Net's bundle, and an Analysis printed pydantic's
    dump of every layer."""
    net = archdsl.load("lenet5")
    bundle = net._repr_mimebundle_()
    assert repr(net) == "<archdsl.Net lenet5: 61,706 params, 416,520 MACs, 1x32x32 → output 10>"
    assert bundle["text/plain"] == repr(net) and "text/html" not in bundle
    if shutil.which("dot"):
        assert list(bundle)[0] == "image/svg+xml" and "<svg" in bundle["image/svg+xml"]
    a = net.analyze()
    assert repr(a) == str(a) == "<Analysis lenet5: 12 layers, 61,706 params, 416,520 MACs, 1x32x32 → output 10>"
    assert a._repr_html_().startswith('<table class="archdsl-report">')


def test_render_returns_the_graphviz_object_and_writes_a_file(tmp_path):
    import graphviz

    net = archdsl.load("lenet5")
    g = net.render(tmp_path / "l", format="dot", depth="all")
    assert isinstance(g, graphviz.Digraph) and g.source == (tmp_path / "l.dot").read_text()
    assert 'id="node:c1"' in g.source


def test_loading_pauses_the_garbage_collector_and_restores_it():
    import gc

    archdsl.load("lenet5").analyze()
    assert gc.isenabled()
    gc.disable()
    try:
        archdsl.load("vgg11").analyze()
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
    with pytest.raises(ArchError):
        archdsl.load("conv3-8 - maxpol", input="3x8x8")
    assert gc.isenabled()  # an error on the way restores it too
