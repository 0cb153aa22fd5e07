"""The error table: bad specs and the exact errors they give.

Every row is (input text, load keywords, expected ArchError subclass, expected message
with its ``file:line:col``, expected hint or None). Every error must render as

    <inline>:LINE:COL: message
        the source line
        ^^^ a caret under the spot
    hint: ...

and no bad input may raise anything but an ArchError (see the fuzz test at the end).
docs/errors.md is generated from these rows (``python tests/test_errors.py``).
"""
from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archdsl
from archdsl import ArchError, ArgumentError, LimitError, ShapeError, SpecSyntaxError, UnknownNameError

IN = {"input": "3x32x32"}


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    kwargs: dict = field(default_factory=dict)
    error: type = ArchError
    message: str = ""  # a substring of the first line, starting with <inline>:line:col
    hint: str | None = None  # a substring of the hint line


ROWS = [
    # ---------------------------------------------------------------- names
    Row("op-typo", "conv3-64 - relu - maxpol", IN, UnknownNameError,
        "<inline>:1:19: unknown op 'maxpol'", "did you mean 'maxpool'?"),
    Row("op-typo-case", "conv3-64 - Rleu", IN, UnknownNameError,
        "<inline>:1:12: unknown op 'Rleu'", "did you mean 'relu'?"),
    Row("op-shorthand-on-plain-op", "conv3-8 - relu3", IN, UnknownNameError,
        "<inline>:1:11: unknown op 'relu3'", "relu has no size shorthand; write relu(...) with arguments"),
    Row("kernel-written-twice", "conv3x3-64", IN, UnknownNameError,
        "<inline>:1:1: unknown op 'conv3x3'", "write the kernel size once: conv3-N for a 3x3 kernel"),
    Row("block-typo", "block inception(c) { conv1-{c} }\ninput 3x32x32\nincepton(8)", {}, UnknownNameError,
        "<inline>:3:1: unknown op or block 'incepton'", "did you mean 'inception'?"),
    Row("variable-typo", "width = 8\nconv3-{widht}", IN, UnknownNameError,
        "<inline>:2:8: unknown variable 'widht'", "did you mean 'width'?"),
    Row("repeat-count-variable", "[conv3-8]x{n}", IN, UnknownNameError,
        "<inline>:1:12: unknown variable 'n'", None),
    Row("label-typo", "c1: conv3-8 - relu\n@c2 - relu", IN, UnknownNameError,
        "<inline>:2:1: unknown label '@c2'", "did you mean '@c1'?"),
    Row("label-ambiguous", "g1 { c: conv3-8 }\ng2 { c: conv3-8 }\n@c - relu", IN, ArchError,
        "<inline>:3:1: @c is ambiguous: it could be @g1.c, @g2.c", "write the full path"),
    Row("label-not-yet-defined", "conv3-8 - crop(@later) - later: relu", IN, UnknownNameError,
        "<inline>:1:16: unknown label '@later'", "a reference names a label defined earlier"),
    Row("output-unknown-label", "c1: conv3-8 - relu\noutput c2", IN, UnknownNameError,
        "<inline>:2:8: unknown label '@c2'", "did you mean '@c1'?"),
    Row("upto-label-typo", "import vgg16\nvgg16(upto=@pool9)", IN, UnknownNameError,
        "<inline>:2:12: unknown label '@pool9'", "did you mean '@pool5'?"),
    Row("library-typo", "import vggg16\nconv3-8", IN, UnknownNameError,
        "<inline>:1:1: unknown library spec 'vggg16'", "did you mean 'vgg16'?"),
    Row("import-missing-file", 'import "no_such_file.arch"\nconv3-8', IN, ArchError,
        "<inline>:1:1: cannot import 'no_such_file.arch': no such file", None),
    Row("block-named-like-op", "block relu(x) { conv3-8 }\nrelu(3)", IN, ArchError,
        "<inline>:1:1: block 'relu' has the name of an op", "choose another name"),
    Row("label-twice", "a: conv3-8 - a: relu", IN, ArchError,
        "<inline>:1:17: the name 'a' is used twice", "labels name modules and must be unique"),
    Row("crop-without-at", "a: conv3-8\nb: conv(8, p=0) - crop(a)", IN, ArgumentError,
        "<inline>:2:24: 'ref' of crop takes a reference to a label", "write crop(@a)"),
    Row("reference-mid-chain", "a: conv3-8 - @a", IN, ArchError,
        "<inline>:1:14: a reference like @a can only start a chain", "start a new line with it"),
    # --------------------------------------------------------------- syntax
    Row("unclosed-bracket-before-count", "[CONV-POOL x2", IN, SpecSyntaxError,
        "<inline>:1:12: unexpected 'x2'", "the '[' at line 1, column 1 is still open; close it before the count"),
    Row("unclosed-bracket-at-end", "conv3-8 - [CONV-POOL", IN, SpecSyntaxError,
        "<inline>:1:11: '[' is never closed", "add ']' to close it"),
    Row("unclosed-paren-at-end", "conv(64, k=3", IN, SpecSyntaxError,
        "<inline>:1:5: '(' is never closed", "add ')' to close it"),
    Row("stray-close-bracket", "CONV-POOL]x2", IN, SpecSyntaxError,
        "<inline>:1:10: unmatched ']'", "brackets must pair up"),
    Row("stray-close-paren", "conv3-8) - relu", IN, SpecSyntaxError,
        "<inline>:1:8: unmatched ')'", "brackets must pair up"),
    Row("mismatched-close", "[conv3-8 - relu)", IN, SpecSyntaxError,
        "<inline>:1:16: unmatched ')' (the '[' at line 1 is still open)", "brackets must pair up"),
    Row("stray-character", "conv3-8 - relu $ pool", IN, SpecSyntaxError,
        "<inline>:1:16: unexpected character '$'", "chains join elements with '-' or '->'"),
    Row("semicolon", "conv3-8; relu", IN, SpecSyntaxError,
        "<inline>:1:8: unexpected character ';'", "statements are separated by new lines"),
    Row("missing-dash", "conv3-8 relu", IN, SpecSyntaxError,
        "<inline>:1:9: unexpected 'relu'", "join the elements of a chain with '-' or '->'"),
    Row("line-break-in-brackets", "[conv3-8\n relu]x2", IN, SpecSyntaxError,
        "<inline>:2:2: unexpected 'relu'", "inside ( ) and [ ] a line break is just a space"),
    Row("double-dash", "conv3-8 -- relu", IN, SpecSyntaxError,
        "<inline>:1:10: unexpected '-'; expected '@', '[', a name", None),
    Row("dangling-dash", "conv3-8 - maxpool -", IN, SpecSyntaxError,
        "<inline>:1:20: unexpected end of input; expected an element (an op or block, a [repeat], @label, if, for)", None),
    Row("trailing-comma", "conv(64,)", IN, SpecSyntaxError,
        "<inline>:1:9: unexpected ')'", None),
    Row("lone-number", "conv3-8 - 64", IN, SpecSyntaxError,
        "<inline>:1:11: unexpected '64'", "a number cannot stand alone here"),
    Row("positional-after-keyword", "conv(k=3, 64)", IN, SpecSyntaxError,
        "<inline>:1:11: positional argument after a keyword argument", "put positional arguments first"),
    # ------------------------------------------------------------ arguments
    Row("unknown-keyword", "conv(64, kk=3)", IN, ArgumentError,
        "<inline>:1:10: conv takes no argument 'kk'", "did you mean 'k'?"),
    Row("unknown-keyword-alias-typo", "conv(64, kernal=3)", IN, ArgumentError,
        "<inline>:1:10: conv takes no argument 'kernal'", "did you mean 'kernel'?"),
    Row("keyword-twice", "conv(64, k=3, kernel=3)", IN, ArgumentError,
        "<inline>:1:15: conv got 'k' twice", None),
    Row("float-for-int", "conv(64, k=1.5)", IN, ArgumentError,
        "<inline>:1:10: conv: bad value 1.5 for 'k': expected an integer or a pair (height, width)",
        "its arguments are: out, k"),
    Row("triple-for-pair", "conv(8, k=(1, 2, 3))", IN, ArgumentError,
        "<inline>:1:9: conv: bad value (1, 2, 3) for 'k': expected an integer or a pair (height, width)", None),
    Row("unknown-word", 'conv(8, p="full")', IN, ArgumentError,
        "<inline>:1:9: conv: bad value 'full' for 'p': expected an integer, a pair (height, width), 'same' or 'valid'",
        None),
    Row("word-for-number", "conv3-8 - dropout(p=abc)", IN, UnknownNameError,
        "<inline>:1:21: unknown variable 'abc'", "'p' of dropout takes a number; a bare name is a variable"),
    Row("string-for-number", 'conv3-8 - dropout(p="abc")', IN, ArgumentError,
        "<inline>:1:19: dropout: bad value 'abc' for 'p': input should be a valid number", "its arguments are: p"),
    Row("variable-typo-in-argument", "width = 8\nconv(out=widht)", IN, UnknownNameError,
        "<inline>:2:10: unknown variable 'widht'", "did you mean 'width'?"),
    Row("word-not-allowed", "conv3-8 - upsample(2, mode=bilnear)", IN, ArgumentError,
        "<inline>:1:23: upsample: bad value 'bilnear' for 'mode': input should be 'nearest' or 'bilinear'", None),
    Row("bool-for-number", "conv(true)", IN, ArgumentError,
        "<inline>:1:6: conv: 'out' takes a number, not true", None),
    Row("out-of-range", "conv3-8 - dropout(1.5)", IN, ArgumentError,
        "<inline>:1:19: dropout: bad value 1.5 for 'p': input should be less than or equal to 1", None),
    Row("zero-channels", "conv3-0", IN, ArgumentError,
        "<inline>:1:6: conv: bad value 0 for 'out': input should be greater than 0", None),
    Row("too-many-positional", "conv(64, 3, 1, 1, 1)", IN, ArgumentError,
        "<inline>:1:19: conv takes at most 4 positional arguments (out, k, s, p), got 5", "pass them by keyword"),
    Row("positional-on-plain-op", "conv3-8 - relu(5)", IN, ArgumentError,
        "<inline>:1:16: relu takes no positional arguments, got 1", "its arguments are: inplace"),
    Row("dash-on-op-without-one", "conv3-8 - relu-5", IN, ArgumentError,
        "<inline>:1:15: relu takes no -N shorthand", "write relu(...) with keywords instead"),
    Row("slash-on-op-without-one", "conv3-8 - fc-10/2", IN, ArgumentError,
        "<inline>:1:17: fc takes no /N shorthand", None),
    Row("groups-out-channels", "conv(8, groups=3)", IN, ArgumentError,
        "<inline>:1:1: conv: out channels 8 are not divisible by groups=3", None),
    Row("groups-in-channels", "conv(6, groups=2)", IN, ShapeError,
        "<inline>:1:1: conv at 0: 3 input channels are not divisible by groups=2", None),
    Row("pool-stride-zero", "maxpool(3, s=0)", IN, ArgumentError,
        "<inline>:1:1: maxpool: kernel and stride must be positive", None),
    Row("same-padding-strided", 'conv(64, p="same", s=2)', IN, ShapeError,
        "<inline>:1:1: conv at 0: padding='same' needs stride 1", "give the padding as a number"),
    Row("merge-one-branch", "concat { conv3-8 }", IN, ArgumentError,
        "<inline>:1:1: concat needs at least two branches, one per line", "written `identity`"),
    # ----------------------------------------------------------------- blocks
    Row("block-missing-argument", "block cbr(c, k) { conv(c, k=k) - bn - relu }\ncbr(8)", IN, ArgumentError,
        "<inline>:2:1: block 'cbr' needs the argument 'k'", "call it as cbr(c, k)"),
    Row("block-extra-argument", "block cbr(c) { conv3-{c} - relu }\ncbr(8, 9)", IN, ArgumentError,
        "<inline>:2:8: block 'cbr' takes 1 argument (c), got 2", "call it as cbr(c)"),
    Row("block-unknown-keyword", "block cbr(width) { conv3-{width} }\ncbr(wdth=8)", IN, UnknownNameError,
        "<inline>:2:5: unknown argument 'wdth' of block 'cbr'", "did you mean 'width'?"),
    Row("block-parameter-twice", "block b(c, c) { conv1-{c} }\nb(1, 2)", IN, ArchError,
        "<inline>:1:12: block 'b' has two parameters named 'c'", None),
    Row("block-recursion", "block b(c) { conv3-{c} - b(c) }\nb(8)", IN, LimitError,
        "<inline>:1:26: blocks nest deeper than 64 levels (does a block call itself?)", "a block may not call itself"),
    # ------------------------------------------------------------ arithmetic
    Row("division-by-zero", "c = 8\nconv3-{c/0}", IN, ArgumentError,
        "<inline>:2:8: division by zero", None),
    Row("number-too-large", "conv3-{99999999*99999999}", IN, LimitError,
        "<inline>:1:8: number 1e+16 is larger than 9,007,199,254,740,992", None),
    # --------------------------------------------------------------- repeats
    Row("repeat-zero", "[conv3-8]x0", IN, ArgumentError,
        "<inline>:1:11: a repeat count must be a positive integer, got 0", None),
    Row("repeat-fraction", "[conv3-8]x{5/2.0}", IN, ArgumentError,
        "<inline>:1:12: a repeat count must be a positive integer, got 2.5", None),
    Row("repeat-huge", "[conv3-8]x1000000000", IN, LimitError,
        "<inline>:1:11: repeat count 1,000,000,000 would expand past 100,000 nodes", "lower the repeat count"),
    Row("repeat-nested-huge", "[[conv3-8]x1000]x1000", IN, LimitError,
        "<inline>:1:3: the network expands past 100,000 nodes", "lower the repeat counts"),
    Row("brackets-5000-deep", "[" * 5000 + "relu" + "]" * 5000, IN, LimitError,
        "<inline>:1:51: brackets nest deeper than 50 levels", "flatten the nesting"),
    Row("expression-too-long", "conv3-{" + "+".join(["1"] * 3000) + "}", IN, LimitError,
        "<inline>:1:1: this statement nests deeper than 200 levels", "split long expressions with variables"),
    # ---------------------------------------------------------------- shapes
    Row("concat-mismatch", "input 3x28x28\ninception3a: concat {\n  conv1-8\n  conv(8, k=2, p=0)\n}", {},
        ShapeError, "<inline>:2:14: concat at inception3a: branch 2 is 27x27, branch 1 is 28x28 "
        "(branch 1 comes from inception3a.branch1 (conv, line 3), branch 2 from inception3a.branch2 (conv, line 4))",
        "every other size must agree (crop or pad)"),
    Row("add-mismatch", "input 3x28x28\nadd {\n  conv3-8\n  conv3-16\n}", {}, ShapeError,
        "<inline>:2:1: add at 0: branch 2 is 16x28x28, branch 1 is 8x28x28 "
        "(branch 1 comes from 0.branch1 (conv, line 3), branch 2 from 0.branch2 (conv, line 4))",
        "a residual block projects automatically"),
    Row("pool-below-1x1", "[conv3-8 - maxpool]x6", IN, ShapeError,
        "<inline>:1:12: maxpool at 11: input 8x1x1 is smaller than the 2x2 window: the output would be 0x0",
        "remove a downsampling layer"),
    Row("conv-below-1x1", "conv(8, k=5, p=0)", {"input": "3x3x3"}, ShapeError,
        "<inline>:1:1: conv at 0: input 3x3x3 is too small for kernel 5x5 with padding 0x0: the output would be -1x-1",
        "use a larger input"),
    Row("conv-after-fc", "fc-10 - conv3-8", IN, ShapeError,
        "<inline>:1:9: conv at 1: needs a CxHxW feature map, got a flat vector of 10 values",
        "put it before any fc/flatten"),
    Row("crop-to-larger", "a: conv3-8\nconv(8, k=3, p=0) - crop(@a)", IN, ShapeError,
        "<inline>:2:21: crop at 2: cannot crop 30x30 to the larger 32x32 of @a", "crop the larger map"),
    Row("residual-no-projection", "conv3-8 - residual { conv(16, k=3, p=0) }", IN, ShapeError,
        "<inline>:1:11: projection at 1.downsample: the body turns 8x32x32 into 16x30x30",
        "give the shortcut explicitly: residual { ... } shortcut { ... }"),
    Row("reshape-count", "conv3-8 - reshape(7, 7)", IN, ShapeError,
        "<inline>:1:11: reshape at 1: cannot reshape 8x32x32 (8192 values) into 7x7 (49 values)", None),
    # --------------------------------------------------------------- network
    Row("missing-input", "conv3-8 - relu", {}, ArchError,
        "<inline>:1:1: network 'main' has no input shape", "declare one (`input 3x224x224`) or pass --input"),
    Row("input-twice", "input 3x32x32\ninput 3x32x32\nconv3-8", {}, ArchError,
        "<inline>:2:1: the network declares its input twice", None),
    Row("input-zero", "input 0x32x32\nconv3-8", {}, ShapeError,
        "<inline>:1:1: input sizes must be positive integers, got (0, 32, 32)", None),
    Row("chain-leads-nowhere", "c1: conv3-8\n@c1 - relu - x: maxpool\n@c1 - conv1-4\noutput x", IN, ArchError,
        "<inline>:3:7: the chain ending at '3' leads nowhere", "list it in `output`, or remove it"),
    Row("label-names-one-element", "trunk: [conv3-8 - maxpool]x2\nscores: gap - fc-10\n@trunk - box: conv1-4\n"
        "output scores, box", IN, ArchError, "<inline>:2:15: the chain ending at '2' leads nowhere",
        "output 'scores' is only the gap it labels: a label names one element"),
    Row("output-inside-group", "g { conv3-8\n  output x }", IN, ArchError,
        "<inline>:2:3: 'output' belongs at the top level of a network", "list the outputs by label"),
    Row("outputs-twice", "a: conv3-8 - b: relu\noutput a\noutput b", IN, ArchError,
        "<inline>:3:1: the network lists its outputs twice", "list them all in one line"),
    Row("network-twice", "network n {\n  input 3x8x8\n  conv3-8\n}\nnetwork n {\n  input 3x8x8\n  conv3-4\n}", {},
        ArchError, "<inline>:5:1: network 'n' is defined twice", "give each network its own name"),
    Row("import-twice", "import vgg16\nimport vgg16\nconv3-8", IN, ArchError,
        "<inline>:2:1: 'vgg16' is imported twice", "import ... as x"),
    Row("input-only", "input 3x8x8", {}, ArchError, "<inline>:1:1: network 'main' has no layers", None),
    Row("no-network", "width = 3", {}, ArchError,
        "<inline>:1:1: the spec defines no network", "write a chain like"),
    # conditions, loops and quoted labels
    Row("if-word-condition", 'mode = "bn"\ninput 3x8x8\nconv3-8 - if mode { bn }', {}, ArgumentError,
        "<inline>:3:14: a condition needs a number or true/false, got 'bn'", 'if mode == "bn"'),
    Row("compare-word-number", 'mode = "bn"\ninput 3x8x8\nif mode > 2 { bn }', {}, ArgumentError,
        "<inline>:3:4: '>' compares numbers, got 'bn' and 2", None),
    Row("for-over-number", "input 3x8x8\nfor c in 3 { conv3-{c} }", {}, ArgumentError,
        "<inline>:2:10: for runs over a tuple or a range, not 3", "for i in range(1, n + 1)"),
    Row("for-unpack", "input 3x8x8\nfor c, n in (8, 16) { conv3-{c} }", {}, ArgumentError,
        "<inline>:2:13: for c, n needs items of 2 values, got 8", "((64, 2), (128, 3))"),
    Row("index-out-of-range", "cfg = (8, 16)\ninput 3x8x8\nconv3-{cfg[2]}", {}, ArgumentError,
        "<inline>:3:12: index 2 is out of range for 2 items", "indices run from 0 to 1"),
    Row("unknown-function", "input 3x8x8\nfor i in rnage(3) { conv3-8 }", {}, UnknownNameError,
        "<inline>:2:10: unknown function 'rnage'", "did you mean 'range'?"),
    Row("range-too-long", "input 3x8x8\nfor i in range(1000000) { relu }", {}, LimitError,
        "<inline>:2:10: range of 1,000,000 items is longer than 100,000", "lower the count"),
    Row("range-step-zero", "input 3x8x8\nfor i in range(0, 4, 0) { relu }", {}, ArgumentError,
        "<inline>:2:10: range's step cannot be 0", None),
    Row("labelled-if", "input 3x8x8\na: if 1 { conv3-8 }", {}, ArchError,
        "<inline>:2:4: an if cannot be labelled: its body runs in place", "wrap it in a group: a { ... }"),
    Row("label-template-not-a-name", 'input 3x8x8\nfor i in range(2) { "conv-{i}": conv3-8 }', {}, ArgumentError,
        '<inline>:2:21: label "conv-0" is not a name', '"denselayer{i}" with i = 1 gives denselayer1'),
    Row("label-template-twice", 'input 3x8x8\nfor i in range(2) { "conv{1}": conv3-8 }', {}, ArchError,
        "<inline>:2:32: the name 'conv1' is used twice", "unique within their group"),
]

