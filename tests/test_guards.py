"""Resource guards: whatever a spec asks for, archdsl answers at once, with an error that says what to
change, and never builds a wrong model.

The limits (archdsl/elaborate.py, parse.py, files.py): a network is at most MAX_NODES nodes after
expanding repeats, loops and blocks; expanding it takes at most MAX_STEPS steps; elements nest at
most MAX_NESTING deep; a spec is at most MAX_SOURCE_BYTES. A repeat, loop or block call that would
pass a limit is refused *before* it is expanded, from a lower bound of its size, so the bound
must never refuse a network that fits (tested here and, on random valid specs, in tests/fuzz/).
Every message is also in the error table (tests/test_errors.py → docs/errors.md).
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import archdsl
from archdsl import ArchError, ArgumentError, LimitError, ShapeError, UnknownNameError
from archdsl.lang.elaborate import elaborate
from archdsl.lang.files import load_file, read_spec
from archdsl.limits import MAX_NESTING, MAX_NODES, MAX_SOURCE_BYTES, MAX_STEPS

# a hang guard on every test here (pytest-timeout), not a timing: each refusal takes a few ms, and the
# cases that once ran for minutes are timed in benchmarks/hostile.py
pytestmark = pytest.mark.timeout(60)


def refused(text: str, error=LimitError, **kwargs) -> ArchError:
    with pytest.raises(error) as info:
        archdsl.load(text, **kwargs).analyze()
    assert str(info.value).count("\n") >= 1 or info.value.span is None
    return info.value


# ------------------------------------------------------------------ expansion, before it happens
@pytest.mark.parametrize(
    "text",
    [
        "[CONV]x1000000000",
        "[[conv3-8]x1000]x1000",
        "[[[conv3-8]x100]x100]x100",
        "[[[[[[[[relu]x10]x10]x10]x10]x10]x10]x10]x10",
        "for i in range(100000) { for j in range(100000) { relu } }",
        "for i in range(100000) { for j in range(100000) { x = 1 } }",
        "for i in range(100000) { for j in range(100000) { if 0 { relu } } }",
        "block b(n) { if n > 0 { b(n - 1) - b(n - 1) } else { relu } }\nb(60)",
        "block b(n) { if n > 0 { b(n - 1) - b(n - 1) } else { x = 1 } }\nb(60)",
        "block b(n) { if n > 0 { [b(n - 1)]x3 } else { conv1-4 } }\nb(30)",
        "block b(n) { concat {\n if n > 0 { b(n - 1) } else { relu }\n if n > 0 { b(n - 1) } else { relu }\n} }\nb(40)",
        "block leaf() { [relu]x1000 }\nblock mid() { [leaf]x1000 }\nmid",
        "[for c in range(1000) { conv1-{c + 1} }]x1000",
        "cfg = range(100000)\nfor c in cfg { for d in cfg { relu } }",
    ],
)
def test_explosions_are_refused_at_once(text):
    err = refused(text, input="3x8x8")
    assert "100,000 nodes" in err.message or "500,000 steps" in err.message or "repeat count" in err.message, err


def test_the_bound_is_a_lower_bound_and_names_the_culprit():
    err = refused("[[conv3-8]x1000]x1000", input="3x8x8")
    assert err.message == "the repeat would expand past 100,000 nodes: 1,000 times at least 1,000"
    assert (err.span.line, err.span.column) == (1, 1)
    err = refused("block b(n) { if n > 0 { b(n - 1) - b(n - 1) } else { relu } }\nb(40)", input="3x8x8")
    assert err.message == "the call of block 'b' would expand past 100,000 nodes: at least 1,099,511,627,776"


@pytest.mark.parametrize(
    "text,nodes",
    [
        (f"[relu]x{MAX_NODES - 1}", MAX_NODES),  # exactly the limit: the input and 99,999 layers, checked and analysed
        ("for i in range(100) { [relu]x{i + 1} }", 1 + 5050),  # a count the bound cannot know (it counts 1)
        ("block b(n) { if n > 0 { b(n - 1) - b(n - 1) } else { relu } }\nb(12)", 1 + 4096),
        ("for c in (1, 2, 3) { if c == 2 { [relu]x5000 } else { relu } }", 1 + 5002),  # an if: the smaller branch
    ],
)
def test_networks_that_fit_are_never_refused(text, nodes):
    a = archdsl.load(text, input="1x4x4").analyze()
    assert len(a.layers) == nodes


def test_loops_that_build_nothing_are_bounded():
    """A loop of assignments builds no node; MAX_STEPS still bounds the time it takes."""
    err = refused("for i in range(100000) { for j in range(100000) { x = i } }\nrelu", input="3x8x8")
    assert "500,000 steps" in err.message
    with pytest.raises(LimitError, match="take more than 500,000 steps to expand here"):
        archdsl.load("for i in range(1000) { for j in range(i) { x = j } }\nrelu", input="3x8x8")
    assert MAX_STEPS == 500_000


def test_expressions_cannot_spend_minutes():
    """Each step may evaluate an expression: a range(100000) made on every pass of a loop is bounded too."""
    for text in (
        "for i in range(100000) { x = range(100000) }\nrelu",
        "for i in range(1000) { x = max(range(99999)) }",
        "x = range(100000)\nfor i in range(100000) { y = x == x }\nrelu",
    ):
        with pytest.raises(LimitError, match="the spec's expressions make more than 5,000,000 values"):
            archdsl.load(text, input="3x8x8")
    archdsl.load("c = range(100000)\nfor i in range(3) { x = max(c) }\nrelu", input="3x8x8")  # made once: fine


def test_recursion_is_an_error_not_a_hang():
    err = refused("block b(c) { conv3-{c} - b(c) }\nb(8)", input="3x8x8")
    assert "blocks nest deeper than 64 levels" in err.message
    refused("block a() { b }\nblock b() { a }\na", input="3x8x8")
    refused("block b(n) { if n > 0 { b(n + 1) } }\nb(1)", input="3x8x8")


# ------------------------------------------------------------------------------- nesting depth
@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "relu" + "]" * 10_000,
        "(" * 10_000,
        "{" * 10_000,
        "conv3-{" + "(" * 10_000 + "1" + ")" * 10_000 + "}",
        "x = " + "-" * 10_000 + "1\nrelu",
        "x = " + "not " * 5_000 + "1\nrelu",
    ],
)
def test_ten_thousand_nested_brackets_are_an_error_not_a_recursion_error(text):
    refused(text, error=ArchError, input="3x8x8")


def test_nesting_through_blocks_is_bounded():
    """Blocks multiply the nesting of their bodies: MAX_NESTING bounds the whole, not each file line."""
    blocks = ["block b0() { relu }"] + [f"block b{i}() {{ {'[' * 40}b{i - 1}{']' * 40} }}" for i in range(1, 64)]
    err = refused("\n".join(blocks) + "\nb63", input="3x8x8")
    assert f"nests deeper than {MAX_NESTING} levels" in err.message


def test_nesting_within_the_limits_works_under_pytest():
    """The deepest spec the limits let through expands without a RecursionError, even with pytest's frames."""
    expr = "-" * 180 + "8"
    blocks = [f"block b0() {{ conv3-{{{expr}}} }}"] + [f"block b{i}() {{ [b{i - 1}] }}" for i in range(1, 49)]
    a = archdsl.load("\n".join(blocks) + "\nb48", input="3x8x8").analyze()
    assert a.outputs == {"output": (8, 8, 8)}


