"""archdsl plot (issue 17): the lectures' complexity chart, and the published top-1 figures the specs state.

The chart is read back from the matplotlib Figure (the scatter's points are the networks' exact MACs, parameters
and published top-1; the bubbles' areas are in proportion to the parameters) and from the files written (the
format's signature); the pictures themselves were looked at (docs/img/complexity.png).
"""

from __future__ import annotations

import re
import sys

import pytest

pytest.importorskip("matplotlib")

import archdsl  # noqa: E402
from archdsl.cli import main  # noqa: E402
from archdsl.errors import ArchError, UsageError  # noqa: E402
from archdsl.lang import library  # noqa: E402
from archdsl.pipeline import plot_points  # noqa: E402
from archdsl.views import plot as view  # noqa: E402

ACCEPTANCE = ["resnet18", "resnet50", "vgg16", "mobilenet_v2", "googlenet", "densenet121"]
# the published figures, as the specs state them (torchvision's IMAGENET1K_V1 weights, acc@1): the test that
# the library's lines are read right
TOP1 = {
    "resnet18": 69.758,
    "resnet50": 76.13,
    "vgg16": 71.592,
    "mobilenet_v2": 71.878,
    "googlenet": 69.778,
    "densenet121": 74.434,
}


def _scatter(fig):
    (ax,) = fig.axes
    (sc,) = [c for c in ax.collections if c.get_gid() == "networks"]
    return ax, sc


def _totals(name):
    t = archdsl.load(name).analyze().totals
    return t.params, t.macs


# ------------------------------------------------------------------ the figures in the specs
def test_every_top1_line_of_the_library_parses_and_belongs_to_a_network():
    """Each '# top-1' line reads '# top-1: VALUE (SOURCE)' and is found for exactly one network: none is left
    in a place no network reads (above a block, in the middle of a file)."""
    claimed = set()
    for entry in library.entries().values():
        published = entry.top1
        if published is not None:
            assert 0 < published.top1 <= 100 and published.source
            assert (entry.path, published.line) not in claimed
            claimed.add((entry.path, published.line))
    lines = {
        (path, i + 1)
        for path in sorted(library.spec_root().rglob("*.arch"))
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines())
        if re.match(r"#\s*top-1", line)
    }
    assert lines == claimed
    assert len(claimed) >= 34


def test_acceptance_networks_have_their_published_top1():
    for name, value in TOP1.items():
        published = library.lookup(name).top1
        assert published.top1 == value
        assert "torchvision" in published.source and "IMAGENET1K_V1" in published.source


def test_only_published_models_have_a_figure():
    """The paper's own networks, which no torchvision weights fit, state none here."""
    for name in ("vgg_d", "googlenet_paper", "alexnet_paper", "lenet5", "mobilenet_v1", "seresnet50"):
        assert library.lookup(name).top1 is None


def test_a_bad_top1_line_is_a_spec_error(tmp_path):
    spec = tmp_path / "mine.arch"
    spec.write_text("# My net\n# top-1: about 70 (a blog)\ninput 3x8x8\nconv3-4\n")
    with pytest.raises(ArchError) as err:
        library.published_top1(spec)
    assert str(err.value).startswith(f"{spec}:2:1: a top-1 line reads '# top-1: VALUE (SOURCE)'")
    spec.write_text(
        "network a {\n    input 3x8x8\n    conv3-4\n}\n# A\n# top-1: 50 (x)\n# top-1: 51 (y)\nnetwork b {\n}\n"
    )
    with pytest.raises(ArchError, match="a second top-1 line for one network \\(the first is line 6\\)"):
        library.published_top1(spec, "b")
    assert library.published_top1(spec, "a") is None
    spec.write_text("# A\n# top-1: 101 (x)\ninput 3x8x8\nconv3-4\n")
    with pytest.raises(ArchError, match="VALUE the published accuracy in per cent"):
        library.published_top1(spec)


def test_a_spec_file_of_ones_own_states_its_top1(tmp_path):
    spec = tmp_path / "mine.arch"
    spec.write_text("# My net\n# top-1: 61.5 (my paper, Table 2, single crop)\ninput 3x32x32\nconv3-8 - relu - fc-10\n")
    (point,) = plot_points([str(spec)])
    assert (point.name, point.top1, point.source) == ("mine", 61.5, "my paper, Table 2, single crop")


# ------------------------------------------------------------------ the chart
def test_acceptance_chart_points_are_the_exact_figures(tmp_path):
    out = tmp_path / "c.png"
    fig = archdsl.plot(ACCEPTANCE, out)
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    ax, sc = _scatter(fig)
    offsets = sc.get_offsets()
    assert len(offsets) == len(ACCEPTANCE)
    for name, (x, y) in zip(ACCEPTANCE, offsets):
        assert x == _totals(name)[1] and y == TOP1[name]
    assert ax.get_xlabel().startswith("operations: multiply-accumulates per image")
    assert ax.get_ylabel().startswith("top-1 accuracy (%)")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert [t.get_text() for t in ax.texts if t.get_text()] == ACCEPTANCE  # every point labelled with its name
    # bubble area in proportion to the parameters, the largest MAX_AREA
    params = [_totals(n)[0] for n in ACCEPTANCE]
    for area, p in zip(sc.get_sizes(), params):
        assert area == pytest.approx(view.MAX_AREA * p / max(params))
    legend = fig.legends[0]
    assert "parameters" in legend.get_title().get_text()