IDS = [r.id for r in ROWS]


def load_error(row: Row) -> ArchError:
    with pytest.raises(ArchError) as info:
        archdsl.load(row.text, **row.kwargs).analyze()
    return info.value


def test_table_is_big_and_unique():
    assert len(ROWS) >= 25
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_error_row(row: Row):
    err = load_error(row)
    assert type(err) is row.error, f"{type(err).__name__}: {err}"
    text = str(err)
    first = text.splitlines()[0]
    assert row.message in first, text
    assert first.startswith(row.message[: row.message.index(": ") + 2]), text  # file:line:col comes first
    if row.hint is None:
        return
    assert err.hint is not None and row.hint in err.hint, text
    assert text.splitlines()[-1] == f"hint: {err.hint}"


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_error_renders_line_and_caret(row: Row):
    """file:line:col, then the source line, then a caret under the column."""
    err = load_error(row)
    m = re.match(r"<inline>:(\d+):(\d+): ", str(err))
    assert m, str(err)
    line, col = int(m.group(1)), int(m.group(2))
    assert (err.span.line, err.span.column) == (line, col)
    rendered = str(err).splitlines()
    source_line = row.text.splitlines()[line - 1].rstrip()
    shown, caret = rendered[1], rendered[2]
    assert shown.startswith("    ") and caret.startswith("    ")
    assert set(caret.strip()) == {"^"}
    if len(source_line) <= 100:
        assert shown == "    " + source_line
        assert caret.index("^") == 4 + col - 1
    else:  # long lines are shown as a window around the spot
        assert "..." in shown
        assert shown[caret.index("^"):].startswith(source_line[col - 1:col + 2])