# ---------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    "text,message",
    [
        ("conv3-{99999999 * 99999999}", "number 1e+16 is larger than 9,007,199,254,740,992"),
        ("conv3-{1e400}", "number inf is larger than 9,007,199,254,740,992"),
        ("conv3-{int(1e300)}", "number 1e+300 is larger than 9,007,199,254,740,992"),
        ("x = 9007199254740992 + 9007199254740992\nrelu", "number 1.8e+16 is larger than 9,007,199,254,740,992"),
        ("conv3-{8 / 0}", "division by zero"),
        ("conv3-{8 % 0}", "division by zero"),
        ("conv3-{8.0 / 0}", "division by zero"),
        ("x = range(0, 4, 0)\nrelu", "range's step cannot be 0"),
    ],
)
def test_overflow_and_division_by_zero(text, message):
    err = refused(text, error=ArchError, input="3x8x8")
    assert err.message == message


@pytest.mark.parametrize(
    "text",
    [
        "conv3-0",
        "conv(-8)",
        "conv(8, k=0)",
        "conv(8, k=-3)",
        "conv(8, s=0)",
        "conv(8, s=-2)",
        "conv(8, d=0)",
        "conv(8, p=-1)",
        "conv(8, groups=0)",
        "fc-0",
        "fc(-1)",
        "maxpool(0)",
        "maxpool(2, s=0)",
        "avgpool(-2)",
        "upconv(0)",
        "upconv(8, k=0)",
        "upconv(8, s=0)",
        "dwconv(multiplier=0)",
        "dwconv(k=0)",
        "lrn(0)",
        "upsample(0)",
        "upsample(-2)",
        "decimate(0)",
        "pad_channels(0)",
        "adaptive_avgpool(0)",
        "zeropad(-1)",
        "reshape(0)",
        "reshape(-2, 3)",
        "dropout(-0.1)",
        "dropout(1.5)",
        "bn(eps=0)",
        "[relu]x0",
        "[relu]x{-1}",
        "input 0x8x8\nrelu",
        "input 3x-8x8\nrelu",
        "input (3, 0, 8)\nrelu",
        "conv(8, k=(3, 0))",
        "conv(8, s=(1, -1))",
    ],
)
def test_zero_and_negative_sizes_are_refused(text):
    kwargs = {} if text.startswith("input") else {"input": "3x8x8"}
    err = refused(text, error=ArchError, **kwargs)
    assert isinstance(err, (ArgumentError, ShapeError, archdsl.SpecSyntaxError)), err


