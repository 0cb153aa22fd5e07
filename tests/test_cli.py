"""The archdsl command: every subcommand, formats, exit codes, no tracebacks."""

import csv
import importlib.util
import io
import json
import re
import subprocess
import sys

import pytest
import torch

import archdsl
from archdsl.cli import main

PATTERN = "INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC"


def test_report_table(capsys):
    assert main(["report", "[CONV-POOL]x2-FC", "--input", "3x32x32", "--classes", "10"]) == 0
    out = capsys.readouterr().out
    assert "fc 10" in out
    assert "params 30,634" in out


def test_report_pattern_json(capsys):
    assert main(["report", PATTERN, "--input", "3x32x32", "--classes", "10", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outputs"] == {"output": [10]}
    assert set(data["totals"]) >= {"params", "macs", "activations"}
    assert data["layers"][0]["name"] == "input"
    assert {"name", "op", "output_shape", "params", "macs", "activations", "receptive_field"} <= set(data["layers"][1])


def test_report_markdown(capsys):
    assert main(["report", "conv3-8 - relu", "--input", "3x8x8", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# main") and "| 0 | conv 3x3, 8 |" in out


def test_set_overrides_a_variable(capsys):
    assert main(["check", "x = 4\nconv3-{x}", "--input", "3x8x8", "--set", "x=6"]) == 0
    assert "output 6x8x8" in capsys.readouterr().out


def test_check_error_exit_1_without_traceback(capsys):
    assert main(["check", "conv3-64 - maxpol", "--input", "3x8x8"]) == 1
    err = capsys.readouterr().err
    assert "<inline>:1:12: unknown op 'maxpol'" in err
    assert "did you mean 'maxpool'?" in err and "^^^^^^" in err
    assert "Traceback" not in err


def test_check_file(tmp_path, capsys):
    spec = tmp_path / "my_net.arch"
    spec.write_text("input 3x32x32\nconv3-16 - relu - maxpool - fc-10\n")
    assert main(["check", str(spec)]) == 0
    assert "ok: my_net" in capsys.readouterr().out


def test_usage_error_exit_2():
    with pytest.raises(SystemExit) as exc:
        main(["report"])
    assert exc.value.code == 2


def test_compile_writes_standalone_source(tmp_path):
    out = tmp_path / "net.py"
    spec = "input 3x32x32\nfeatures { conv3-8 - relu - maxpool }\nhead: fc-10"
    assert main(["compile", spec, "-o", str(out)]) == 0
    code = out.read_text()
    assert "archdsl" not in code.split('"""', 2)[2]  # only the docstring mentions archdsl
    mod_spec = importlib.util.spec_from_file_location("gen_net", out)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    model = mod.build()
    compiled = archdsl.load(spec).compile()
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in compiled.state_dict().items()}
    model.load_state_dict(compiled.state_dict())
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(model(x), compiled(x))


def test_entry_point_runs_as_a_program():
    proc = subprocess.run(
        [sys.executable, "-m", "archdsl.cli", "check", "conv3-8 - [relu", "--input", "3x8x8"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "is never closed" in proc.stderr and "Traceback" not in proc.stderr


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("archdsl 0.")


def test_compile_prints_the_source_without_an_output(capsys):
    assert main(["compile", "conv3-8 - relu", "--input", "3x8x8"]) == 0
    source = capsys.readouterr().out
    namespace: dict = {}
    exec(compile(source, "generated.py", "exec"), namespace)
    assert sum(p.numel() for p in namespace["build"]().parameters()) == 224


def test_list_as_json_and_csv_gives_plain_numbers(capsys):
    assert main(["list", "--format", "json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["vgg16"]["params"] == 138_357_544 and records["vgg16"]["MACs"] == 15_470_264_320
    assert records["vgg16"]["error"] is None and records["vgg16"]["file"] == "classic/vgg.arch"
    assert main(["list", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["name"]: int(r["params"]) for r in rows}["resnet50"] == 25_557_032 and len(rows) == len(records)


@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_list_table_fits_the_terminal_without_cutting_a_name_or_number(width):
    """At 80 columns the file, the sizes taken and the description are left out (and a line says so); every
    network's name, params and MACs are whole at each width."""
    from rich.console import Console

    from archdsl.cli.list import library_records, library_rows, library_table

    console = Console(width=width, record=True, highlight=False)
    library_table(library_rows(), console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    for r in library_records():
        assert re.search(rf"│ {r['name']} +│", text), r["name"]
        assert f" {r['params']:,} │" in text and f" {r['MACs']:,} │" in text, r["name"]
    if width == 80:
        assert "left out to fit 80 columns: file, takes, description" in text


def test_diff_as_markdown_and_json(capsys):
    assert main(["diff", "resnet18", "resnet34", "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert "| layer3 | 256x14x14 | 256x14x14 | 2,099,712 | 6,822,400 |" in text  # 919,040 + 1 or 5 x 1,180,672
    assert "| params | 11,689,512 | 21,797,672 | 1.865x |" in text
    assert main(["diff", "resnet18", "resnet34", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["params"] == {"A": 11_689_512, "B": 21_797_672}
    assert {s["stage"]: s["B"]["params"] for s in data["stages"]}["layer3"] == 6_822_400


def test_the_diff_table_fits_80_columns_without_cutting_a_number():
    from rich.console import Console

    from archdsl.views import report

    a, b = archdsl.load("resnet18").analyze(), archdsl.load("resnet34").analyze()
    console = Console(width=80, record=True, file=io.StringIO())
    report.diff_table(a, b, 1, console=console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    assert "│ layer3  │ 2,099,712 │  6,822,400 │ 411,041,792 │ 1,335,885,824 │" in text
    assert "left out to fit 80 columns: activations A, activations B, output A, output B" in text
    assert "--format markdown or json" in text


@pytest.mark.parametrize("quiet", [False, True])
def test_long_commands_show_a_spinner_on_a_terminal_unless_told_not_to(quiet, tmp_path, monkeypatch):
    """render, export and convert --weights show rich's spinner on a terminal's stderr while they work;
    --no-progress (or stderr not a terminal) leaves it out."""
    from rich.console import Console

    shown: list[str] = []

    class Status:
        def __init__(self, what):
            shown.append(what)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(Console, "status", lambda self, what, **kw: Status(what))
    extra = ["--no-progress"] if quiet else []
    assert main(["render", "lenet5", "-o", str(tmp_path / "l.dot"), *extra]) == 0
    torch.save(archdsl.load("lenet5").compile(seed=0).state_dict(), tmp_path / "w.pth")
    weights = ["--weights", str(tmp_path / "w.pth"), "--save-weights", str(tmp_path / "fc.pth")]
    assert main(["convert", "--fully-conv", "lenet5", *weights, *extra]) == 0
    assert shown == ([] if quiet else ["drawing lenet5 ...", "converting the weights of lenet5 ..."])