def test_huge_repeat_is_answered_at_once():
    start = time.perf_counter()
    with pytest.raises(LimitError):
        archdsl.load("[conv3-8]x1000000000", input="3x32x32")
    with pytest.raises(LimitError):
        archdsl.load("[[[conv3-8]x100000]x100000]x100000", input="3x32x32")
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize("text", [
    "(" * 5000, "{" * 5000, "conv3-{" + "(" * 5000, "conv3-{" + "-" * 5000 + "1}",
    "a = " + "*".join(["1"] * 5000), "relu-" * 110000 + "relu",
])
def test_deep_or_long_input_is_an_arch_error(text):
    """No RecursionError, MemoryError or hang: deep nesting and huge inputs are ArchErrors."""
    with pytest.raises(ArchError):
        archdsl.load(text, input="3x32x32").analyze()


def test_fifty_brackets_still_work():
    net = archdsl.load("[" * 50 + "conv3-4 - relu" + "]" * 50, input="3x8x8")
    assert net.analyze().outputs == {"output": (4, 8, 8)}


def test_error_in_imported_file_names_that_file(tmp_path: Path):
    (tmp_path / "lib.arch").write_text("# a broken trunk\nblock stem(c) {\n  conv3-{c} - relu - maxpol\n}\n")
    main = tmp_path / "main.arch"
    main.write_text('import "lib.arch"\ninput 3x32x32\nlib.stem(8)\n')
    with pytest.raises(UnknownNameError) as info:
        archdsl.load(str(main))
    text = str(info.value)
    assert text.startswith(f"{tmp_path / 'lib.arch'}:3:22: unknown op or block 'maxpol'"), text
    assert "\n      conv3-{c} - relu - maxpol\n" in text