@pytest.mark.parametrize(
    "text,input,needs",
    [
        ("[conv3-8 - maxpool]x6", "3x32x32", "64x64"),
        ("conv(8, k=5, p=0)", "3x3x3", "5x5"),
        ("conv(8, k=(5, 1), p=0) - maxpool", "3x3x3", "6x3"),
        ("conv7-8/2 - maxpool3/2 - [conv(8, k=3, s=2, p=0)]x2", "3x16x16", "29x29"),
        ("maxpool - maxpool - maxpool - maxpool - maxpool", "3x31x64", "32x64"),
    ],
)
def test_a_map_that_vanishes_names_the_layer_and_the_input_that_works(text, input, needs):
    err = refused(text, error=ShapeError, input=input)
    assert " at " in err.message and "would be" in err.message  # which layer, and what it would give
    h, w = map(int, input.split("x")[1:])
    assert err.hint.startswith(f"the network needs an input of at least {needs} (it is given {h}x{w})"), err.hint
    nh, nw = map(int, needs.split("x"))
    archdsl.load(text, input=f"3x{nh}x{nw}").analyze()  # and that input does work
    smaller = f"3x{nh - 1}x{nw}" if nh > h else f"3x{nh}x{nw - 1}"
    with pytest.raises(ShapeError):
        archdsl.load(text, input=smaller).analyze()  # the least one


def test_no_input_advice_where_none_would_help():
    err = refused("maxpool - reshape(3, 4, 4) - conv(8, k=5, p=0)", error=ShapeError, input="3x8x8")
    assert "needs an input" not in (err.hint or "")


