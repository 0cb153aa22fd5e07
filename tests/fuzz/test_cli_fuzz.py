"""The command line under random options (issue 13): whatever the values, ``archdsl`` answers with an exit code
of the README's set (0 ok, 1 the spec is wrong, 2 a usage error, 3 Graphviz could not draw) and messages
without a traceback, an internal error, a raw control character, or, for a usage error, more than one line.

Each case runs ``archdsl.cli.main`` in this process (the program itself is a thin wrapper), in a fresh
folder holding a spec, good and bad weights files and a file archdsl did not write, with the option values
drawn from pools of the awkward ones (``²``, ``1e400``, ``nan``, 30 digits, escapes, /dev/full, an input as
the output) and from random text. ``export`` is left out: each valid case of it builds and checks an ONNX file
(seconds), and ``list`` reads the whole library. ``ARCHDSL_FUZZ_EXAMPLES`` scales the number of cases as for
the rest of tests/fuzz (300 here in CI).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import pickle
import re
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import archdsl
from archdsl.cli import main

from .harness import CASE_SECONDS, Failure, Hang, examples, time_limit
from .test_fuzz import FAST

EXIT_CODES = {0, 1, 2, 3}  # README, "Exit codes" (export's 4 is not run here)
SPEC = "n = 2\ninput 3x8x8\nconv3-4 - relu\nfc(3)\n"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# each kind of value: (values that work, values that must be refused cleanly)
WHOLE = (
    ["1", "2", "3", "10"],
    ["0", "-1", "²", "٣", "1e3", "123456789012345678901234567890", "", " 2 ", "0x10", "nan", "abc", "2" * 50],
)
DECIMAL = (
    ["0.001", "1e-3", "0.5", "1"],
    ["0", "-1", "nan", "inf", "-inf", "1e400", "1e-400", "1,5", "²", "", "1e99999999"],
)
SHAPE = (
    ["3x8x8", "3x16x16", "3 x 8 x 8", "3×8×8", "3,8,8", "3xHxW", "1xHxH"],
    ["²x8x8", "3x0x8", "3x99999999999999999999x8", "3x8", "8", "x", "", "3xx8", "3x8x8x8", "\x1b[31m3x8x8"],
)
DEPTH = (["auto", "all", "1", "2"], ["0", "-1", "²", "x", "", "99999999999999999999999"])
SET = (
    ["n=2", "n=1", "classes=4", "n=true", "n=0.5"],
    [
        "n=1e400",
        "n=nan",
        "n=inf",
        "n=12345678901234567890123",
        "n",
        "=3",
        "not a name=1",
        "n=\x1b[2J",
        "n=he",
        "width=3",
        "n=-5",
        "n=3x8x8",
    ],
)
DEVICE = (["cpu", "CPU", "cpu:0"], ["cuda", "cuda:0", "cuda:99", "mps", "meta", "bogus", "", "cpu:1", "cuda:-1"])
SEED = (["0", "1", str(2**63 - 1)], [str(2**63), str(2**70), "-1", "nan", "²"])
AMOUNT = (["none", "25M", "1.5G", "100k"], ["10k", "0", "1" + "0" * 400, "lots", "1e9", "-5", ""])
OUTPUT = (
    ["out.py", "x.dot", "x.svg", "x.tex", "x.png", "sub/new/x.dot", "/dev/null"],
    [
        "x.jpg",
        "spec.arch",
        "notes.txt",
        "notes.py",
        "/dev/full",
        "folder",
        "bad\x1bname.dot",
        "n" * 300 + ".dot",
        "",
        "good.pth",
        "x.fully_conv.pth",
    ],
)
WEIGHTS = (
    ["good.pth"],
    ["evil.pth", "empty.pth", "cut.pth", "list.pth", "shape.pth", "missing.pth", "folder", "spec.arch", "/dev/null"],
)
SPECS = (
    ["spec.arch", "conv3-4 - relu - gap - fc(3)", "lenet5", "input 3x8x8\nconv3-{n} - relu - fc(3)"],
    ["esc.arch", "missing.arch", "folder.arch", "conv3-4 - [relu", "\x1b[2J", "vgg1"],
)
CHOICE = lambda *good: (list(good), ["x", "", "yaml"])  # noqa: E731 - argparse's choices

COMMON = {
    "--input": SHAPE,
    "--classes": WHOLE,
    "--set": SET,
    "--network": (["main"], ["nope", ""]),
    "--allow-imports-outside": None,
}
OPTIONS = {
    "check": COMMON,
    "report": {
        **COMMON,
        "--format": CHOICE("table", "json", "markdown", "csv"),
        "--depth": DEPTH,
        "--batch": WHOLE,
        "--dtype": CHOICE("float32", "int8"),
        "--count": CHOICE("default", "all"),
        "--hwc": None,
    },
    "diff": {**COMMON, "--depth": DEPTH},
    "compile": {**COMMON, "-o": OUTPUT, "--force": None},
    "convert": {
        **COMMON,
        "--fully-conv": None,
        "-o": OUTPUT,
        "--weights": WEIGHTS,
        "--save-weights": OUTPUT,
        "--max-params": AMOUNT,
        "--force": None,
    },
    "render": {
        **COMMON,
        "-o": OUTPUT,
        "--depth": DEPTH,
        "--rankdir": CHOICE("TB", "LR"),
        "--hwc": None,
        "--fold": None,
        "--no-fold": None,
        "--layout": CHOICE("auto", "u", "chain"),
        "--force": None,
    },
    "sanity": {
        **COMMON,
        "--steps": (["0", "1", "2"], ["-1", "²", "nan"]),
        "--samples": (["1", "2", "4"], ["0", "-1", "²", str(10**20)]),
        "--lr": DECIMAL,
        "--tolerance": DECIMAL,
        "--seed": SEED,
        "--init": CHOICE("torch", "he", "xavier"),
        "--weights": WEIGHTS,
        "--device": DEVICE,
        "--output": (["output"], ["nope"]),
        "--max-params": AMOUNT,
        "--max-memory": AMOUNT,
    },
}
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12)


def value(pool: tuple[list[str], list[str]]) -> st.SearchStrategy[str]:
    """Mostly a value that works (so that the commands run far), else one to refuse, or random text."""
    good, bad = pool
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good), st.sampled_from(bad), TEXT)


@st.composite
def argvs(draw) -> list[str]:
    command = draw(st.sampled_from(sorted(OPTIONS)))
    argv = [command, draw(value(SPECS))]
    if command == "diff":
        argv.append(draw(value(SPECS)))
    options = OPTIONS[command]
    for name in draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True)):
        pool = options[name]
        argv += [name] if pool is None else [name, draw(value(pool))]
    if command == "convert" and "--fully-conv" not in argv and draw(st.integers(0, 4)):
        argv.append("--fully-conv")  # its one conversion: without it, a usage error
    if command == "compile" and "-o" not in argv:
        argv += ["-o", draw(value(OUTPUT))]
    if command == "sanity":  # a short run: the checks, not the training, are under test
        argv += ["--no-progress"] + ([] if "--steps" in argv else ["--steps", "1"])
    return argv


def lay_out(folder: Path) -> None:
    """The files a case may name: a spec, one with escape bytes, weights good and bad, a foreign file."""
    folder.mkdir()
    (folder / "spec.arch").write_text(SPEC)
    (folder / "esc.arch").write_text("input 3x8x8\nconv3-4 - \x1b[31mrelu\x07\n")
    (folder / "notes.txt").write_text("someone's notes\n")
    (folder / "notes.py").write_text("print('mine')\n")
    (folder / "folder").mkdir()
    (folder / "folder.arch").mkdir()
    own = archdsl.load(SPEC).compile(device="meta").state_dict()
    torch.save({k: torch.zeros(v.shape) for k, v in own.items()}, folder / "good.pth")
    torch.save({k: torch.zeros(v.shape[0] + 1) for k, v in own.items()}, folder / "shape.pth")
    torch.save([torch.zeros(2)], folder / "list.pth")
    (folder / "empty.pth").write_bytes(b"")
    (folder / "cut.pth").write_bytes((folder / "good.pth").read_bytes()[:100])
    (folder / "evil.pth").write_bytes(pickle.dumps(_Evil()))


class _Evil:
    def __reduce__(self):
        return (print, ("PWNED",))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli-fuzz") / "pristine"
    lay_out(folder)
    return folder


def run_case(argv: list[str], folder: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(folder)
    try:
        with time_limit(CASE_SECONDS * 2), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as done:
                code = done.code
    except Hang:
        raise Failure(f"hang: more than {CASE_SECONDS * 2:g} s on archdsl {argv!r}") from None
    except BaseException as exc:  # noqa: BLE001 - main must catch everything a user can cause
        raise Failure(f"{type(exc).__name__}: {exc} escaped main on archdsl {argv!r}") from exc
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


def check(argv: list[str], code: int, out: str, err: str) -> None:
    said = f"archdsl {argv!r} exited {code}\nstdout: {out[-800:]}\nstderr: {err[-800:]}"
    assert code in EXIT_CODES, said
    assert "Traceback" not in out + err and "internal error" not in err, said
    assert "PWNED" not in out + err, said
    assert not CONTROL.search(err), said
    if code == 2:
        assert err.count("\n") == 1 and re.match(r"archdsl( [a-z]+)?: ", err), said


_CASES = itertools.count()


@settings(max_examples=examples(300), **FAST)
@given(argvs())
def test_cli_options(pristine, argv):
    folder = pristine.parent / f"case{next(_CASES)}"
    shutil.copytree(pristine, folder, symlinks=True)
    try:
        check(argv, *run_case(argv, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
