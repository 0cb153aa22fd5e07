"""Issue 13, items 7-10: the command line under hostile and careless use. One small bounded test per
reproducer: render and the symbolic report stay linear, every option value is read by one function and a bad
one is a one-line usage error (exit 2), no write replaces an input or a file archdsl did not write, and
nothing from a spec or another file reaches the terminal raw."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import archdsl
from archdsl import output
from archdsl.cli import main
from archdsl.cli.options import UsageError, amount, depth, set_value, shape
from archdsl.views import diagram as draw
from archdsl.views import dot

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
HANG = 60  # seconds: a hang guard (pytest-timeout) for the cases that ran for minutes; not a timing (benchmarks/hostile.py)

SPEC = "n = 2\ninput 3x8x8\nconv3-4\nfc(10)\n"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """``archdsl ARGV`` in this process: (exit code, stdout, stderr); argparse's own errors exit."""
    try:
        code = main(argv)
    except SystemExit as done:
        code = done.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err, err
    return code, out, err


def run_cli(*argv: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """``archdsl ARGV`` as a program: for what may hang or abort the process."""
    return subprocess.run(
        [sys.executable, "-m", "archdsl.cli", *argv],
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **kw.pop("env", {})},
        **kw,
    )


def usage_line(err: str, command: str) -> None:
    assert err.startswith(f"archdsl {command}: error: ") and err.count("\n") == 1, err


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.arch"
    path.write_text(SPEC)
    return path


# ---------------------------------------------------------------------------- item 7: linear in the graph
def concat(branches: int) -> str:
    return "input 3x8x8\nconcat {\n" + "bn\n" * branches + "}\n"


@pytest.mark.timeout(HANG)
@pytest.mark.parametrize("branches", [4000, 19000])
def test_render_of_a_wide_concat_is_linear(branches):
    """A concat of 4,000 branches took 8-10 s to .dot, 19,000 ran past 180 s: now the skip search walks the
    stretch between a fork and its merge once per pair (benchmarks/hostile.py times it)."""
    net = archdsl.load(concat(branches))
    for depth_ in ("auto", "all"):
        text = dot.to_dot(draw.diagram(net, depth=depth_))
    assert text.count("->") == branches * 2 + 1


@pytest.mark.timeout(HANG)
def test_tikz_of_a_wide_concat_is_linear():
    """TikZ rows and arcs: 19,000 boxes took 27 s (each row searched from the middle, each arc over every box)."""
    from archdsl.views.tikz import to_tikz

    text = to_tikz(draw.diagram(archdsl.load(concat(19000)), depth="all"))
    assert text.count("\\archbox{n") == 19001


def longest_string(dot: str) -> int:
    """The longest quoted or HTML-like string of a DOT text (Graphviz refuses one over 16,384)."""
    quoted = max((len(m) for m in re.findall(r'"(?:[^"\\]|\\.)*"', dot)), default=0)
    html = max((len(m) for m in re.findall(r"label=<(.*?)>[ \]]", dot)), default=0)
    return max(quoted, html)


@pytest.mark.parametrize(
    "text",
    [
        "input 3x8x8\nconv1-3\n" + "relu\n" * 6000,  # 6,000 notes folded into one box: 'relu ×6000'
        "input 3x8x8\n" + "a" * 20000 + ": conv1-3\n",  # a 20,000-character label
    ],
    ids=["folded-chain", "long-label"],
)
def test_dot_strings_stay_within_graphviz_limit(text, tmp_path):
    text = dot.to_dot(draw.diagram(archdsl.load(text), depth="all"))
    assert longest_string(text) < 2000
    if shutil.which("dot"):
        done = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr


def test_dot_that_fails_exits_3_with_the_dot_source(tmp_path, monkeypatch, capsys):
    """dot failing or running past its time is Graphviz's limit, not the spec's fault: exit 3, the .dot
    written beside (it was exit 1, and a timeout a traceback)."""
    monkeypatch.setattr(dot, "dot_program", lambda: "/bin/false")
    code, _, err = run(["render", "lenet5", "-o", str(tmp_path / "l.svg")], capsys)
    assert code == 3 and "dot -Tsvg failed" in err and (tmp_path / "l.dot").exists()
    monkeypatch.setattr(dot, "dot_program", lambda: "/bin/sleep")  # sleep -Tsvg: fails at once, or waits
    monkeypatch.setattr(dot, "DOT_TIMEOUT", 0.5)
    code, _, err = run(["render", "lenet5", "-o", str(tmp_path / "m.svg")], capsys)
    assert code == 3 and (tmp_path / "m.dot").exists()