# --------------------------------------------------------------------- parameters and memory
@pytest.mark.parametrize(
    "text,input,said",
    [
        (
            "conv3-9007199254740992",
            "64x8x8",
            "<inline>:1:1: the weight 'weight' of '0' (9007199254740992x64x3x3) has "
            "5.19e+18 values, more than torch can build (2^60)",
        ),
        (
            "x: fc(9007199254740992)",
            "3x8x8",
            "<inline>:1:4: the weight 'weight' of 'x' (9007199254740992x192) has "
            "1.73e+18 values, more than torch can build (2^60)",
        ),
    ],
    ids=["conv", "fc"],
)
@pytest.mark.parametrize("path", ["meta", "cpu", "source"])
def test_a_tensor_torch_cannot_size_is_refused_on_every_build_path(text, input, said, path):
    """torch's 'Storage size calculation overflowed' (exit 70 from `archdsl compile`) is an ArchError at the op,
    on the meta device and in the generated source too."""
    net = archdsl.load(text, input=input)
    assert net.analyze().totals.params > 2**53  # the analysis still counts it
    with pytest.raises(LimitError) as err:
        net.source() if path == "source" else net.compile(device=path, max_params=None)
    assert str(err.value).splitlines()[0] == said


def test_weights_larger_than_the_free_memory_are_refused_before_building(monkeypatch):
    import archdsl.pipeline as pipeline

    monkeypatch.setattr(pipeline, "available_memory", lambda: 1_000_000)
    net = archdsl.load("fc(1000)", input="1000")  # 1,001,000 params: 4.0 MB of float32
    with pytest.raises(
        LimitError,
        match=r"the weights of main need 4\.0 MB, more than the 1\.0 MB this machine has "
        r"free",
    ):
        net.compile(max_params=None)
    assert sum(p.numel() for p in net.compile(device="meta").parameters()) == 1_001_000
    monkeypatch.setattr(pipeline, "available_memory", lambda: None)  # where it cannot tell: no check
    assert sum(p.numel() for p in net.compile().parameters()) == 1_001_000


def test_max_params_is_checked_before_anything_is_allocated():
    net = archdsl.load("fc-100000 - fc-100000", input="100000")  # 20 billion parameters: 80 GB
    assert net.analyze().totals.params == 20_000_200_000
    import torch  # noqa: F401 - importing torch is not part of the check's time

    with pytest.raises(
        LimitError,
        match=r"has 20,000,200,000 parameters and buffers, more than the limit of "
        r"2,000,000,000",
    ):
        net.compile()
    with pytest.raises(LimitError, match="more than the limit of 1,000"):
        archdsl.load("conv3-64", input="3x8x8").compile(max_params=1000)
    meta = net.compile(device="meta")  # meta allocates nothing: always allowed
    assert sum(p.numel() for p in meta.parameters()) == 20_000_200_000


# ------------------------------------------------------------------------------- references
@pytest.mark.parametrize(
    "text",
    [
        "a: crop(@a)",
        "a: conv3-8 - crop(@b) - b: relu",
        "r: residual { @r - relu }",
        "a: concat {\n  @a\n  relu\n}",
        "g { x: relu - crop(@g) }",
    ],
)
def test_a_reference_cannot_make_a_cycle(text):
    """References name earlier layers only, so the graph cannot have a cycle."""
    refused(text, error=UnknownNameError, input="3x8x8")


