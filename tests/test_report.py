"""The report's roll-up: ``--depth`` collapses blocks into one row each, with exact totals."""
from __future__ import annotations

import pytest

import archdsl
from archdsl import report
from archdsl.cli import main



@pytest.fixture(scope="module")
def resnet50():
    return archdsl.load("resnet50").analyze()


def _int(cell: str) -> int:
    return int(cell.replace(",", ""))


@pytest.mark.parametrize("depth", [1, 2, 3, None])
def test_rolled_up_rows_add_up_to_the_totals(resnet50, depth):
    rows = report.rows(resnet50, depth)
    assert sum(_int(r[3]) for r in rows) == resnet50.totals.params == 25_557_032
    assert sum(_int(r[4]) for r in rows) == resnet50.totals.macs == 4_089_184_256
    # a rolled-up row counts the activations its block keeps (in-place layers need no memory of their
    # own, as in the totals); a single layer's row shows its output size either way
    groups = list(report._groups(resnet50, depth).values())
    kept = [_int(r[5]) for r, g in zip(rows, groups) if len(g) > 1 or not g[0].elementwise]
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
    assert names == ["input", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]


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
    with pytest.raises(SystemExit, match="--depth takes a number"):
        main(["report", spec, "--depth", "0"])