def test_syntax_error_in_file_names_the_file(tmp_path: Path):
    spec = tmp_path / "bad.arch"
    spec.write_text("input 3x32x32\n\nconv3-8 - [relu\n")
    with pytest.raises(SpecSyntaxError) as info:
        archdsl.load(str(spec))
    assert str(info.value).startswith(f"{spec}:3:11: '[' is never closed")


def test_import_cycle(tmp_path: Path):
    (tmp_path / "a.arch").write_text('import "b.arch"\ninput 3x8x8\nconv3-4\n')
    (tmp_path / "b.arch").write_text('import "a.arch"\ninput 3x8x8\nconv3-4\n')
    with pytest.raises(ArchError, match=r"b\.arch:1:1: import cycle: a\.arch -> b\.arch -> a\.arch"):
        archdsl.load(str(tmp_path / "a.arch"))


def test_unknown_override_variable():
    with pytest.raises(UnknownNameError) as info:
        archdsl.load("width = 8\ninput 3x8x8\nconv3-{width}", widht=4)
    assert info.value.message == "unknown variable 'widht'"
    assert info.value.hint == "did you mean 'width'?"


def test_unknown_network_name():
    with pytest.raises(UnknownNameError, match="unknown network 'smal'") as info:
        archdsl.load("network small {\n input 3x8x8\n conv3-4\n}", network="smal")
    assert info.value.hint == "did you mean 'small'?"