# ----------------------------------------------------------------------------- imports and files
def test_import_cycles(tmp_path: Path):
    (tmp_path / "a.arch").write_text('import "a.arch"\ninput 3x8x8\nrelu\n')
    with pytest.raises(ArchError, match=r"import cycle: a\.arch -> a\.arch"):
        archdsl.load(str(tmp_path / "a.arch"))
    for name, target in (("x", "y"), ("y", "z"), ("z", "x")):
        (tmp_path / f"{name}.arch").write_text(f'import "{target}.arch"\ninput 3x8x8\nrelu\n')
    with pytest.raises(ArchError, match=r"import cycle: x\.arch -> y\.arch -> z\.arch -> x\.arch"):
        archdsl.load(str(tmp_path / "x.arch"))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """spec/main.arch beside spec/sub/ok.arch, and outside.arch one folder up."""
    (tmp_path / "spec" / "sub").mkdir(parents=True)
    (tmp_path / "outside.arch").write_text("block stem(c) { conv3-{c} }\n")
    (tmp_path / "spec" / "sub" / "ok.arch").write_text("block stem(c) { conv3-{c} - relu }\n")
    return tmp_path


@pytest.mark.parametrize(
    "target,allowed",
    [
        ("sub/ok.arch", True),
        ("./sub/../sub/ok.arch", True),
        ("../outside.arch", False),
        ("sub/../../outside.arch", False),
        ("ABSOLUTE", False),
        ("/etc/passwd", False),
        ("LINK", False),
    ],
)
def test_imports_stay_in_the_spec_folder(tree: Path, target: str, allowed: bool):
    spec = tree / "spec"
    if target == "ABSOLUTE":
        target = str(spec / "sub" / "ok.arch")  # even inside the folder: an absolute path is refused
    if target == "LINK":  # a link inside the folder that leads out of it
        (spec / "link.arch").symlink_to(tree / "outside.arch")
        target = "link.arch"
    (spec / "main.arch").write_text(f'import "{target}" as t\ninput 3x8x8\nt.stem(4)\n')
    if allowed:
        assert archdsl.load(str(spec / "main.arch")).analyze().outputs == {"output": (4, 8, 8)}
        return
    with pytest.raises(ArchError) as info:
        archdsl.load(str(spec / "main.arch"))
    assert info.value.message.startswith(f"cannot import '{target}': ")
    assert "allow_imports_outside=True" in info.value.hint
    assert "root:" not in str(info.value)


def test_imports_outside_when_allowed(tree: Path):
    spec = tree / "spec" / "main.arch"
    spec.write_text('import "../outside.arch" as t\ninput 3x8x8\nt.stem(4)\n')
    ctx = load_file(read_spec(spec), str(spec), allow_outside=True)
    assert len(elaborate(ctx)) == 2
    if "allow_imports_outside" in inspect.signature(archdsl.load).parameters:
        a = archdsl.load(str(spec), allow_imports_outside=True).analyze()
        assert a.outputs == {"output": (4, 8, 8)}


def test_imports_from_a_file_of_the_library_and_nested_ones_stay_confined(tree: Path):
    """Library names always work; a file imported from the folder cannot itself import from outside it."""
    spec = tree / "spec"
    (spec / "sub" / "leaky.arch").write_text('import "../../outside.arch" as o\nblock stem(c) { o.stem(c) }\n')
    (spec / "main.arch").write_text(
        'import residual as res\nimport "sub/leaky.arch" as l\ninput 64x8x8\nres.basic(64) - l.stem(4)\n'
    )
    with pytest.raises(
        ArchError,
        match=r"cannot import '\.\./\.\./outside\.arch': a path outside the folder of "
        r"the spec",
    ):
        archdsl.load(str(spec / "main.arch"))
    (spec / "main.arch").write_text("import residual as res\ninput 64x8x8\nres.basic(64)\n")
    assert archdsl.load(str(spec / "main.arch")).analyze().outputs == {"output": (64, 8, 8)}


def test_a_huge_file_is_refused_without_reading_it(tmp_path: Path):
    big = tmp_path / "big.arch"
    with open(big, "wb") as f:
        f.truncate(4 * 1024**3)  # 4 GB, sparse: reading it all would take the memory
    with pytest.raises(LimitError, match=f"big.arch is larger than {MAX_SOURCE_BYTES:,} bytes"):
        archdsl.load(str(big))
    refused("relu\n" + "#" * MAX_SOURCE_BYTES, input="3x8x8")