@pytest.mark.parametrize(
    "text",
    [
        "conv(4,k=2,s=2,p=1) - conv(4,k=3,s=3,p=1) - conv(4,k=5,s=5,p=1) - conv(4,k=7,s=7,p=1) - conv(4,k=11,s=11,p=1)",
        "conv(4,k=400000000,s=4096,p=0)",  # settles past any size worth listing: left unsolved, at once
    ],
    ids=["odd-strides", "huge-threshold"],
)
@pytest.mark.timeout(HANG)
def test_symbolic_report_is_bounded(text):
    """The five-layer chain of odd strides took ~29 s (2,310 residues through sympy); the huge kernel ran past
    60 s and 1.6 GB. Each floor of a constant slope is now linear per residue, evaluated in fractions."""
    from archdsl.pipeline import symbolic_report

    result = symbolic_report(text, input="3xHxW")
    least = 1812 if text.startswith("conv(4,k=2") else 400_000_000
    assert result.holds(H=least, W=least) and not result.holds(H=least - 1, W=least)


def test_odd_strides_answer_is_exact():
    from archdsl.pipeline import symbolic_report

    r = symbolic_report(
        "conv(4,k=2,s=2,p=1) - conv(4,k=3,s=3,p=1) - conv(4,k=5,s=5,p=1) - conv(4,k=7,s=7,p=1) - conv(4,k=11,s=11,p=1)",
        input="3xHxW",
    )
    for h in (1811, 1812, 1812 + 2310, 5000):
        assert r.holds(H=h, W=h) == (h >= 1812)
        assert r.is_exact(H=h, W=h) == (h >= 1812 and h % 2310 == 1812)


@pytest.mark.timeout(HANG)
def test_peak_memory_of_a_wide_concat_is_one_pass():
    """memory.peak_inference summed every live tensor at every step: 26 s of a 19,000-branch check."""
    from archdsl.ir.memory import peak_inference

    net = archdsl.load(concat(19000))
    a = net.analyze()
    assert peak_inference(a.layers, list(net.graph.graph["outputs"].values())) == a.totals.peak_activations


# ---------------------------------------------------------------------------- item 8: one function per kind
@pytest.mark.parametrize(
    "argv",
    [
        ["check", "SPEC", "--input", "²x8x8"],
        ["report", "SPEC", "--input", "²x8x8"],
        ["report", "SPEC", "--input", "3x99999999999999999999x8"],
        ["convert", "SPEC", "--fully-conv", "--input", "²x8x8"],  # found by tests/fuzz/test_cli_fuzz.py
        ["check", "SPEC", "--set", "n=1e400"],
        ["check", "SPEC", "--set", "n=nan"],
        ["check", "SPEC", "--set", "n=123456789012345678901234567890"],
        ["check", "SPEC", "--set", "not a name=3"],
        ["report", "SPEC", "--depth", "²"],
        ["diff", "SPEC", "SPEC", "--depth", "²"],
        ["render", "SPEC", "--depth", "²", "-o", "OUT/x.dot"],
        ["sanity", "SPEC", "--lr", "nan"],
        ["sanity", "SPEC", "--lr", "0"],
        ["sanity", "SPEC", "--tolerance", "inf"],
        ["sanity", "SPEC", "--seed", str(2**70)],
        ["sanity", "SPEC", "--samples", "0"],
        ["sanity", "SPEC", "--device", "bogus"],
        ["sanity", "SPEC", "--device", "meta"],
        ["sanity", "SPEC", "--max-params", "1" + "0" * 400],
        ["check", "SPEC", "--classes", "²"],
    ],
    ids=lambda argv: " ".join(argv)[:40],
)
def test_bad_values_are_one_line_usage_errors(argv, spec, tmp_path, capsys):
    argv = [str(spec) if a == "SPEC" else a.replace("OUT", str(tmp_path)) for a in argv]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert err.startswith(f"archdsl {argv[0]}: error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize("device", ["cuda", "cuda:7", "mps"])
def test_a_device_this_machine_lacks_is_a_usage_error(device, spec, capsys):
    has = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
    }
    if has[device.split(":")[0]] and device != "cuda:7":
        pytest.skip(f"this machine has {device}")
    code, _, err = run(["sanity", str(spec), "--device", device, "--steps", "0", "--no-progress"], capsys)
    assert code == 2 and "this machine has" in err, err


