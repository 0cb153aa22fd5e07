"""What Jupyter shows for archdsl's objects: a three-cell notebook executed in a real IPython kernel (nbclient,
as ``jupyter nbconvert --execute`` runs it), then each cell's output bundle read back: a ``Net`` displays its
diagram (``image/svg+xml``, the first and only rich type of its bundle, so every front end draws the SVG), an
``Analysis`` the compact report table (``text/html``), ``net.render()`` the graphviz diagram. About a second."""

from __future__ import annotations

import shutil

import pytest

import archdsl

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

CELLS = [
    "import archdsl\nnet = archdsl.load('lenet5')\nnet",
    "net.analyze()",
    "net.render(depth=1)",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    cwd = tmp_path_factory.mktemp("nb")
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    # written and read back as a .ipynb file, so the bundles are what a saved notebook holds
    path = cwd / "archdsl.ipynb"
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)


def result(nb, i: int) -> dict:
    """The one output of cell ``i``: its execute_result's mime bundle."""
    outs = nb.cells[i].outputs
    assert [o.output_type for o in outs] == ["execute_result"], outs
    return dict(outs[0].data)


@needs_dot
def test_a_net_shows_its_diagram_as_svg_first(executed):
    data = result(executed, 0)
    assert list(data) == ["image/svg+xml", "text/plain"]  # SVG first, and no HTML that a front end would prefer
    svg = data["image/svg+xml"]
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert 'id="graph:lenet5"' in svg and 'class="node layer conv"' in svg
    assert "lenet5: 61,706 params" in svg  # the title: the summary
    assert data["text/plain"].startswith("<archdsl.Net lenet5")


def test_an_analysis_shows_the_compact_report_table(executed):
    data = result(executed, 1)
    assert set(data) == {"text/html", "text/plain"}
    table = data["text/html"]
    assert table.startswith('<table class="archdsl-report"><caption>lenet5</caption>')
    assert "<th" in table and "conv 5x5, 6" in table.replace("×", "x")
    assert table.count("<tr>") == 1 + len(archdsl.load("lenet5").analyze().layers)
    assert data["text/plain"].startswith("<Analysis lenet5:")


@needs_dot
def test_render_displays_the_graphviz_diagram(executed):
    data = result(executed, 2)
    assert "image/svg+xml" in data and "text/html" not in data
    assert 'id="graph:lenet5"' in data["image/svg+xml"]