@pytest.mark.parametrize(
    "data,where",
    [
        (b"input 3x8x8\nrelu - \xff conv3-8\n", (2, 8)),
        (b"# caf\xc3\xa9\ninput 3x8x8\n\xc3\x28relu\n", (3, 1)),
        ("# é €\nrelu -".encode() + b"\xe2\x82\n", (2, 7)),
    ],
)
def test_non_utf8_is_an_error_at_its_place(tmp_path: Path, data: bytes, where):
    spec = tmp_path / "net.arch"
    spec.write_bytes(data)
    with pytest.raises(ArchError, match="net.arch is not UTF-8 text") as info:
        archdsl.load(str(spec))
    assert (info.value.span.line, info.value.span.column) == where
    assert info.value.hint == "save the spec as UTF-8"


def test_a_byte_order_mark_is_accepted_in_a_file(tmp_path: Path):
    spec = tmp_path / "net.arch"
    spec.write_bytes(b"\xef\xbb\xbfinput 3x8x8\nconv3-4\n")
    assert archdsl.load(str(spec)).analyze().outputs == {"output": (4, 8, 8)}


@pytest.mark.parametrize(
    "text,hint",
    [
        ("conv3-8 - \udcff", "the byte 0xff, which is not UTF-8"),
        ("\ud800conv3-8", "half of a UTF-16 surrogate pair"),
        ("conv3-8 - \u200brelu", "invisible character (ZERO WIDTH SPACE)"),
    ],
)
def test_characters_that_cannot_be_seen_or_printed(text, hint):
    err = refused(text, error=archdsl.SpecSyntaxError, input="3x8x8")
    assert hint in err.hint