def test_bad_input_option():
    with pytest.raises(ArchError, match="bad input shape '3xax32'"):
        archdsl.load("conv3-8", input="3xax32")


def test_error_is_an_exception_with_parts():
    err = load_error(ROWS[0])
    assert isinstance(err, Exception)
    assert err.message == "unknown op 'maxpol'"
    assert (err.span.file, err.span.line, err.span.column) == ("<inline>", 1, 19)
    assert err.guess == "maxpool"


# ---------------------------------------------------------------------- the CLI
def test_cli_prints_error_without_traceback(capsys):
    from archdsl.cli import main
    assert main(["check", "conv3-64 - relu - maxpol", "--input", "3x32x32"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "<inline>:1:19: unknown op 'maxpol'" in err
    assert "    conv3-64 - relu - maxpol\n" in err
    assert "                      ^^^^^^\n" in err
    assert "hint: did you mean 'maxpool'?" in err


@pytest.mark.parametrize("row", [r for r in ROWS if r.id in (
    "stray-close-paren", "concat-mismatch", "block-recursion", "brackets-5000-deep", "missing-input")], ids=str)
def test_cli_exit_code_for_rows(row: Row, capsys):
    from archdsl.cli import main
    argv = ["check", row.text] + (["--input", row.kwargs["input"]] if "input" in row.kwargs else [])
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert row.message in err


def test_cli_error_in_file(tmp_path: Path, capsys):
    from archdsl.cli import main
    spec = tmp_path / "net.arch"
    spec.write_text("input 3x32x32\nconv3-8 - relu - maxpool(3, ss=2)\n")
    assert main(["report", str(spec)]) == 1
    out, err = capsys.readouterr()
    assert f"{spec}:2:29: maxpool takes no argument 'ss'" in err
    assert "hint: did you mean 's'?" in err
    assert "Traceback" not in out + err


def test_cli_bad_set_variable(capsys):
    from archdsl.cli import main
    assert main(["check", "width = 8\ninput 3x8x8\nconv3-{width}", "--set", "widht=4"]) == 1
    out, err = capsys.readouterr()
    assert "unknown variable 'widht'" in err and "did you mean 'width'?" in err
    assert "Traceback" not in out + err


def test_cli_good_spec_exits_zero(capsys):
    from archdsl.cli import main
    assert main(["check", "[CONV-POOL]x2-FC", "--input", "3x32x32", "--classes", "10"]) == 0
    assert "Traceback" not in capsys.readouterr().err


# ------------------------------------------------------------------ fuzzing
PIECES = ["conv3-8", "conv", "relu", "maxpool", "pool2", "fc-10", "FC", "bn", "[", "]", "(", ")", "{", "}",
          "x2", "x{n}", "*3", "-", "->", " - ", ",", "=", "k=3", "@a", "a:", "a", "n = 2", "\n", "concat {",
          "residual {", "} shortcut {", "identity", "block b(c) {", "b(4)", "input 3x16x16", "output a",
          "crop(@a)", "#c", "\\\n", "1.5", "-{n*2}", "/2", "soft-max", "import x", "network n {", '"s"', ";", "$"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=14).map(" ".join))
def test_fuzz_pieces_give_a_net_or_an_arch_error(text):
    try:
        archdsl.load(text, input="3x16x16").analyze()
    except ArchError as err:
        assert str(err)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="[]{}()-x*@:=,.#/\\\n 0123456789abcfknoprsuvxCFOP", max_size=40))
