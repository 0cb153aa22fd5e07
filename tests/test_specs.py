"""Every network of every library spec (``specs/**/*.arch``): the analysis is exact.

For each one: parse → analyze → compile → forward on a random batch, then
- the analytic parameter total equals the compiled module's parameter count,
- the analytic ``state_dict_shapes()`` equals the compiled state_dict (same keys, same shapes),
- every analytic output shape equals the real output's shape;
and, in a separate process, ``analyze()`` never imports torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

import archdsl
from archdsl.lang import ast, library
from archdsl.lang.files import load_file, read_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
BATCH = 2


def spec_files() -> list[Path]:
    return sorted(SPECS.rglob("*.arch"))


def networks_of(path: Path) -> list[str | None]:
    """The networks a spec file defines; None stands for its top-level chain."""
    ctx = load_file(read_spec(path), str(path))
    names: list[str | None] = list(ctx.networks)
    if any(isinstance(s, (ast.Chain, ast.InputStmt)) for s in ctx.spec.top.stmts):
        names.insert(0, None)
    return names


CASES = [(path, net) for path in spec_files() for net in networks_of(path)]
IDS = [str(path.relative_to(SPECS).with_suffix("")) + (f":{net}" if net else "") for path, net in CASES]


def test_the_library_is_not_empty():
    assert {"lenet5", "alexnet_paper", "vgg16", "inception", "residual"} <= set(library.library())
    assert len(CASES) >= len(spec_files())


def test_every_network_is_a_library_name_of_its_own():
    """`archdsl report vgg11` finds vgg11 in vgg.arch: network names are unique across the library,
    and none hides a file name."""
    seen: dict[str, Path] = {}
    for path, network in CASES:
        if network is None:
            continue
        assert network not in seen, f"network {network} is defined in {seen[network]} and {path}"
        seen[network] = path
        entry = library.entries()[network]
        assert (entry.path, entry.network) == (path, network)
        assert entry.description, f"{network}: put a comment line above `network {network} {{`"
    stems = {p.stem for p in spec_files()}
    for name in seen:
        assert name not in stems or seen[name].stem == name, f"network {name} has the name of another file"


@pytest.mark.parametrize("path", spec_files(), ids=lambda p: str(p.relative_to(SPECS)))
def test_spec_describes_itself(path: Path):
    """The first comment line is the one-line description `archdsl list` shows."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and len(first) > 10
    assert library.description(path) == first[2:].strip()
    assert library.find(path.stem) == path


# networks that run per region: a few regions are enough to check the shapes (their analysis is exact at any R)
FEW_REGIONS = {"rcnn_alexnet": {"rois": 2}, "fast_rcnn_vgg16": {"rois": 3}, "mask_rcnn_mask_head": {"rois": 3}}


@cache
def _net(path: Path, network: str | None) -> archdsl.Net:
    return archdsl.load(str(path), network=network, **FEW_REGIONS.get(network, {}))


@pytest.mark.parametrize(("path", "network"), CASES, ids=IDS)
def test_spec_analysis_matches_compiled_module(path: Path, network: str | None):
    import torch

    net = _net(path, network)
    analysis = net.analyze()
    assert analysis.layers[0].name == "input"

    gm = net.compile(device="cpu")
    gm.eval()

    # parameters: the analytic total is what torch allocates
    assert analysis.totals.params == sum(p.numel() for p in gm.parameters())
    assert analysis.totals.trainable_params == sum(p.numel() for p in gm.parameters() if p.requires_grad)

    # state_dict: exactly the same keys, in the same order, with the same shapes
    real = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    expected = analysis.state_dict_shapes()
    assert list(expected) == list(real)
    assert expected == real
    assert analysis.totals.buffers == sum(b.numel() for b in gm.buffers())

    # outputs: every analytic shape is the real one
    inputs = net.example_inputs(BATCH)  # by the forward's argument names: image and boxes, for Fast R-CNN
    assert {k: tuple(v.shape[1:]) for k, v in inputs.items()} == analysis.inputs
    with torch.no_grad():
        y = gm(**inputs)
    ys = y if isinstance(y, dict) else {next(iter(analysis.outputs)): y}
    assert set(ys) == set(analysis.outputs)
    for name, shape in analysis.outputs.items():
        rows = analysis.output_rows[name]
        if rows == 1:
            assert tuple(ys[name].shape) == (BATCH, *shape), name
        else:  # one row per region: at most R per image (NMS may keep fewer proposals)
            assert tuple(ys[name].shape[1:]) == shape and 0 < ys[name].shape[0] <= BATCH * rows, name
        assert torch.isfinite(ys[name]).all(), name


_NO_TORCH = r"""
import json, sys
import archdsl
cases = json.loads(sys.argv[1])
for path, network in cases:
    archdsl.load(path, network=network).analyze().model_dump_json()
    assert "torch" not in sys.modules, (path, network)
print("ok", len(cases))
"""


def test_analyze_does_not_import_torch():
    cases = json.dumps([[str(path), net] for path, net in CASES])
    done = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, cases], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", str(len(CASES))]


@pytest.mark.parametrize("path,network", CASES, ids=IDS)
def test_spec_through_the_cli_and_generated_source(path: Path, network: str | None, capsys, tmp_path):
    """`archdsl check`, `report --format json`, `render` and `compile -o` agree with the analysis for every network;
    the generated source builds a module with the same state_dict layout."""
    from archdsl.cli import main

    extra = ["--network", network] if network else []
    a = archdsl.load(str(path), network=network).analyze()  # the defaults, as the command line has them
    assert main(["check", str(path), *extra]) == 0
    assert f"{a.totals.params:,} params" in capsys.readouterr().out
    assert main(["report", str(path), "--format", "json", *extra]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["params"] == a.totals.params and report["totals"]["macs"] == a.totals.macs
    dot = tmp_path / "net.dot"  # the diagram's graphviz source (rendering it needs dot; tests/test_render.py does)
    assert main(["render", str(path), "-o", str(dot), *extra]) == 0
    assert dot.read_text().startswith("digraph") and "output" in dot.read_text()
    out = tmp_path / "net.py"
    assert main(["compile", str(path), "-o", str(out), *extra]) == 0
    namespace: dict = {}
    exec(compile(out.read_text(), str(out), "exec"), namespace)  # the test runs our own generated file
    import torch

    with torch.device("meta"):
        model = namespace["build"]()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == a.state_dict_shapes()


def test_docs_library_md_is_current(capsys):
    """docs/library.md holds `archdsl list --format markdown`; regenerate it when a spec changes."""
    from archdsl.cli import main

    assert main(["list", "--format", "markdown"]) == 0
    table = capsys.readouterr().out
    doc = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    assert table in doc, "docs/library.md is stale: rerun `archdsl list --format markdown` into it"