def test_option_readers():
    assert shape("3 x 8 × 8") == "3 x 8 × 8" and shape("3xHxW", names=True) == "3xHxW"
    assert [set_value(t, "--set n") for t in ("2", "-3", "1_000", "1.5", "1e3", "true", "he")] == [
        2,
        -3,
        1000,
        1.5,
        1000.0,
        True,
        "he",
    ]
    assert depth("auto") == "auto" and depth("all") is None and depth("3") == 3
    assert amount("1.5G") == 1_500_000_000 and amount("none") is None
    for bad in ("1e99999999", "inf", "-nan", "9" * 41 + ".5"):
        with pytest.raises(UsageError):
            set_value(bad, "--set n")


@pytest.fixture
def weights(tmp_path: Path, spec: Path) -> dict[str, Path]:
    """A good state_dict for SPEC and every way a weights file can be bad."""
    own = archdsl.load(str(spec)).compile(device="meta").state_dict()
    files = {}

    def put(name: str, obj=None, raw: bytes | None = None) -> None:
        files[name] = tmp_path / f"{name}.pth"
        if raw is not None:
            files[name].write_bytes(raw)
        else:
            torch.save(obj, files[name])

    put("good", {k: torch.zeros(v.shape) for k, v in own.items()})
    put("shape", {k: torch.zeros(v.shape[0] + 1) for k, v in own.items()})
    put("list", [torch.zeros(3)])
    put("empty", raw=b"")
    put("truncated", raw=files["good"].read_bytes()[:200])

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'PWNED'}",))

    put("evil", raw=pickle.dumps(Evil()))
    return files


@pytest.mark.parametrize(
    "kind,code,said",
    [
        ("evil", 2, "could run code (refused)"),
        ("empty", 2, "the file is empty"),
        ("truncated", 2, "cut short or damaged"),
        ("list", 2, "got list"),
        ("shape", 1, "the model has"),
        ("good", 0, "wrote"),
    ],
)
def test_convert_weights_files(kind, code, said, weights, spec, tmp_path, capsys):
    got, out, err = run(["convert", "--fully-conv", str(spec), "--weights", str(weights[kind])], capsys)
    assert got == code and said in out + err, err
    assert not (tmp_path / "PWNED").exists()
    if code == 2:
        usage_line(err, "convert")


def test_save_weights_to_a_full_disk(weights, spec, capsys):
    code, _, err = run(
        ["convert", "--fully-conv", str(spec), "--weights", str(weights["good"]), "--save-weights", "/dev/full"], capsys
    )
    assert code == 2 and "No space left on device: /dev/full" in err


def test_import_with_a_nul_has_a_location(tmp_path, capsys):
    (tmp_path / "nul.arch").write_text('import "a\0b.arch" as a\ninput 3x8x8\nfc(10)\n')
    code, _, err = run(["check", str(tmp_path / "nul.arch")], capsys)
    assert code == 1 and f"{tmp_path / 'nul.arch'}:1:" in err, err


def test_export_to_a_full_disk_does_not_abort(spec, tmp_path):
    """torch.jit.save to a path aborts the process (SIGABRT) on a full disk; to a file object it raises."""
    done = run_cli("export", str(spec), "-o", "/dev/full", "--format", "torchscript", timeout=120)
    assert done.returncode == 2 and b"No space left on device" in done.stderr, done.stderr[-500:]


# ---------------------------------------------------------------------------- item 9: no file lost
def test_export_over_a_file_archdsl_did_not_write_needs_force(spec, tmp_path, capsys):
    notes = tmp_path / "notes.pt"
    notes.write_text("my notes\n")
    code, _, err = run(["export", str(spec), "-o", str(notes)], capsys)
    assert code == 2 and "--force" in err and notes.read_text() == "my notes\n"
    assert run(["export", str(spec), "-o", str(notes), "--force"], capsys)[0] == 0
    assert run(["export", str(spec), "-o", str(notes)], capsys)[0] == 0  # now it is archdsl's own
    assert notes.read_bytes().startswith(b"PK") and sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.pt",
        "spec.arch",
    ]


def test_export_never_writes_over_its_weights(spec, weights, capsys):
    good = weights["good"].read_bytes()
    code, _, err = run(
        [
            "export",
            str(spec),
            "--weights",
            str(weights["good"]),
            "-o",
            str(weights["good"]),
            "--format",
            "torchscript",
            "--force",
        ],
        capsys,
    )
    assert code == 2 and "input of this command" in err and weights["good"].read_bytes() == good


def test_compile_never_writes_over_its_spec(spec, capsys):
    code, _, err = run(["compile", str(spec), "-o", str(spec)], capsys)
    assert code == 2 and spec.read_text() == SPEC
    code, _, err = run(["compile", str(spec), "-o", str(spec), "--force"], capsys)
    assert code == 2 and spec.read_text() == SPEC