def test_fuzz_characters_give_a_net_or_an_arch_error(text):
    try:
        archdsl.load(text, input="3x16x16").analyze()
    except ArchError as err:
        assert str(err)


# ------------------------------------------------------------- docs/errors.md
def catalogue() -> str:
    """docs/errors.md: every row's input and the exact error it gives, as the CLI prints it."""
    out = ["# Error catalogue", "",
           "Every mistake in a spec is reported as an `ArchError` naming the file, line and column,",
           "showing the line with a caret under the spot and, mostly, a hint. From the command line,",
           "`archdsl check` (and `report`, `compile`) prints it after `error:` on stderr, without a",
           "Python traceback, and exits with status 1; from Python, `archdsl.load(...)` raises it.", "",
           "This page is generated from the error table in `tests/test_errors.py`, which checks every",
           "message below (`.venv/bin/python tests/test_errors.py > docs/errors.md`). Inline specs are",
           "named `<inline>`; a spec file is named by its path.", "",
           "| class (`archdsl.errors`) | raised for |", "|---|---|"]
    for cls in (SpecSyntaxError, UnknownNameError, ArgumentError, ShapeError, LimitError):
        out.append(f"| `{cls.__name__}` | {cls.__doc__.strip().splitlines()[0].replace('``', '`')} |")
    out += ["| `ArchError` | the base class; used itself for a name used twice, a missing input, a chain "
            "that leads nowhere, an import cycle |", ""]
    section = None
    for row in ROWS:
        err = load_error(row)
        heading = _SECTIONS.get(row.id)
        if heading and heading != section:
            out += [f"## {heading}", ""]
            section = heading
        opts = "".join(f" --{k} {v}" if k in ("input", "network") else f" --set {k}={v}"
                       for k, v in row.kwargs.items())
        spec = _SHOWN.get(row.id, f"'{row.text}'")
        out += [f"**{row.id}** (`{type(err).__name__}`)", "", "```text", f"$ archdsl check{opts} {spec}",
                f"error: {err}", "```", ""]
    return "\n".join(out).rstrip("\n")


# rows too long to print: how to type them instead
_SHOWN = {"brackets-5000-deep": "\"$(python -c 'print(\"[\" * 5000 + \"relu\" + \"]\" * 5000)')\"",
          "expression-too-long": "\"conv3-{$(python -c 'print(\"+\".join([\"1\"] * 3000))')}\""}
_SECTIONS = {"op-typo": "Names", "unclosed-bracket-before-count": "Syntax", "unknown-keyword": "Arguments",
             "block-missing-argument": "Blocks", "division-by-zero": "Arithmetic", "repeat-zero": "Repeats and limits",
             "concat-mismatch": "Shapes", "missing-input": "The network as a whole"}


def test_errors_md_is_current():
    doc = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
    assert doc.read_text(encoding="utf-8") == catalogue() + "\n", \
        "docs/errors.md is stale: run .venv/bin/python tests/test_errors.py > docs/errors.md"


if __name__ == "__main__":
    sys.stdout.write(catalogue() + "\n")
