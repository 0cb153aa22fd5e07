"""The report's roll-up: ``--depth`` collapses blocks into one row each, with exact totals."""

from __future__ import annotations

import io

import pytest

import archdsl
from archdsl.cli import main
from archdsl.views import report


@pytest.fixture(scope="module")
def resnet50():
    return archdsl.load("resnet50").analyze()


def _int(cell: str) -> int:
    return int(cell.replace(",", ""))


@pytest.mark.parametrize("depth", [1, 2, 3, None])
def test_rolled_up_rows_add_up_to_the_totals(resnet50, depth):
    rows = report.rows(resnet50, depth)
    col = {c: i for i, c in enumerate(report.COLUMNS)}
    assert sum(_int(r[col["params"]]) for r in rows) == resnet50.totals.params == 25_557_032
    assert sum(_int(r[col["MACs"]]) for r in rows) == resnet50.totals.macs == 4_089_184_256
    # a rolled-up row counts the activations its block keeps (in-place layers need no memory of their
    # own, as in the totals); a single layer's row shows its output size either way
    groups = list(report.groups(resnet50, depth).values())
    kept = [_int(r[col["activations"]]) for r, g in zip(rows, groups) if len(g) > 1 or not g[0].elementwise]
    assert sum(kept) == resnet50.totals.activations


def test_resnet50_rolls_up_one_block_per_row(resnet50):
    depth = report.auto_depth(resnet50)
    assert depth == 2
    rows = report.rows(resnet50, depth)
    names = [r[0] for r in rows]
    blocks = [f"layer{s}.{i}" for s, n in zip((1, 2, 3, 4), (3, 4, 6, 3)) for i in range(n)]
    assert names == ["input", "conv1", "bn1", "relu", "maxpool", *blocks, "avgpool", "fc"]
    first = dict(zip(report.COLUMNS, rows[names.index("layer1.0")]))
    # the first bottleneck: 1x1 64, 3x3 64, 1x1 256, three bn, and the 1x1 projection conv + bn
    assert first["op"] == "[10 layers] 3 conv, 3 bn, 2 relu, downsample, residual"
    assert first["output"] == "256x56x56"
    assert _int(first["params"]) == 4096 + 36864 + 16384 + 2 * (64 + 64 + 256) + 16384 + 2 * 256 == 75_008
    second = dict(zip(report.COLUMNS, rows[names.index("layer1.1")]))
    assert second["op"] == "[10 layers] 3 conv, 3 bn, 2 relu, residual"  # identity shortcut: no downsample
    assert second["RF size/stride"] == "27/4"  # the block's own output node (the residual sum)


def test_depth_one_is_one_row_per_stage(resnet50):
    names = [r[0] for r in report.rows(resnet50, 1)]
    assert names == [
        "input",
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "fc",
    ]


def test_small_networks_show_every_layer():
    a = archdsl.load("[CONV-POOL]x2-FC", input="3x32x32", classes=10).analyze()
    assert report.auto_depth(a) is None
    assert [r[0] for r in report.rows(a, None)] == [layer.name for layer in a.layers]