def test_a_byte_that_is_not_utf8_on_the_command_line():
    """A shell passes the bytes; Python keeps a bad one as a surrogate; the error prints it escaped."""
    done = subprocess.run(
        [sys.executable, "-m", "archdsl.cli", "check", b"conv3-8 - \xff", "--input", "3x8x8"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1
    err = done.stderr.decode("utf-8")
    assert "the byte 0xff, which is not UTF-8" in err and "Traceback" not in err


# ------------------------------------------------------------------------- no wrong models
def test_an_imported_network_takes_its_variables_everywhere():
    """`vgg16(classes=10)` sets the variable for the whole imported file, its blocks included."""
    a = archdsl.load("import vgg16\ninput 3x32x32\nvgg16(classes=10)").analyze()
    assert a.outputs == {"output": (10,)}
    assert a.totals.params == archdsl.load("vgg16", classes=10, input="3x32x32").analyze().totals.params
    b = archdsl.load("import vgg16 as v\ninput 3x32x32\nv(classes=7, upto=@features)").analyze()
    assert b.outputs == {"output": (512, 1, 1)}


@pytest.mark.parametrize(
    "text,message",
    [
        ("add(act=relu, act=none) {\n  conv3-3\n  identity\n}", "add got 'act' twice"),
        ("import vgg16\nvgg16(classes=10, classes=5)", "network 'vgg16' got 'classes' twice"),
        ("import vgg16\nvgg16(upto=@pool4, upto=@pool5)", "network 'vgg16' got 'upto' twice"),
        ("conv(8, k=3, kernel=5)", "conv got 'k' twice"),
        ("block b(c) { conv3-{c} }\nb(4, c=8)", "block 'b' got 'c' twice"),
    ],
)
def test_an_argument_given_twice_is_an_error(text, message):
    err = refused(text, error=ArgumentError, input="3x32x32")
    assert err.message == message


@pytest.mark.parametrize(
    "text,shape",
    [
        ("softmax(dim=-1)", (3, 8, 8)),
        ("softmax(dim=3)", (3, 8, 8)),
        ("flatten - softmax(dim=1)", (192,)),
        ("reshape(3, 64) - bn", (3, 64)),
        ("reshape(3, 64) - lrn", (3, 64)),
    ],
)
def test_shape_rules_accept_what_torch_runs(text, shape):
    import torch

    net = archdsl.load(text, input="3x8x8")
    assert net.analyze().outputs == {"output": shape}
    assert tuple(net.compile()(torch.randn(2, 3, 8, 8)).shape) == (2, *shape)


@pytest.mark.parametrize(
    "text",
    ["softmax(dim=4)", "softmax(dim=-5)", "flatten - softmax(dim=2)", "flatten - lrn", "reshape(3, 2, 4, 8) - bn"],
)
def test_shape_rules_refuse_what_torch_cannot_run(text):
    refused(text, error=ShapeError, input="3x8x8")


def test_a_labelled_repeat_of_a_labelled_element():
    a = archdsl.load("layer: [x: conv3-4]x2 - [if 1 { relu }]x1", input="3x8x8").analyze()
    assert [layer.name for layer in a.layers] == ["input", "layer.0.x", "layer.1.x", "1"]  # a label takes position 0


# -------------------------------------------------------------------------------- the CLI
def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "archdsl.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


@pytest.mark.parametrize(
    "argv,code",
    [
        (["check", "conv3-8 - relu", "--input", "3x8x8"], 0),
        (["check", "conv3-8 - maxpol", "--input", "3x8x8"], 1),
        (["check", "[conv3-8]x1000000000", "--input", "3x8x8"], 1),
        (["report", "no_such_file.arch"], 2),  # a file that cannot be read (README, Exit codes)
        (["check", "vgg1"], 1),
        (["check", "conv3-8", "--input", "3xax8"], 2),  # a bad option value
        (["frobnicate"], 2),
        ([], 2),
        (["check"], 2),
        (["report", "relu", "--format", "yaml"], 2),
        (["report", "relu", "--batch", "many"], 2),
    ],
)
def test_cli_exit_codes(argv, code):
    """0 ok, 1 the spec is wrong (an ArchError, printed without a traceback), 2 a usage error (from argparse,
    which exits, or from a command, which returns)."""
    from archdsl.cli import main

    try:
        got = main(argv)
    except SystemExit as info:
        got = info.code
    assert got == code


@pytest.mark.parametrize(
    "argv,said",
    [
        (["check", "relu", "--input", "3x8x8", "--set", "width"], "--set takes name=value, got 'width'"),
        (
            ["report", "relu", "--input", "3x8x8", "--depth", "x"],
            "--depth takes a number >= 1, 'all' or 'auto', got 'x'",
        ),
        (["report", "relu", "--input", "3x8x8", "--batch", "0"], "--batch takes a number >= 1, got 0"),
        (["diff", "relu", "relu", "--input", "3x8x8", "--depth", "0"], "--depth takes a number >= 1 or 'all', got '0'"),
        (["convert", "lenet5"], "convert needs a conversion: --fully-conv"),
        (["sanity", "lenet5", "--max-params", "lots"], "takes a count such as 25000000, 800k, 25M, 1.5G or 'none'"),
    ],
)
def test_cli_bad_option_values_are_usage_errors(argv, said):
    done = run_cli(*argv)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"archdsl {argv[0]}: error:") or done.stderr.startswith("usage:")


def test_cli_unwritable_output_is_a_usage_error_not_a_traceback(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    target = blocker / "net.py"
    done = run_cli("compile", "relu", "--input", "3x8x8", "-o", str(target))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("archdsl compile: error: ") and str(blocker) in done.stderr
    done = run_cli("convert", "--fully-conv", "lenet5", "--weights", str(tmp_path / "missing.pth"))
    assert done.returncode == 2 and "no such weights file" in done.stderr and "Traceback" not in done.stderr


def test_cli_max_params_refuses_before_building(tmp_path: Path):
    from archdsl.cli.options import amount

    assert [amount(t) for t in ("25000000", "25_000_000", "800k", "25M", "1.5G", "none", "NONE")] == [
        25_000_000,
        25_000_000,
        800_000,
        25_000_000,
        1_500_000_000,
        None,
        None,
    ]
    done = run_cli("sanity", "lenet5", "--max-params", "10k", "--steps", "0", "--no-progress")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "lenet5 has 61,706 parameters and buffers, more than the limit of 10,000" in done.stderr
    done = run_cli("export", "lenet5", "-o", str(tmp_path / "l.onnx"), "--max-params", "10k")
    assert done.returncode == 1 and "more than the limit of 10,000" in done.stderr, done.stderr
    assert not (tmp_path / "l.onnx").exists()
    done = run_cli("convert", "--fully-conv", "lenet5", "--weights", str(tmp_path / "w.pth"), "--max-params", "60k")
    assert done.returncode == 1 and "--max-params N, or none" in done.stderr, done.stderr
    done = run_cli("sanity", "lenet5", "--max-params", "none", "--steps", "0", "--no-progress")
    assert "Traceback" not in done.stderr and "61,706 parameters" not in done.stderr, done.stderr


def test_imports_outside_the_folder_are_allowed_when_asked(tmp_path: Path):
    (tmp_path / "shared.arch").write_text("block two(c) { conv3-{c} - relu - conv3-{c} - relu }\n")
    (tmp_path / "spec").mkdir()
    spec = tmp_path / "spec" / "net.arch"
    spec.write_text('import "../shared.arch" as s\ninput 3x8x8\ns.two(4)\n')
    with pytest.raises(ArchError, match="outside"):
        archdsl.load(str(spec))
    assert archdsl.load(str(spec), allow_imports_outside=True).analyze().totals.params == 2 * 4 + 4 * 9 * 3 + 4 * 9 * 4
    assert run_cli("check", str(spec)).returncode == 1
    done = run_cli("check", str(spec), "--allow-imports-outside")
    assert done.returncode == 0 and done.stdout.startswith("ok: "), done.stderr


def test_cli_spec_error_as_a_program():
    done = run_cli("check", "[[conv3-8]x1000]x1000", "--input", "3x8x8")
    assert done.returncode == 1
    assert done.stderr.startswith("error: <inline>:1:1: the repeat would expand past 100,000 nodes")
    assert "Traceback" not in done.stderr


def test_activation_memory_is_checked_before_anything_is_allocated(tmp_path: Path):
    from archdsl.backend.sanity import sanity

    net = archdsl.load("vgg16", input="3x2048x2048")
    t = net.analyze().totals
    # the estimate: weights (x4 in training: grads and Adam's two moments) and activations, float32
    assert net.memory_needed(8) == 4 * (t.params + t.buffers + 8 * t.peak_activations)
    assert net.memory_needed(20, training=True) == 4 * (
        4 * (t.params + t.buffers) + 20 * (t.peak_activations + t.saved_activations)
    )
    with pytest.raises(
        LimitError,
        match=r"a training step of vgg16 at 3x2048x2048 on 20 samples needs about "
        r"146\.8 GB, more than the limit of 16\.0 GB",
    ):
        sanity(net, samples=20)
    net.check_memory(20, training=True, max_memory=None)  # no limit: allowed (nothing is built here)
    done = run_cli("export", "vgg16", "--input", "3x2048x2048", "--batch", "16", "-o", str(tmp_path / "v.onnx"))
    assert done.returncode == 1 and "a forward pass of vgg16 at 3x2048x2048 on 16 samples needs about" in done.stderr
    assert "--max-memory 64G, or none" in done.stderr and not (tmp_path / "v.onnx").exists()
    done = run_cli("sanity", "lenet5", "--max-memory", "100k", "--steps", "0", "--no-progress")
    assert done.returncode == 1 and "more than the limit of 100.0 kB" in done.stderr, done.stderr