def test_output_over_a_file_archdsl_did_not_write_needs_force(spec, tmp_path, capsys):
    notes = tmp_path / "notes.py"
    notes.write_text("my notes\n")
    code, _, err = run(["compile", str(spec), "-o", str(notes)], capsys)
    assert code == 2 and "--force" in err and notes.read_text() == "my notes\n"
    assert run(["compile", str(spec), "-o", str(notes), "--force"], capsys)[0] == 0
    assert run(["compile", str(spec), "-o", str(notes)], capsys)[0] == 0  # now it is archdsl's own
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.py", "spec.arch"]  # no temporary file left


def test_render_fallback_keeps_a_dot_file_nobody_named(spec, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dot, "dot_program", lambda: None)
    mine = tmp_path / "x.dot"
    mine.write_text("digraph mine { a -> b }\n")
    code, _, err = run(["render", str(spec), "-o", str(tmp_path / "x.svg")], capsys)
    assert code == 3 and mine.read_text() == "digraph mine { a -> b }\n" and "not written either" in err
    code, _, err = run(["render", str(spec), "-o", str(tmp_path / "y.svg")], capsys)
    assert code == 3 and (tmp_path / "y.dot").read_text().startswith("digraph spec {")


def test_convert_never_replaces_its_weights(weights, spec, capsys):
    good = weights["good"].read_bytes()
    code, _, err = run(
        [
            "convert",
            "--fully-conv",
            str(spec),
            "--weights",
            str(weights["good"]),
            "--save-weights",
            str(weights["good"]),
        ],
        capsys,
    )
    assert code == 2 and "input of this command" in err and weights["good"].read_bytes() == good


def test_convert_default_weights_name_is_not_overwritten(weights, spec, capsys):
    target = weights["good"].with_suffix(".fully_conv.pth")
    target.write_text("someone's file\n")
    argv = ["convert", "--fully-conv", str(spec), "--weights", str(weights["good"])]
    code, _, err = run(argv, capsys)
    assert code == 2 and "--force" in err and target.read_text() == "someone's file\n"
    assert run(argv + ["--force"], capsys)[0] == 0 and target.read_bytes().startswith(b"PK")
    assert run(argv, capsys)[0] == 0  # its own output: replaced without --force


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "net.py"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with output.replacing(target, "w") as f:
            f.write("half")
            raise RuntimeError("the disk filled up")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["net.py"]


# ---------------------------------------------------------------------------- item 10: what reaches the terminal
def test_escape_bytes_of_a_spec_are_not_echoed(tmp_path, capsys):
    bad = tmp_path / "esc.arch"
    bad.write_text("input 3x8x8\nconv3-4 - \x1b[31mrelu\x1b]0;pwned\x07 - fc(10)\n")
    code, _, err = run(["check", str(bad)], capsys)
    assert code == 1 and "\x1b" not in err and "\x07" not in err and "esc.arch:2:" in err


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="Linux /proc only")
def test_an_import_of_another_file_shows_where_not_what(tmp_path):
    leak = tmp_path / "env.arch"
    leak.write_text('import "/proc/self/environ" as e\ninput 3x8x8\nfc(10)\n')
    done = run_cli("check", str(leak), "--allow-imports-outside", env={"ARCHDSL_SECRET": "hunter2-xyzzy"})
    assert done.returncode == 1 and b"hunter2-xyzzy" not in done.stdout + done.stderr, done.stderr


@pytest.mark.parametrize("kind", ["folder", "fifo", "missing"])
def test_a_spec_that_cannot_be_read_exits_2(kind, tmp_path):
    path = tmp_path / "net.arch"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    done = run_cli("check", str(path), timeout=30)
    assert done.returncode == 2 and done.stderr.count(b"\n") == 1, done.stderr


def test_a_long_import_path_has_a_location(tmp_path, capsys):
    spec = tmp_path / "long.arch"
    spec.write_text(f'import "{"a" * 5000}.arch" as e\ninput 3x8x8\nfc(10)\n')
    code, _, err = run(["check", str(spec)], capsys)
    assert code == 1 and f"{spec}:1:" in err and len(max(err.splitlines(), key=len)) <= 400, err


def test_an_unexpected_exception_is_one_line_and_exit_70(monkeypatch, capsys):
    import archdsl.cli as cli
    from archdsl.cli import check

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(check, "run", broken)
    monkeypatch.delenv("ARCHDSL_DEBUG", raising=False)
    code = cli.main(["check", "relu"])
    err = capsys.readouterr().err
    assert code == 70 and err.count("\n") == 1 and "internal error: ZeroDivisionError: a bug" in err