def test_labels_do_not_overlap(tmp_path):
    fig = archdsl.plot([n for n, e in library.entries().items() if e.top1 is not None][:20])
    ax, _ = _scatter(fig)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
    assert len(boxes) == 20
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1)


def test_params_against_macs_needs_no_accuracy(tmp_path):
    names = ["lenet5", "unet", "resnet18"]
    fig = archdsl.plot(names, tmp_path / "p.svg", y="params")
    ax, sc = _scatter(fig)
    assert [tuple(o) for o in sc.get_offsets()] == [(m, p) for p, m in map(_totals, names)]
    assert ax.get_ylabel() == "parameters" and ax.get_yscale() == "log"
    assert set(sc.get_sizes()) == {view.POINT_AREA}  # the parameters are an axis: no bubbles
    head = (tmp_path / "p.svg").read_bytes()[:4096]
    assert b"<svg" in head and b"archdsl plot" in head


def test_no_published_top1_at_all_draws_params_against_macs(tmp_path):
    fig = archdsl.plot(["lenet5", "unet"], tmp_path / "n.pdf")
    ax, sc = _scatter(fig)
    assert len(sc.get_offsets()) == 2 and ax.get_ylabel() == "parameters"
    assert (tmp_path / "n.pdf").read_bytes().startswith(b"%PDF-")


def test_a_network_without_top1_is_named_in_the_note():
    fig = archdsl.plot(["resnet18", "lenet5", "googlenet_paper"])
    _, sc = _scatter(fig)
    assert len(sc.get_offsets()) == 1
    note = " ".join(t.get_text() for t in fig.texts)
    assert "not drawn: lenet5, googlenet_paper" in note


def test_axes_and_formats_are_checked():
    with pytest.raises(ArchError, match="both axes show 'macs'"):
        view.axes([], "macs", "macs")
    with pytest.raises(ArchError, match="cannot plot to '.jpg'"):
        view.save(archdsl.plot(["resnet18"]), "x.jpg")


def test_unknown_network_is_a_clear_error():
    with pytest.raises(archdsl.UnknownNameError, match="unknown spec 'resnet999'"):
        archdsl.plot(["resnet18", "resnet999"])


# ------------------------------------------------------------------ the command
def test_cli_acceptance(tmp_path, capsys):
    out = tmp_path / "c.png"
    assert main(["plot", *ACCEPTANCE, "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out} (6 networks, top1 against macs)\n"
    assert out.read_bytes().startswith(b"\x89PNG")
    assert main(["plot", "resnet18", "-o", str(out)]) == 0  # its own output is replaced without --force


def test_cli_notes_networks_without_top1(tmp_path, capsys):
    assert main(["plot", "resnet18", "lenet5", "-o", str(tmp_path / "c.svg")]) == 0
    out = capsys.readouterr().out
    assert "(1 network, top1 against macs)" in out
    assert "note: no published top-1 for lenet5 (not drawn" in out
    assert main(["plot", "lenet5", "-o", str(tmp_path / "p.png")]) == 0
    assert "note: no network has a published top-1, so this is params against macs" in capsys.readouterr().out


def test_cli_published_draws_every_network_with_a_figure(tmp_path, capsys):
    assert main(["plot", "--published", "-o", str(tmp_path / "all.png")]) == 0
    n = sum(1 for e in library.entries().values() if e.top1 is not None)
    assert f"({n} networks, top1 against macs)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resnet18", "-o", "x.jpg"], "writes .png, .svg or .pdf, not 'x.jpg'"),
        (["-o", "x.png"], "name the networks to draw, or --published"),
        (["resnet18", "--x", "params", "--y", "params", "-o", "x.png"], "--x and --y are both params"),
    ],
)
def test_cli_usage_errors(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["plot", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archdsl plot: error: ") and message in err and err.count("\n") == 1


def test_cli_unknown_network_exits_1(tmp_path, capsys):
    assert main(["plot", "resnet999", "-o", str(tmp_path / "x.png")]) == 1
    assert "unknown spec 'resnet999'" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cli_keeps_a_file_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "c.png"
    mine.write_text("my notes\n")
    assert main(["plot", "resnet18", "-o", str(mine)]) == 2
    assert "exists and is not a file archdsl wrote: pass --force" in capsys.readouterr().err
    assert mine.read_text() == "my notes\n"


def test_without_matplotlib_a_usage_error_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["plot", "resnet18", "-o", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err
    assert err == "archdsl plot: error: archdsl plot needs matplotlib: pip install 'archdsl[plot]'\n"
    with pytest.raises(UsageError, match=r"archdsl\[plot\]"):
        archdsl.plot(["resnet18"])
    assert not (tmp_path / "c.png").exists()