def test_cli_depth(capsys):
    spec = "resnet50"  # `archdsl report resnet50`: one row per block at the default depth
    assert main(["report", spec]) == 0
    out = capsys.readouterr().out
    assert "layer3.5" in out and "layer3.5.conv1" not in out and "rolled up at depth 2" in out
    assert main(["report", spec, "--depth", "all", "--format", "markdown"]) == 0
    assert "| layer3.5.conv1 |" in capsys.readouterr().out
    assert main(["report", spec, "--depth", "1", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| layer3 |" in out and "| layer3.0 |" not in out
    assert main(["report", spec, "--depth", "0"]) == 2
    assert "--depth takes a number" in capsys.readouterr().err


# ------------------------------------------------------------------ totals
@pytest.fixture(scope="module")
def vgg16():
    return archdsl.load("vgg16").analyze()


def test_vgg16_totals_as_docs_report_md_defines_them(vgg16):
    t = vgg16.totals
    # the slide's 22 maps (input, 13 conv, 5 pool, 3 fc) sum to 15,237,608 (it says "24M"); torchvision's
    # 7x7 average pool adds 25,088; ReLU and dropout run in place and add nothing
    assert t.activations == 15_237_608 + 25_088 == 15_262_696
    assert t.peak_activations == 2 * 64 * 224 * 224 == 6_422_528  # conv1_1's and conv1_2's maps
    # saved for backward: every map but pool5 (read only by the average pool) and the logits
    assert t.saved_activations == t.activations - 512 * 7 * 7 - 1000 == 15_236_608
    assert (t.largest_activation, t.largest_layer) == (3_211_264, "features.0")
    # --count all, ptflops' rules: conv and fc bias adds (13,547,520 conv outputs + 9,192 fc outputs),
    # 15 ReLUs (13,555,712), 5 max-pools and the adaptive pool (6,121,472 + 25,088 inputs)
    extra = 13_547_520 + 9_192 + 13_555_712 + 6_121_472 + 25_088
    assert t.macs_all == t.macs + extra == 15_503_523_304


def test_resnet50_totals(resnet50):
    t = resnet50.totals
    # bias adds, BN, ReLU, pooling, the 16 residual sums and the ReLU after each (5,519,360 values
    # each); ptflops publishes 4.12 GMac for resnet50
    residual_outputs = sum(x.activations for x in resnet50.layers if x.op == "residual")
    assert residual_outputs == 5_519_360
    # 29,730,280 for the biases, BN, the 17 other ReLUs, pooling and one add per summed value, plus
    # one per value for the ReLU fused into each sum
    assert t.macs_all - t.macs == 29_730_280 + residual_outputs == 35_249_640
    assert round(t.macs_all / 1e9, 2) == 4.12
    assert t.peak_activations < t.saved_activations < t.activations
    assert (t.largest_activation, t.largest_layer) == (64 * 112 * 112, "conv1")


def test_peak_follows_tensor_lifetimes():
    """A skip keeps its tensor alive until its reader: the peak includes it."""
    plain = archdsl.load("input 1x8x8\na: conv3-4 - conv3-4 - conv3-4").analyze().totals
    assert plain.peak_activations == 2 * 256  # input freed after the first conv; two 4x8x8 maps at once
    skip = archdsl.load("input 1x8x8\na: conv3-4 - conv3-4 - conv3-4 - b: crop(@a)").analyze().totals
    assert skip.peak_activations == 3 * 256  # @a stays alive until the crop reads it


def test_batch_dtype_hwc_and_count_all_in_the_table(capsys):
    assert (
        main(
            [
                "report",
                "vgg16",
                "--batch",
                "8",
                "--dtype",
                "float16",
                "--hwc",
                "--count",
                "all",
                "--format",
                "markdown",
                "--depth",
                "all",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| features.0 | conv 3x3, 64 | [224x224x64] |" in out  # the op in the diagram's words
    assert "MACs 124,028,186,432 for a batch of 8 (conv, fc and every other op (--count all))" in out
    assert "activations 122,101,568 for a batch of 8 (232.9 MiB)" in out  # 15,262,696 x 8 x 2 bytes
    assert "| features.1 | relu | [224x224x64] | 0 | 0.0% | 25,690,112 | 25,690,112 | in place |" in out
    assert "| classifier.0 | fc 4096 | 4096 | 102,764,544 | 74.3% |" in out  # params sit late


def test_csv(capsys):
    assert main(["report", "lenet5", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "layer,op,output_shape,params,macs,activations,rf_size,rf_stride"
    rows = [line.split(",") for line in lines[1:]]
    a = archdsl.load("lenet5").analyze()
    assert [r[0] for r in rows] == [x.name for x in a.layers]
    assert sum(int(r[-5]) for r in rows) == a.totals.params


def test_json_schema_is_documented_and_current():
    import json
    from pathlib import Path

    from archdsl.ir.analysis import SCHEMA_VERSION, Analysis

    doc = Path(__file__).resolve().parent.parent / "docs" / "report.schema.json"
    assert json.loads(doc.read_text()) == Analysis.model_json_schema(), "regenerate docs/report.schema.json (make docs)"
    assert SCHEMA_VERSION == 3
    text = (doc.parent / "report.md").read_text()
    for field in Analysis.model_json_schema()["$defs"]["Totals"]["properties"]:
        assert f"`{field}`" in text, f"docs/report.md does not mention totals.{field}"


def test_diff(capsys):
    """plain20 vs resnet20: the same parameters and MACs (option A adds none); the sums cost memory."""
    assert main(["diff", "plain20_cifar", "resnet20_cifar"]) == 0
    out = capsys.readouterr().out
    assert "A = plain20_cifar, B = resnet20_cifar" in out
    a, b = archdsl.load("plain20_cifar").analyze(), archdsl.load("resnet20_cifar").analyze()
    rows = {r[0]: r for r in report.diff_rows(a, b)}
    assert list(rows) == ["input", "conv1", "bn1", "relu", "layer1", "layer2", "layer3", "avgpool", "fc"]
    assert rows["layer2"][1:5] == ("32x16x16", "32x16x16", "51,072", "51,072")
    totals = {what: (x, y, ratio) for what, x, y, ratio in report.diff_totals(a, b)}
    assert totals["params"] == (269_722, 269_722, "1.000x")
    # the nine residual sums (three per stage) and option A's two decimated + zero-padded shortcuts
    sums = 3 * (16 * 32 * 32 + 32 * 16 * 16 + 64 * 8 * 8)
    shortcuts = (16 * 16 * 16 + 32 * 16 * 16) + (32 * 8 * 8 + 64 * 8 * 8)
    assert totals["activations"][1] - totals["activations"][0] == sums + shortcuts == 104_448


def test_diff_inception_naive_vs_bottleneck():
    a, b = archdsl.load("naive_example").analyze(), archdsl.load("bottleneck_example").analyze()
    totals = {what: (x, y, ratio) for what, x, y, ratio in report.diff_totals(a, b)}
    assert totals["MACs"] == (854_196_224, 271_351_808, "0.318x")  # the slide's 854M vs (its own terms) 271M
    rows = {r[0]: r for r in report.diff_rows(a, b, depth=2)}
    assert rows["module"][1:3] == ("672x28x28", "480x28x28")
    assert rows["module.branch4"][3:5] == ("0", "16,448")  # the pool projection is new


def test_diff_vgg16_vgg19():
    a, b = archdsl.load("vgg16").analyze(), archdsl.load("vgg19").analyze()
    totals = {what: (x, y) for what, x, y, _ in report.diff_totals(a, b)}
    # conv3_4 (256 → 256), conv4_4 and conv5_4 (512 → 512), 3x3 with biases
    assert totals["params"][1] - totals["params"][0] == (256 * 256 * 9 + 256) + 2 * (512 * 512 * 9 + 512)
    assert totals["MACs"] == (15_470_264_320, 19_632_062_464)


def test_symbolic_input_through_the_cli(capsys):
    """`--input 1xHxH`: formulas and the sizes that work (archdsl/symbolic.py, tests/test_symbolic.py)."""
    assert main(["report", "unet", "--input", "1xHxH"]) == 0
    out = capsys.readouterr().out
    assert "exact when: H ≡ 12 (mod 16), H >= 188" in out
    assert "output there: 2 x (H - 184) x (H - 184)" in out


@pytest.mark.parametrize("width", [80, 100, 160])
def test_no_number_is_ever_cut_at_any_width(width):
    """Issue 17: at 80 columns rich used to crop 102,764,544 to '102,764' without a mark. Every parameter
    count and MAC count is whole, or its column is left out and a line says so."""
    from rich.console import Console

    from archdsl.views import report

    a = archdsl.load("vgg16").analyze()
    console = Console(width=width, record=True, file=io.StringIO())
    report.table(a, console=console)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    rows = {line.split("│")[1].strip(): line for line in lines if line.startswith("│ ")}  # a folded op adds a
    assert {x.name for x in a.layers} <= set(rows)  # line with an empty layer cell: not a row
    for column, field in (("params", "params"), ("MACs", "macs")):
        if f" {column} " in lines[2]:  # the header row
            assert all(f" {getattr(x, field):,} │" in rows[x.name] for x in a.layers)
        else:
            assert f"left out to fit {width} columns:" in text and column in text.split("left out")[1]
    assert "102,764,544" in text and "conv 3x3, 64" in text and "fc 4096" in text
    if width == 160:
        assert "left out" not in text  # everything fits


def test_verbose_shows_every_argument(capsys):
    assert main(["report", "conv3-8 - maxpool", "--input", "3x8x8", "--format", "markdown", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "| 0 | conv(out=8, k=3, s=1, p=1, d=1, groups=1, bias=true) |" in out
    assert "| 1 | maxpool(k=2, s=2, p=0, ceil=false, indices=false) |" in out


def test_the_notebook_table_shows_the_short_op_and_every_argument_on_hover():
    html = archdsl.load("conv3-8 - maxpool", input="3x8x8").analyze()._repr_html_()
    assert (
        '<td style="text-align:left" title="conv(out=8, k=3, s=1, p=1, d=1, groups=1, bias=true)">conv 3x3, 8</td>'
        in html
    )


def test_the_notebook_table_opens_a_block_onto_its_layers_and_draws_the_shares():
    html = archdsl.load("resnet50").analyze()._repr_html_()
    assert html.count("<details>") == 16  # the 16 bottlenecks at the automatic depth (2)
    assert "<summary>layer1.0</summary><ul><li>layer1.0.conv1: conv 1x1, 64</li>" in html
    assert ">8.0%<div" in html and "width:8.0%" in html  # fc: 2,049,000 of the 25,557,032 parameters


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "terminal"])
def test_tables_drawn_without_rich_are_richs_to_the_byte(terminal):
    """views/plain.py draws a table where it gives rich's text: on every library network's report, at the widths
    a terminal has and piped, what it draws equals rich's (bold head and italic title on a terminal), and it
    draws nearly all at 200 columns, the piped width (the rest it leaves to rich: cells that fold, at 80 columns
    most tables; characters rich measures itself, the R-CNN reports' '—' and '≤')."""
    from rich.console import Console

    from archdsl.lang import library
    from archdsl.views import plain

    drawn = 0
    for name in sorted(library.entries()):
        net = archdsl.load(name, **({"rois": 2} if name.endswith("rcnn_vgg16") else {}))
        a = net.analyze()
        for width, depth in ((200, report.auto_depth(a)), (120, report.auto_depth(a)), (80, None), (60, 1)):
            opts = report.Options(depth=depth, accepts=net.input_contract().describe())
            title = (
                a.name
                if depth is None
                else f"{a.name} (blocks rolled up at depth {depth}; --depth all shows every layer)"
            )
            cells, lines = report.rows(a, opts=opts, bars=True), report.summary_lines(a, opts)
            mine = io.StringIO()
            if not report.printed(title, cells, report.REPORT_FIT, lines, out=plain.Output(mine, width, terminal)):
                continue
            drawn += 1
            theirs = Console(
                file=io.StringIO(), width=width, highlight=False, emoji=False, force_terminal=terminal,
                color_system="standard" if terminal else None,
            )  # fmt: skip
            report.printed(title, cells, report.REPORT_FIT, lines, console=theirs)
            assert mine.getvalue() == theirs.file.getvalue(), (name, width, depth)
    assert drawn >= 80, drawn


def test_a_long_table_rich_would_fold_is_drawn_plainly(monkeypatch):
    """Past MAX_RICH_ROWS rows (rich takes ~0.4 ms a row) a table whose names or ops must fold is drawn in the
    same boxes by views/plain.py: the folding columns narrowed to the width, their cells cut onto more lines."""
    from archdsl.limits import MAX_RICH_ROWS
    from archdsl.views import plain

    n = MAX_RICH_ROWS + 1
    cells = [
        (f"stage{i}.block.layer", "conv 3x3/2, 64 " * 3, "64x56x56", "1,000", "0.1%", "9,999", "200", "1.0%", "3/1")
        for i in range(n)
    ]
    buf = io.StringIO()
    monkeypatch.setattr(plain, "output", lambda: plain.Output(buf, 70, False))
    assert report.printed("big", cells, report.REPORT_FIT, ["a line under it"]) is True
    lines = buf.getvalue().splitlines()
    assert all(len(x) <= 70 for x in lines), max(map(len, lines))
    rows = [x for x in lines if x.startswith("│")]
    assert len(rows) > n and rows[0].startswith("│ stage0.bloc") and "conv 3x3/2, 64" in rows[0]
    assert any(x.startswith("left out to fit 70 columns") for x in lines) and lines[-1] == "a line under it"
