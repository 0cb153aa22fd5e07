"""The error table: bad specs and the exact errors they give.

Every row is (input text, load keywords, expected ArchError subclass, expected message
with its ``file:line:col``, expected hint or None). Every error must render as

    <inline>:LINE:COL: message
        the source line
        ^^^ a caret under the spot
    hint: ...

and no bad input may raise anything but an ArchError (tests/fuzz/ checks that on generated and
mutated specs). docs/errors.md is generated from these rows (``python tests/test_errors.py``),
and ``test_every_error_message_has_a_row`` checks that every message the spec-reading code can
raise has a row, so that the catalogue is complete.
"""

from __future__ import annotations

import ast as pyast
import functools
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import archdsl
from archdsl import ArchError, ArgumentError, LimitError, ShapeError, SpecSyntaxError, UnknownNameError
from archdsl.cli.options import printable

IN = {"input": "3x32x32"}


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    kwargs: dict = field(default_factory=dict)
    error: type = ArchError
    message: str = ""  # the first line, exactly: <inline>:line:col: message (syntax errors: up to "; expected ...")
    hint: str | None = None  # a substring of the hint line
    files: dict[str, str | bytes] | None = None  # spec files to write into a fresh folder; text then names one
    compile: bool = False  # the error comes when the network is compiled (``archdsl compile``), not loaded


IN16 = {"input": "3x16x16"}
# a small region proposal network: map m (stride 2), objectness o, deltas d, proposals r (at most 5 per image)
_RPN = "m: conv3-8/2 - o: conv1-9\n@m - d: conv1-36\n@o - r: proposals(@d, sizes=(4, 8, 16), post_nms=5)\n"

ROWS = [
    # ---------------------------------------------------------------- names
    Row(
        "op-typo",
        "conv3-64 - relu - maxpol",
        IN,
        UnknownNameError,
        "<inline>:1:19: unknown op 'maxpol'",
        "did you mean 'maxpool'?",
    ),
    Row(
        "op-nothing-close",
        "conv3-64 - relu - capsule",
        IN,
        UnknownNameError,
        "<inline>:1:19: unknown op 'capsule'",
        "archdsl has no op like 'capsule'; the ops are in docs/language.md's table (python -m archdsl.ops)",
    ),
    Row(
        "op-typo-case",
        "conv3-64 - Rleu",
        IN,
        UnknownNameError,
        "<inline>:1:12: unknown op 'Rleu'",
        "did you mean 'relu'?",
    ),
    Row(
        "op-shorthand-on-plain-op",
        "conv3-8 - relu3",
        IN,
        UnknownNameError,
        "<inline>:1:11: unknown op 'relu3'",
        "relu has no size shorthand; write relu(...) with arguments",
    ),
    Row(
        "kernel-written-twice",
        "conv3x3-64",
        IN,
        UnknownNameError,
        "<inline>:1:1: unknown op 'conv3x3'",
        "write the kernel size once: conv3-N for a 3x3 kernel",
    ),
    Row(
        "block-typo",
        "block inception(c) { conv1-{c} }\ninput 3x32x32\nincepton(8)",
        {},
        UnknownNameError,
        "<inline>:3:1: unknown op or block 'incepton'",
        "did you mean 'inception'?",
    ),
    Row(
        "variable-typo",
        "width = 8\nconv3-{widht}",
        IN,
        UnknownNameError,
        "<inline>:2:8: unknown variable 'widht'",
        "did you mean 'width'?",
    ),
    Row("repeat-count-variable", "[conv3-8]x{n}", IN, UnknownNameError, "<inline>:1:12: unknown variable 'n'", None),
    Row(
        "label-typo",
        "c1: conv3-8 - relu\n@c2 - relu",
        IN,
        UnknownNameError,
        "<inline>:2:1: unknown label '@c2'",
        "did you mean '@c1'?",
    ),
    Row(
        "label-ambiguous",
        "g1 { c: conv3-8 }\ng2 { c: conv3-8 }\n@c - relu",
        IN,
        ArchError,
        "<inline>:3:1: @c is ambiguous: it could be @g1.c, @g2.c",
        "write the full path",
    ),
    Row(
        "label-not-yet-defined",
        "conv3-8 - crop(@later) - later: relu",
        IN,
        UnknownNameError,
        "<inline>:1:16: unknown label '@later'",
        "a reference names a label defined earlier",
    ),
    Row(
        "output-unknown-label",
        "c1: conv3-8 - relu\noutput c2",
        IN,
        UnknownNameError,
        "<inline>:2:8: unknown label '@c2'",
        "did you mean '@c1'?",
    ),
    Row(
        "upto-label-typo",
        "import vgg16\nvgg16(upto=@pool9)",
        IN,
        UnknownNameError,
        "<inline>:2:12: unknown label '@pool9'",
        "did you mean '@pool5'?",
    ),
    Row(
        "import-override-typo",
        "import vgg16\ninput 3x32x32\nvgg16(clases=10)",
        {},
        UnknownNameError,
        "<inline>:3:7: unknown variable 'clases' of network 'vgg16'",
        "did you mean 'classes'?",
    ),
    Row(
        "block-keyword-typo-in-import",
        "import residual as res\ninput 64x8x8\nres.basic(64, strid=2)",
        {},
        UnknownNameError,
        "<inline>:3:15: unknown argument 'strid' of block 'basic'",
        "did you mean 'stride'?",
    ),
    Row(
        "library-typo",
        "import vggg16\nconv3-8",
        IN,
        UnknownNameError,
        "<inline>:1:1: unknown library spec 'vggg16'",
        "did you mean 'vgg16'?",
    ),
    Row(
        "import-block-typo",
        "import residual as res\ninput 64x8x8\nres.basik(64)",
        {},
        UnknownNameError,
        "<inline>:3:1: unknown op or block 'res.basik'",
        "did you mean 'res.basic'?",
    ),
    Row(
        "network-not-in-import",
        "import resnet\ninput 3x32x32\nresnet.resnet19()",
        {},
        UnknownNameError,
        "<inline>:3:1: unknown op or block 'resnet.resnet19'",
        None,
    ),
    Row(
        "import-missing-file",
        'import "no_such_file.arch"\nconv3-8',
        IN,
        ArchError,
        "<inline>:1:1: cannot import 'no_such_file.arch': no such file",
        None,
    ),
    Row(
        "block-named-like-op",
        "block relu(x) { conv3-8 }\nrelu(3)",
        IN,
        ArchError,
        "<inline>:1:1: block 'relu' has the name of an op",
        "choose another name",
    ),
    Row(
        "label-twice-in-group",
        "g {\n  a: conv3-8 - a: relu\n}",
        IN,
        ArchError,
        "<inline>:2:19: the name 'a' is used twice in 'g'",
        "unique within their group",
    ),
    Row(
        "label-twice",
        "a: conv3-8 - a: relu",
        IN,
        ArchError,
        "<inline>:1:17: the name 'a' is used twice",
        "labels name modules and must be unique",
    ),
    Row(
        "crop-without-at",
        "a: conv3-8\nb: conv(8, p=0) - crop(a)",
        IN,
        ArgumentError,
        "<inline>:2:24: 'ref' of crop takes a reference to a label",
        "write crop(@a)",
    ),
    Row(
        "reference-mid-chain",
        "a: conv3-8 - @a",
        IN,
        ArchError,
        "<inline>:1:14: a reference like @a can only start a chain",
        "start a new line with it",
    ),
    Row(
        "reference-labelled",
        "a: conv3-8\nb: @a - relu",
        IN,
        ArchError,
        "<inline>:2:4: a reference cannot be labelled",
        None,
    ),
    Row(
        "reference-as-value",
        "a: conv3-8\nx = @a\nrelu",
        IN,
        ArgumentError,
        "<inline>:2:5: @a cannot be used as a value here",
        "like crop(@label)",
    ),
    Row(
        "reference-in-wrong-argument",
        "a: conv3-8\nconv(8, k=@a)",
        IN,
        ArgumentError,
        "<inline>:2:11: 'k' of conv is not a reference",
        None,
    ),
    Row(
        "reference-missing",
        "conv3-8 - crop",
        IN,
        ArgumentError,
        "<inline>:1:11: crop needs a reference: crop(@label)",
        None,
    ),
    Row(
        "reference-template-not-a-path",
        'a: conv3-8\n@"a {1}" - relu',
        IN,
        ArgumentError,
        '<inline>:2:1: @"a 1" is not a path of names',
        '@"pool{s}"',
    ),
    # --------------------------------------------------------------- syntax
    Row(
        "unclosed-bracket-before-count",
        "[CONV-POOL x2",
        IN,
        SpecSyntaxError,
        "<inline>:1:12: unexpected 'x2'",
        "the '[' at line 1, column 1 is still open; close it before the count",
    ),
    Row(
        "unclosed-bracket-at-end",
        "conv3-8 - [CONV-POOL",
        IN,
        SpecSyntaxError,
        "<inline>:1:11: '[' is never closed",
        "add ']' to close it",
    ),
    Row(
        "unclosed-paren-at-end",
        "conv(64, k=3",
        IN,
        SpecSyntaxError,
        "<inline>:1:5: '(' is never closed",
        "add ')' to close it",
    ),
    Row(
        "stray-close-bracket",
        "CONV-POOL]x2",
        IN,
        SpecSyntaxError,
        "<inline>:1:10: unmatched ']'",
        "brackets must pair up",
    ),
    Row(
        "stray-close-paren",
        "conv3-8) - relu",
        IN,
        SpecSyntaxError,
        "<inline>:1:8: unmatched ')'",
        "brackets must pair up",
    ),
    Row(
        "mismatched-close",
        "[conv3-8 - relu)",
        IN,
        SpecSyntaxError,
        "<inline>:1:16: unmatched ')' (the '[' at line 1 is still open)",
        "brackets must pair up",
    ),
    Row(
        "stray-character",
        "conv3-8 - relu $ pool",
        IN,
        SpecSyntaxError,
        "<inline>:1:16: unexpected character '$'",
        "chains join elements with '-' or '->'",
    ),
    Row(
        "semicolon",
        "conv3-8; relu",
        IN,
        SpecSyntaxError,
        "<inline>:1:8: unexpected character ';'",
        "statements are separated by new lines",
    ),
    Row(
        "missing-dash",
        "conv3-8 relu",
        IN,
        SpecSyntaxError,
        "<inline>:1:9: unexpected 'relu'",
        "join the elements of a chain with '-' or '->'",
    ),
    Row(
        "line-break-in-brackets",
        "[conv3-8\n relu]x2",
        IN,
        SpecSyntaxError,
        "<inline>:2:2: unexpected 'relu'",
        "inside ( ) and [ ] a line break is just a space",
    ),
    Row(
        "double-dash",
        "conv3-8 -- relu",
        IN,
        SpecSyntaxError,
        "<inline>:1:10: unexpected '-'; expected '@', '[', a name",
        None,
    ),
    Row(
        "dangling-dash",
        "conv3-8 - maxpool -",
        IN,
        SpecSyntaxError,
        "<inline>:1:20: unexpected end of input; expected an element (an op or block, a [repeat], @label, if, for)",
        None,
    ),
    Row("trailing-comma", "conv(64,)", IN, SpecSyntaxError, "<inline>:1:9: unexpected ')'", None),
    Row(
        "label-template-not-an-expression",
        '"conv{-}": conv3-8',
        IN,
        SpecSyntaxError,
        "<inline>:1:1: '{-}' in a label is not an expression",
        'a label like "denselayer{i}"',
    ),
    Row(
        "label-template-unbalanced",
        '"conv{i": conv3-8',
        IN,
        SpecSyntaxError,
        "<inline>:1:1: unbalanced braces in a label",
        'write "name{i}"',
    ),
    Row(
        "unicode-lookalike",
        "conv3-8 - r\u0435lu",
        IN,
        SpecSyntaxError,
        "<inline>:1:12: unexpected character '\u0435'",
        "(CYRILLIC SMALL LETTER IE) is not an ASCII letter",
    ),
    Row(
        "invisible-character",
        "conv3-8 -\u200b relu",
        IN,
        SpecSyntaxError,
        "<inline>:1:10: unexpected character '\\u200b'",
        "an invisible character (ZERO WIDTH SPACE) is in the text",
    ),
    Row(
        "unicode-dash",
        "conv3-8 \u2013 relu",
        IN,
        SpecSyntaxError,
        "<inline>:1:9: unexpected character '\u2013'",
        "chains join elements with '-' or '->'",
    ),
    Row(
        "lone-number",
        "conv3-8 - 64",
        IN,
        SpecSyntaxError,
        "<inline>:1:11: unexpected '64'",
        "a number cannot stand alone here",
    ),
    Row(
        "positional-after-keyword",
        "conv(k=3, 64)",
        IN,
        SpecSyntaxError,
        "<inline>:1:11: positional argument after a keyword argument",
        "put positional arguments first",
    ),
    # ------------------------------------------------------------ arguments
    Row(
        "unknown-keyword",
        "conv(64, kk=3)",
        IN,
        ArgumentError,
        "<inline>:1:10: conv takes no argument 'kk'",
        "did you mean 'k'?",
    ),
    Row(
        "unknown-keyword-alias-typo",
        "conv(64, kernal=3)",
        IN,
        ArgumentError,
        "<inline>:1:10: conv takes no argument 'kernal'",
        "did you mean 'kernel'?",
    ),
    Row("keyword-twice", "conv(64, k=3, kernel=3)", IN, ArgumentError, "<inline>:1:15: conv got 'k' twice", None),
    Row(
        "float-for-int",
        "conv(64, k=1.5)",
        IN,
        ArgumentError,
        "<inline>:1:10: conv: bad value 1.5 for 'k': expected an integer or a pair (height, width)",
        "its arguments are: out, k",
    ),
    Row(
        "triple-for-pair",
        "conv(8, k=(1, 2, 3))",
        IN,
        ArgumentError,
        "<inline>:1:9: conv: bad value (1, 2, 3) for 'k': expected an integer or a pair (height, width)",
        None,
    ),
    Row(
        "unknown-word",
        'conv(8, p="full")',
        IN,
        ArgumentError,
        "<inline>:1:9: conv: bad value 'full' for 'p': expected an integer, a pair (height, width), 'same' or 'valid'",
        None,
    ),
    Row(
        "word-for-number",
        "conv3-8 - dropout(p=abc)",
        IN,
        UnknownNameError,
        "<inline>:1:21: unknown variable 'abc'",
        "'p' of dropout takes a number; a bare name is a variable",
    ),
    Row(
        "string-for-number",
        'conv3-8 - dropout(p="abc")',
        IN,
        ArgumentError,
        "<inline>:1:19: dropout: bad value 'abc' for 'p': input should be a valid number, unable to parse string as a "
        "number",
        "its arguments are: p",
    ),
    Row(
        "variable-typo-in-argument",
        "width = 8\nconv(out=widht)",
        IN,
        UnknownNameError,
        "<inline>:2:10: unknown variable 'widht'",
        "did you mean 'width'?",
    ),
    Row(
        "word-not-allowed",
        "conv3-8 - upsample(2, mode=bilnear)",
        IN,
        ArgumentError,
        "<inline>:1:23: upsample: bad value 'bilnear' for 'mode': input should be 'nearest' or 'bilinear'",
        None,
    ),
    Row("bool-for-number", "conv(true)", IN, ArgumentError, "<inline>:1:6: conv: 'out' takes a number, not true", None),
    Row(
        "out-of-range",
        "conv3-8 - dropout(1.5)",
        IN,
        ArgumentError,
        "<inline>:1:19: dropout: bad value 1.5 for 'p': input should be less than or equal to 1",
        None,
    ),
    Row(
        "zero-channels",
        "conv3-0",
        IN,
        ArgumentError,
        "<inline>:1:6: conv: bad value 0 for 'out': input should be greater than 0",
        None,
    ),
    Row(
        "too-many-positional",
        "conv(64, 3, 1, 1, 1)",
        IN,
        ArgumentError,
        "<inline>:1:19: conv takes at most 4 positional arguments (out, k, s, p), got 5",
        "pass them by keyword",
    ),
    Row(
        "positional-on-plain-op",
        "conv3-8 - relu(5)",
        IN,
        ArgumentError,
        "<inline>:1:16: relu takes no positional arguments, got 1",
        "its arguments are: inplace",
    ),
    Row(
        "dash-on-op-without-one",
        "conv3-8 - relu-5",
        IN,
        ArgumentError,
        "<inline>:1:15: relu takes no -N shorthand",
        "write relu(...) with keywords instead",
    ),
    Row(
        "slash-on-op-without-one",
        "conv3-8 - fc-10/2",
        IN,
        ArgumentError,
        "<inline>:1:17: fc takes no /N shorthand",
        None,
    ),
    Row(
        "groups-out-channels",
        "conv(8, groups=3)",
        IN,
        ArgumentError,
        "<inline>:1:1: conv: out channels 8 are not divisible by groups=3",
        None,
    ),
    Row(
        "kernel-zero",
        "conv(8, k=0)",
        IN,
        ArgumentError,
        "<inline>:1:1: conv: kernel must be positive",
        "its arguments are",
    ),
    Row("stride-negative", "conv(8, s=-1)", IN, ArgumentError, "<inline>:1:1: conv: stride must be positive", None),
    Row("dilation-zero", "conv(8, d=0)", IN, ArgumentError, "<inline>:1:1: conv: dilation must be positive", None),
    Row("padding-negative", "conv(8, p=-1)", IN, ArgumentError, "<inline>:1:1: conv: padding must be >= 0", None),
    Row(
        "pool-padding-over-half",
        "maxpool(2, p=2)",
        IN,
        ArgumentError,
        "<inline>:1:1: maxpool: padding must be at most half the kernel size",
        None,
    ),
    Row(
        "adaptive-size-zero",
        "adaptive_avgpool(0)",
        IN,
        ArgumentError,
        "<inline>:1:1: adaptive_avgpool: output size must be positive",
        None,
    ),
    Row(
        "missing-required-argument",
        "conv3-8 - pad_channels",
        IN,
        ArgumentError,
        "<inline>:1:11: pad_channels needs the argument 'out'",
        "its arguments are: out",
    ),
    Row(
        "op-takes-no-body",
        "relu { conv3-8 }",
        IN,
        ArgumentError,
        "<inline>:1:1: relu takes no { ... } body",
        'to name a group relu, quote it: "relu" { ... }',
    ),
    Row(
        "merge-without-braces",
        "conv3-8 - add - relu",
        IN,
        ArgumentError,
        "<inline>:1:11: add takes its branches in braces",
        "write add { one branch per line }",
    ),
    Row(
        "group-named-like-a-merge-archdsl-lacks",
        "maximum {\n  conv3-8\n  conv3-8\n}",
        IN,
        ArgumentError,
        "<inline>:1:1: 'maximum' is not an op of archdsl, and a braced name is a group, whose lines run one after "
        "another",
        "the ops that take branches are concat, add, mul, mean and residual; to name a group maximum, quote it: "
        '"maximum" { ... }',
    ),
    Row(
        "group-named-like-a-merge-typo",
        "cocnat {\n  conv3-8\n  conv3-8\n}",
        IN,
        ArgumentError,
        "<inline>:1:1: 'cocnat' is not an op of archdsl, and a braced name is a group, whose lines run one after "
        "another",
        "did you mean concat?",
    ),
    Row(
        "group-with-arguments",
        "features(3) { conv3-8 }",
        IN,
        ArgumentError,
        "<inline>:1:1: group 'features' takes no arguments",
        "write a parameterised `block`",
    ),
    Row(
        "groups-in-channels",
        "conv(6, groups=2)",
        IN,
        ShapeError,
        "<inline>:1:1: conv at 0: 3 input channels are not divisible by groups=2",
        None,
    ),
    Row(
        "pool-stride-zero",
        "maxpool(3, s=0)",
        IN,
        ArgumentError,
        "<inline>:1:1: maxpool: kernel and stride must be positive",
        None,
    ),
    Row(
        "same-padding-strided",
        'conv(64, p="same", s=2)',
        IN,
        ShapeError,
        "<inline>:1:1: conv at 0: padding='same' needs stride 1",
        "give the padding as a number",
    ),
    Row(
        "merge-one-branch",
        "concat { conv3-8 }",
        IN,
        ArgumentError,
        "<inline>:1:1: concat needs at least two branches, one per line",
        "written `identity`",
    ),
    Row(
        "merge-positional-argument",
        "add(relu) {\n  conv3-3\n  identity\n}",
        IN,
        ArgumentError,
        "<inline>:1:1: add takes keyword arguments only",
        None,
    ),
    Row(
        "merge-keyword-twice",
        "add(act=relu, act=none) {\n  conv3-3\n  identity\n}",
        IN,
        ArgumentError,
        "<inline>:1:15: add got 'act' twice",
        None,
    ),
    Row(
        "merge-act-not-an-activation",
        "add(act=softmax) {\n  conv3-3\n  identity\n}",
        IN,
        ArgumentError,
        "<inline>:1:5: add: act takes none or an activation (gelu, hardsigmoid, hardswish, leaky_relu, relu, relu6, "
        "sigmoid, silu, tanh), not 'softmax'",
        "its arguments are: act",
    ),
    Row(
        "mul-shapes-do-not-broadcast",
        "input 3x8x8\nmul {\n  identity\n  conv1-2\n}",
        {},
        ShapeError,
        "<inline>:2:1: mul at 0: branch 2 is 2x8x8, branch 1 is 3x8x8 (branch 1 comes from 0.branch1 (identity, "
        "line 3), branch 2 from 0.branch2 (conv, line 4))",
        "broadcasts a size of 1",
    ),
    Row(
        "layernorm-over-channels-of-a-sequence",
        "input 3x8x8\nreshape(3, 64) - layernorm",
        {},
        ShapeError,
        "<inline>:2:18: layernorm at 1: normalises the channels of a CxHxW map or a vector, got 3x64",
        "over=last normalises the last dimension",
    ),
    Row(
        "groupnorm-groups-do-not-divide",
        "input 6x8x8\ngroupnorm(4)",
        {},
        ShapeError,
        "<inline>:2:1: groupnorm at 0: 6 channels do not split into 4 groups",
        "a multiple of groups",
    ),
    Row(
        "chunk-uneven",
        "input 6x8x8\nchunk(4, 0)",
        {},
        ShapeError,
        "<inline>:2:1: chunk at 0: 6 channels do not cut into 4 equal chunks",
        "split(sizes..., part=k) cuts unequal parts",
    ),
    Row(
        "chunk-part-out-of-range",
        "input 6x8x8\nchunk(2, 2)",
        {},
        ArgumentError,
        "<inline>:2:1: chunk: part 2 of 2 chunks: parts are numbered 0 to 1",
        "its arguments are: chunks, part",
    ),
    Row(
        "chunk-of-a-sequence",
        "input 6x8x8\nreshape(6, 64) - chunk(2, 0)",
        {},
        ShapeError,
        "<inline>:2:18: chunk at 1: chunk cuts the channels of a CxHxW map or a vector, got 6x64",
        None,
    ),
    Row(
        "split-sizes-do-not-add-up",
        "input 6x8x8\nsplit(2, 3, part=0)",
        {},
        ShapeError,
        "<inline>:2:1: split at 0: the sizes 2, 3 add up to 5, not the 6 channels",
        "must add up to the channels",
    ),
    Row(
        "split-part-out-of-range",
        "input 6x8x8\nsplit(2, 4, part=2)",
        {},
        ArgumentError,
        "<inline>:2:1: split: part 2 of 2 sizes: parts are numbered 0 to 1",
        "its arguments are: sizes, part",
    ),
    Row(
        "split-size-zero",
        "input 6x8x8\nsplit(0, 6, part=1)",
        {},
        ArgumentError,
        "<inline>:2:1: split: split sizes must be at least 1, got (0, 6)",
        "its arguments are: sizes, part",
    ),
    Row(
        "channel-shuffle-groups-do-not-divide",
        "input 6x8x8\nchannel_shuffle(4)",
        {},
        ShapeError,
        "<inline>:2:1: channel_shuffle at 0: 6 channels do not split into 4 groups",
        "a multiple of groups",
    ),
    Row(
        "channel-shuffle-of-a-vector",
        "input 6x8x8\ngap - flatten - channel_shuffle(2)",
        {},
        ShapeError,
        "<inline>:2:17: channel_shuffle at 2: shuffles the channels of a CxHxW map, got 6",
        None,
    ),
    Row(
        "shortcut-on-concat",
        "concat {\n  conv3-8\n  identity\n} shortcut { relu }",
        IN,
        ArgumentError,
        "<inline>:1:1: only residual takes a shortcut body, not concat",
        None,
    ),
    Row(
        "residual-empty-body",
        "a: conv3-8\nresidual { @a }",
        IN,
        ArgumentError,
        "<inline>:2:1: residual needs a body",
        None,
    ),
    Row(
        "shortcut-two-chains",
        "residual { conv3-3 } shortcut {\n  relu\n  relu\n}",
        IN,
        ArgumentError,
        "<inline>:1:1: a shortcut is one chain",
        None,
    ),
    Row(
        "upto-not-a-label",
        "import vgg16\ninput 3x32x32\nvgg16(upto=5)",
        {},
        ArgumentError,
        "<inline>:3:7: upto takes a label: upto=@pool5",
        None,
    ),
    Row(
        "network-positional-argument",
        "import vgg16\ninput 3x32x32\nvgg16(10)",
        {},
        ArgumentError,
        "<inline>:3:1: network 'vgg16' takes keyword arguments only (variables, upto=@label)",
        None,
    ),
    Row(
        "network-keyword-twice",
        "import vgg16\ninput 3x32x32\nvgg16(classes=10, classes=5)",
        {},
        ArgumentError,
        "<inline>:3:19: network 'vgg16' got 'classes' twice",
        None,
    ),
    # ----------------------------------------------------------------- blocks
    Row(
        "block-missing-argument",
        "block cbr(c, k) { conv(c, k=k) - bn - relu }\ncbr(8)",
        IN,
        ArgumentError,
        "<inline>:2:1: block 'cbr' needs the argument 'k'",
        "call it as cbr(c, k)",
    ),
    Row(
        "block-extra-argument",
        "block cbr(c) { conv3-{c} - relu }\ncbr(8, 9)",
        IN,
        ArgumentError,
        "<inline>:2:8: block 'cbr' takes 1 argument (c), got 2",
        "call it as cbr(c)",
    ),
    Row(
        "block-unknown-keyword",
        "block cbr(width) { conv3-{width} }\ncbr(wdth=8)",
        IN,
        UnknownNameError,
        "<inline>:2:5: unknown argument 'wdth' of block 'cbr'",
        "did you mean 'width'?",
    ),
    Row(
        "block-parameter-twice",
        "block b(c, c) { conv1-{c} }\nb(1, 2)",
        IN,
        ArchError,
        "<inline>:1:12: block 'b' has two parameters named 'c'",
        None,
    ),
    Row(
        "block-keyword-twice",
        "block cbr(c) { conv3-{c} }\ncbr(8, c=8)",
        IN,
        ArgumentError,
        "<inline>:2:8: block 'cbr' got 'c' twice",
        None,
    ),
    Row(
        "block-with-shorthand",
        "block cbr(c) { conv3-{c} }\ncbr-8",
        IN,
        ArgumentError,
        "<inline>:2:1: block 'cbr' is called with arguments: cbr(...)",
        None,
    ),
    Row(
        "block-twice",
        "block b() { relu }\nblock b() { tanh }\nb",
        IN,
        ArchError,
        "<inline>:2:1: block 'b' is defined twice",
        None,
    ),
    Row(
        "block-recursion",
        "block b(c) { conv3-{c} - b(c) }\nb(8)",
        IN,
        LimitError,
        "<inline>:1:26: blocks nest deeper than 64 levels (does a block call itself?)",
        "a block may not call itself",
    ),
    # ------------------------------------------------------------ arithmetic
    Row("division-by-zero", "c = 8\nconv3-{c/0}", IN, ArgumentError, "<inline>:2:8: division by zero", None),
    Row(
        "number-too-large",
        "conv3-{99999999*99999999}",
        IN,
        LimitError,
        "<inline>:1:8: number 1e+16 is larger than 9,007,199,254,740,992",
        None,
    ),
    Row(
        "float-overflow",
        "conv3-{1e400}",
        IN,
        LimitError,
        "<inline>:1:8: number inf is larger than 9,007,199,254,740,992",
        "sizes this large cannot be built",
    ),
    Row(
        "arithmetic-on-a-tuple",
        "x = (1, 2) * 2\nconv3-8",
        IN,
        ArgumentError,
        "<inline>:1:5: arithmetic needs numbers, got (1, 2)",
        None,
    ),
    Row(
        "len-of-a-number",
        "x = len(3)\nconv3-8",
        IN,
        ArgumentError,
        "<inline>:1:5: len takes one tuple: len((64, 128))",
        None,
    ),
    Row(
        "range-of-a-float",
        "x = range(1.5)\nconv3-8",
        IN,
        ArgumentError,
        "<inline>:1:5: range takes one to three integers: range(n), range(1, n + 1), range(0, n, 2)",
        None,
    ),
    Row(
        "int-of-a-tuple",
        "x = int((1, 2))\nconv3-8",
        IN,
        ArgumentError,
        "<inline>:1:5: int takes one number: int(0.75 * 32)",
        None,
    ),
    Row(
        "min-of-a-word",
        'x = min("a", 1)\nconv3-8',
        IN,
        ArgumentError,
        "<inline>:1:5: min takes numbers: min(a, b)",
        None,
    ),
    Row(
        "index-a-number",
        "x = 3[0]\nconv3-8",
        IN,
        ArgumentError,
        "<inline>:1:5: only a tuple can be indexed, not 3",
        None,
    ),
    Row(
        "index-by-a-word",
        'x = (1, 2)["a"]\nconv3-8',
        IN,
        ArgumentError,
        "<inline>:1:12: an index is an integer, got 'a'",
        None,
    ),
    # --------------------------------------------------------------- repeats
    Row(
        "repeat-zero",
        "[conv3-8]x0",
        IN,
        ArgumentError,
        "<inline>:1:11: a repeat count must be a positive integer, got 0",
        None,
    ),
    Row(
        "repeat-fraction",
        "[conv3-8]x{5/2.0}",
        IN,
        ArgumentError,
        "<inline>:1:12: a repeat count must be a positive integer, got 2.5",
        None,
    ),
    Row(
        "repeat-huge",
        "[conv3-8]x1000000000",
        IN,
        LimitError,
        "<inline>:1:11: repeat count 1,000,000,000 would expand past 100,000 nodes",
        "lower the repeat count",
    ),
    Row(
        "repeat-nested-huge",
        "[[conv3-8]x1000]x1000",
        IN,
        LimitError,
        "<inline>:1:1: the repeat would expand past 100,000 nodes: 1,000 times at least 1,000",
        "lower the repeat counts",
    ),
    Row(
        "loop-nested-huge",
        "input 3x8x8\nfor i in range(100000) { for j in range(100000) { relu } }",
        {},
        LimitError,
        "<inline>:2:1: the loop would expand past 100,000 nodes: 100,000 times at least 100,000",
        "shorten the loop",
    ),
    Row(
        "loop-steps-huge",
        "input 3x8x8\nfor i in range(100000) { for j in range(100000) { x = i } }\nrelu",
        {},
        LimitError,
        "<inline>:2:1: the loop would take more than 500,000 steps to expand: 100,000 times at least 200,003",
        "shorten the loop",
    ),
    Row(
        "block-exponential",
        "block b(n) { if n > 0 { b(n - 1) - b(n - 1) } else { relu } }\ninput 3x8x8\nb(40)",
        {},
        LimitError,
        "<inline>:3:1: the call of block 'b' would expand past 100,000 nodes: at least 1,099,511,627,776",
        "grows exponentially",
    ),
    Row(
        "network-grows-past-nodes",
        "input 3x8x8\nfor i in range(450) { [relu]x{i + 1} }",
        {},
        LimitError,
        "<inline>:2:23: the network would expand past 100,000 nodes here: 99,682 so far, and the repeat adds 447 "
        "times at least 1",
        "lower the repeat counts",
    ),
    Row(
        "network-grows-past-steps",
        "input 3x8x8\nfor i in range(1000) { for j in range(i) { x = j } }\nrelu",
        {},
        LimitError,
        "<inline>:2:24: the network would take more than 500,000 steps to expand here: 499,923 so far, "
        "and the loop adds 706 times at least 2",
        "shorten the loop",
    ),
    Row(
        "expressions-too-costly",
        "input 3x8x8\nfor i in range(100) { x = range(100000) }\nrelu",
        {},
        LimitError,
        "<inline>:2:27: the spec's expressions make more than 5,000,000 values",
        "a range() inside a loop is made again on every pass: make it once, before the loop",
    ),
    Row(
        "nesting-too-deep",
        "block b0() { relu }\n"
        + "\n".join(f"block b{i}() {{ [[[[b{i - 1}]]]] }}" for i in range(1, 30))
        + "\ninput 3x8x8\nb29",
        {},
        LimitError,
        "<inline>:11:19: the spec nests deeper than 100 levels (groups, repeats, merges, blocks, if and "
        "for inside one another)",
        "flatten the nesting",
    ),
    Row(
        "spec-too-large",
        "input 3x8x8\nrelu\n" + "#" * 100_000,
        {},
        LimitError,
        "<inline>:1:1: spec is larger than 100,000 bytes",
        "split it into files joined with `import`",
    ),
    Row(
        "brackets-5000-deep",
        "[" * 5000 + "relu" + "]" * 5000,
        IN,
        LimitError,
        "<inline>:1:51: brackets nest deeper than 50 levels",
        "flatten the nesting",
    ),
    Row(
        "expression-too-long",
        "conv3-{" + "+".join(["1"] * 3000) + "}",
        IN,
        LimitError,
        "<inline>:1:1: this statement nests deeper than 200 levels",
        "split long expressions with variables",
    ),
    # ---------------------------------------------------------------- shapes
    Row(
        "concat-mismatch",
        "input 3x28x28\ninception3a: concat {\n  conv1-8\n  conv(8, k=2, p=0)\n}",
        {},
        ShapeError,
        "<inline>:2:14: concat at inception3a: branch 2 is 27x27, branch 1 is 28x28 "
        "(branch 1 comes from inception3a.branch1 (conv, line 3), branch 2 from inception3a.branch2 (conv, line 4))",
        "every other size must agree (crop or pad)",
    ),
    Row(
        "add-mismatch",
        "input 3x28x28\nadd {\n  conv3-8\n  conv3-16\n}",
        {},
        ShapeError,
        "<inline>:2:1: add at 0: branch 2 is 16x28x28, branch 1 is 8x28x28 "
        "(branch 1 comes from 0.branch1 (conv, line 3), branch 2 from 0.branch2 (conv, line 4))",
        "a residual block projects automatically",
    ),
    Row(
        "mean-mismatch",
        "input 3x8x8\nmean {\n  conv3-16\n  conv3-8/2\n}",
        {},
        ShapeError,
        "<inline>:2:1: mean at 0: branch 2 is 8x4x4, branch 1 is 16x8x8 (branch 1 comes from 0.branch1 (conv, line 3), "
        "branch 2 from 0.branch2 (conv, line 4))",
        "mean needs equal shapes in every branch",
    ),
    Row(
        "shortcut-mismatch",
        "input 8x8x8\nres: residual(act=relu) { c1: conv3-16/2 } shortcut { conv1-16 }",
        {},
        ShapeError,
        "<inline>:2:6: residual at res: the shortcut gives 16x8x8, the body 16x4x4 (the body comes from "
        "res.c1 (conv, line 2), the shortcut from res.downsample (conv, line 2))",
        "make the shortcut give the body's shape",
    ),
    Row(
        "pool-below-1x1",
        "[conv3-8 - maxpool]x6",
        IN,
        ShapeError,
        "<inline>:1:12: maxpool at 11: input 8x1x1 is smaller than the 2x2 window: the output would be 0x0",
        "the network needs an input of at least 64x64 (it is given 32x32); or remove a downsampling layer before it",
    ),
    Row(
        "conv-below-1x1",
        "conv(8, k=5, p=0)",
        {"input": "3x3x3"},
        ShapeError,
        "<inline>:1:1: conv at 0: input 3x3x3 is too small for kernel 5x5 with padding 0x0: the output would be -1x-1",
        "the network needs an input of at least 5x5 (it is given 3x3)",
    ),
    Row(
        "strided-stem-too-small",
        "input 3x16x16\nconv7-8/2 - maxpool3/2 - [conv(8, k=3, s=2, p=0)]x2",
        {},
        ShapeError,
        "<inline>:2:27: conv at 3: input 8x1x1 is too small for kernel 3x3 with padding 0x0: the output would be 0x0",
        "the network needs an input of at least 29x29 (it is given 16x16)",
    ),
    Row(
        "conv-after-fc",
        "fc-10 - conv3-8",
        IN,
        ShapeError,
        "<inline>:1:9: conv at 1: needs a CxHxW feature map, got a flat vector of 10 values",
        "put it before any fc/flatten",
    ),
    Row(
        "crop-to-larger",
        "a: conv3-8\nconv(8, k=3, p=0) - crop(@a)",
        IN,
        ShapeError,
        "<inline>:2:21: crop at 2: cannot crop 30x30 to the larger 32x32 of @a",
        "crop the larger map",
    ),
    Row(
        "residual-no-projection",
        "conv3-8 - residual { conv(16, k=3, p=0) }",
        IN,
        ShapeError,
        "<inline>:1:11: projection at 1.downsample: the body turns 8x32x32 into 16x30x30: no strided 1x1 conv maps "
        "one onto the other",
        "give the shortcut explicitly: residual { ... } shortcut { ... }",
    ),
    Row(
        "reshape-count",
        "conv3-8 - reshape(7, 7)",
        IN,
        ShapeError,
        "<inline>:1:11: reshape at 1: cannot reshape 8x32x32 (8192 values) into 7x7 (49 values)",
        None,
    ),
    Row(
        "reshape-bad-target",
        "reshape(-1, -1)",
        IN,
        ShapeError,
        "<inline>:1:1: reshape at 0: bad reshape target (-1, -1)",
        "at most one may be -1",
    ),
    Row(
        "reshape-does-not-divide",
        "reshape(5, -1)",
        IN,
        ShapeError,
        "<inline>:1:1: reshape at 0: cannot reshape 3x32x32 (3072 values) to (5, -1)",
        None,
    ),
    Row(
        "permute-not-an-order",
        "permute(0, 0, 1)",
        IN,
        ShapeError,
        "<inline>:1:1: permute at 0: permute(0, 0, 1) is not an order of the 3 dimensions of 3x32x32",
        "list each",
    ),
    Row(
        "softmax-dim-out-of-range",
        "softmax(dim=4)",
        IN,
        ShapeError,
        "<inline>:1:1: softmax at 0: dim=4 is not a dimension of the batched 3x32x32 input",
        "dims run from 0 (the batch) to 3; 1 is the channels",
    ),
    Row(
        "lrn-on-a-vector",
        "fc-10 - lrn",
        IN,
        ShapeError,
        "<inline>:1:9: lrn at 1: needs a CxHxW feature map, got a flat vector of 10 values",
        "put it before any fc",
    ),
    Row(
        "bn-on-4d",
        "reshape(3, 2, 4, 128) - bn",
        IN,
        ShapeError,
        "<inline>:1:25: bn at 1: normalises a vector, a CxL sequence or a CxHxW map, got 3x2x4x128",
        "reshape to CxHxW first",
    ),
    Row(
        "projection-of-a-vector",
        "flatten - residual { fc-10 }",
        IN,
        ShapeError,
        "<inline>:1:11: projection at 1.downsample: cannot project 3072 onto 10",
        "residual bodies keep CxHxW maps",
    ),
    Row(
        "pad-channels-down",
        "conv3-8 - pad_channels(4)",
        IN,
        ShapeError,
        "<inline>:1:11: pad_channels at 1: cannot pad 8 channels down to 4",
        "pad_channels only adds channels",
    ),
    Row(
        "crop-offset-outside",
        "a: maxpool\n@input - crop(@a, offset=20)",
        IN,
        ShapeError,
        "<inline>:2:10: crop at 1: a 16x16 crop at offset (20, 20) does not fit in 32x32",
        "offsets run from 0",
    ),
    Row(
        "unpool-wrong-size",
        "p: maxpool(indices=true)\nunpool(@p) - unpool(@p)",
        IN,
        ShapeError,
        "<inline>:2:14: unpool at 2: unpool(@p) needs a map of the pool's output shape 3x16x16, got 3x32x32",
        "unpool mirrors its pool",
    ),
    Row(
        "unpool-not-a-pool",
        "p: relu\nunpool(@p)",
        IN,
        ArgumentError,
        "<inline>:2:8: unpool(@p) needs a max-pool that keeps its indices, not a relu",
        "write the pool as maxpool(indices=true)",
    ),
    Row(
        "upconv-output-padding",
        "upconv(4, k=2, s=2, output_padding=2)",
        IN,
        ShapeError,
        "<inline>:1:1: upconv at 0: output_padding must be smaller than the stride or the dilation",
        None,
    ),
    Row(
        "upconv-too-much-padding",
        "upconv(4, k=2, s=1, p=3)",
        {"input": "3x2x2"},
        ShapeError,
        "<inline>:1:1: upconv at 0: output would be -3x-3",
        "needs an input of at least 6x6 (it is given 2x2)",
    ),
    # --------------------------------------------------------------- network
    Row(
        "missing-input",
        "conv3-8 - relu",
        {},
        ArchError,
        "<inline>:1:1: network 'main' has no input shape",
        "declare one (`input 3x224x224`) or pass --input",
    ),
    Row(
        "input-twice",
        "input 3x32x32\ninput 3x32x32\nconv3-8",
        {},
        ArchError,
        "<inline>:2:1: the network declares its input twice",
        "a network's further inputs have names: input boxes (R, 4)",
    ),
    Row(
        "input-zero",
        "input 0x32x32\nconv3-8",
        {},
        ShapeError,
        "<inline>:1:1: input sizes must be positive integers, got (0, 32, 32)",
        None,
    ),
    Row(
        "chain-leads-nowhere",
        "c1: conv3-8\n@c1 - relu - x: maxpool\n@c1 - conv1-4\noutput x",
        IN,
        ArchError,
        "<inline>:3:7: the chain ending at '3' leads nowhere",
        "list it in `output`, or remove it",
    ),
    Row(
        "label-names-one-element",
        "trunk: [conv3-8 - maxpool]x2\nscores: gap - fc-10\n@trunk - box: conv1-4\noutput scores, box",
        IN,
        ArchError,
        "<inline>:2:15: the chain ending at '2' leads nowhere",
        "output 'scores' is only the gap it labels: a label names one element",
    ),
    Row(
        "output-inside-group",
        "g { conv3-8\n  output x }",
        IN,
        ArchError,
        "<inline>:2:3: 'output' belongs at the top level of a network",
        "list the outputs by label",
    ),
    Row(
        "outputs-twice",
        "a: conv3-8 - b: relu\noutput a\noutput b",
        IN,
        ArchError,
        "<inline>:3:1: the network lists its outputs twice",
        "list them all in one line",
    ),
    Row(
        "network-twice",
        "network n {\n  input 3x8x8\n  conv3-8\n}\nnetwork n {\n  input 3x8x8\n  conv3-4\n}",
        {},
        ArchError,
        "<inline>:5:1: network 'n' is defined twice",
        "give each network its own name",
    ),
    Row(
        "import-twice",
        "import vgg16\nimport vgg16\nconv3-8",
        IN,
        ArchError,
        "<inline>:2:1: 'vgg16' is imported twice",
        "import ... as x",
    ),
    Row("input-only", "input 3x8x8", {}, ArchError, "<inline>:1:1: network 'main' has no layers", None),
    Row(
        "input-in-a-block",
        "block b() { input 3x8x8 }\ninput 3x8x8\nb",
        {},
        ArchError,
        "<inline>:1:13: 'input' belongs at the start of a network",
        "takes its input from the chain",
    ),
    Row(
        "output-listed-twice",
        "a: conv3-8\noutput a, a",
        IN,
        ArchError,
        "<inline>:2:11: output 'a' is listed twice",
        None,
    ),
    Row(
        "override-of-another-network",
        "network a {\n  input 3x8x8\n  w = 1\n  relu\n}\nnetwork b {\n  input 3x8x8\n  relu\n}",
        {"network": "b", "w": 2},
        UnknownNameError,
        "<inline>:6:1: unknown variable 'w'",
        "network 'b' does not define 'w' (another network of the file does)",
    ),
    Row("no-network", "width = 3", {}, ArchError, "<inline>:1:1: the spec defines no network", "write a chain like"),
    # conditions, loops and quoted labels
    Row(
        "if-word-condition",
        'mode = "bn"\ninput 3x8x8\nconv3-8 - if mode { bn }',
        {},
        ArgumentError,
        "<inline>:3:14: a condition needs a number or true/false, got 'bn'",
        'if mode == "bn"',
    ),
    Row(
        "compare-word-number",
        'mode = "bn"\ninput 3x8x8\nif mode > 2 { bn }',
        {},
        ArgumentError,
        "<inline>:3:4: '>' compares numbers, got 'bn' and 2",
        None,
    ),
    Row(
        "for-over-number",
        "input 3x8x8\nfor c in 3 { conv3-{c} }",
        {},
        ArgumentError,
        "<inline>:2:10: for runs over a tuple or a range, not 3",
        "for i in range(1, n + 1)",
    ),
    Row(
        "for-unpack",
        "input 3x8x8\nfor c, n in (8, 16) { conv3-{c} }",
        {},
        ArgumentError,
        "<inline>:2:13: for c, n needs items of 2 values, got 8",
        "((64, 2), (128, 3))",
    ),
    Row(
        "index-out-of-range",
        "cfg = (8, 16)\ninput 3x8x8\nconv3-{cfg[2]}",
        {},
        ArgumentError,
        "<inline>:3:12: index 2 is out of range for 2 items",
        "indices run from 0 to 1",
    ),
    Row(
        "unknown-function",
        "input 3x8x8\nfor i in rnage(3) { conv3-8 }",
        {},
        UnknownNameError,
        "<inline>:2:10: unknown function 'rnage'",
        "did you mean 'range'?",
    ),
    Row(
        "range-too-long",
        "input 3x8x8\nfor i in range(1000000) { relu }",
        {},
        LimitError,
        "<inline>:2:10: range of 1,000,000 items is longer than 100,000",
        "lower the count",
    ),
    Row(
        "range-step-zero",
        "input 3x8x8\nfor i in range(0, 4, 0) { relu }",
        {},
        ArgumentError,
        "<inline>:2:10: range's step cannot be 0",
        None,
    ),
    Row(
        "labelled-if",
        "input 3x8x8\na: if 1 { conv3-8 }",
        {},
        ArchError,
        "<inline>:2:4: an if cannot be labelled: its body runs in place",
        "wrap it in a group: a { ... }",
    ),
    Row(
        "label-template-not-a-name",
        'input 3x8x8\nfor i in range(2) { "conv {i}": conv3-8 }',
        {},
        ArgumentError,
        '<inline>:2:21: label "conv 0" is not a name',
        '"denselayer{i}" with i = 1 gives denselayer1',
    ),
    Row(
        "label-template-twice",
        'input 3x8x8\nfor i in range(2) { "conv{1}": conv3-8 }',
        {},
        ArchError,
        "<inline>:2:32: the name 'conv1' is used twice",
        "unique within their group",
    ),
    Row(
        "label-part-not-a-word",
        'input 3x8x8\n"conv{1.5}": conv3-8',
        {},
        ArgumentError,
        "<inline>:2:7: a label part must be an integer or a word, got 1.5",
        None,
    ),
    Row(
        "labelled-for",
        "input 3x8x8\na: for i in (1, 2) { relu }",
        {},
        ArchError,
        "<inline>:2:4: a for cannot be labelled: its body runs in place",
        "wrap it in a group",
    ),
    # ------------------------------------------------------------------ files and imports
    Row(
        "import-outside-folder",
        "main.arch",
        {},
        ArchError,
        "main.arch:1:1: cannot import '../lib.arch': a path outside the folder of main.arch",
        "imports are confined to the spec's folder and the spec library",
        files={"main.arch": 'import "../lib.arch"\ninput 3x8x8\nlib.stem(8)\n'},
    ),
    Row(
        "import-absolute-path",
        'import "/etc/lib.arch"\ninput 3x8x8\nrelu',
        {},
        ArchError,
        "<inline>:1:1: cannot import '/etc/lib.arch': an absolute path",
        "allow_imports_outside=True",
    ),
    Row(
        "import-nul",
        "nul.arch",
        {},
        ArchError,
        "nul.arch:1:1: cannot import 'a\\x00b.arch': a path holds no NUL character",
        None,
        files={"nul.arch": 'import "a\0b.arch"\ninput 3x8x8\nrelu\n'},
    ),
    Row(
        "import-name-too-long",
        f'import "{"a" * 5000}.arch"\ninput 3x8x8\nrelu',
        {},
        ArchError,
        f"<inline>:1:1: cannot import '{'a' * 40}...{'a' * 32}.arch': File name too long",
        None,
    ),
    Row(
        "import-not-a-file",
        'import "."\ninput 3x8x8\nrelu',
        {},
        ArchError,
        "<inline>:1:1: cannot import '.': not a regular file",
        "a quoted import path is relative",
    ),
    Row(
        "import-cycle",
        "a.arch",
        {},
        ArchError,
        "b.arch:1:1: import cycle: a.arch -> b.arch -> a.arch",
        "specs may not import each other in a circle",
        files={
            "a.arch": 'import "b.arch"\ninput 3x8x8\nconv3-4\n',
            "b.arch": 'import "a.arch"\ninput 3x8x8\nconv3-4\n',
        },
    ),
    Row(
        "imports-too-deep",
        "a0.arch",
        {},
        LimitError,
        "a64.arch:1:1: imports nest deeper than 64",
        None,
        files={
            **{f"a{i}.arch": f'import "a{i + 1}.arch"\ninput 3x8x8\nrelu\n' for i in range(66)},
            "a66.arch": "input 3x8x8\nrelu\n",
        },
    ),
    Row(
        "error-in-imported-file",
        "main.arch",
        {},
        UnknownNameError,
        "lib.arch:3:22: unknown op or block 'maxpol'",
        "did you mean 'maxpool'?",
        files={
            "lib.arch": "# a broken trunk\nblock stem(c) {\n  conv3-{c} - relu - maxpol\n}\n",
            "main.arch": 'import "lib.arch"\ninput 3x32x32\nlib.stem(8)\n',
        },
    ),
    Row(
        "file-not-utf8",
        "net.arch",
        {},
        ArchError,
        "net.arch:2:8: net.arch is not UTF-8 text (byte 0xff)",
        "save the spec as UTF-8",
        files={"net.arch": b"input 3x8x8\nrelu - \xff conv3-8\n"},
    ),
    Row(
        "file-too-large",
        "big.arch",
        {},
        LimitError,
        "big.arch is larger than 100,000 bytes",
        "split it into files joined with `import`",
        files={"big.arch": "input 3x8x8\nrelu\n" + "#" * 100_000},
    ),
    Row(
        "imported-file-too-large",
        "main.arch",
        {},
        LimitError,
        "main.arch:1:1: big.arch is larger than 100,000 bytes",
        "split it into files",
        files={
            "big.arch": "input 3x8x8\nrelu\n" + "#" * 100_000,
            "main.arch": 'import "big.arch"\ninput 3x8x8\nbig()\n',
        },
    ),
    Row(
        "imports-too-costly",
        "main.arch",
        {},
        LimitError,
        "main.arch:6:1: the imports would take more than 500,000 steps to load: 495,209 so far, and b5.arch adds 99,018",
        "each character read is a step; import fewer or smaller files",
        files={
            **{f"b{i}.arch": "input 3x8x8\nrelu\n" + "#" * 99_000 + "\n" for i in range(6)},
            "main.arch": "".join(f'import "b{i}.arch"\n' for i in range(6)) + "input 3x8x8\nrelu\n",
        },
    ),
    # --------------------------------------------------------- loading (no place in a spec)
    Row("unknown-spec-name", "vgg1", {}, UnknownNameError, "unknown spec 'vgg1'", "did you mean 'vgg19'?"),
    Row("no-such-spec-file", "no_such_net.arch", {}, ArchError, "no such spec file: no_such_net.arch", None),
    Row(
        "bad-input-option",
        "conv3-8",
        {"input": "3xax32"},
        ArchError,
        "bad input shape '3xax32'",
        "write it as CxHxW, e.g. 3x224x224",
    ),
    Row(
        "unknown-variable-option",
        "width = 8\ninput 3x8x8\nconv3-{width}",
        {"widht": 4},
        UnknownNameError,
        "unknown variable 'widht'",
        "did you mean 'width'?",
    ),
    Row(
        "unknown-network-option",
        "network small {\n  input 3x8x8\n  conv3-4\n}",
        {"network": "smal"},
        UnknownNameError,
        "unknown network 'smal'",
        "did you mean 'small'?",
    ),
    Row(
        "variable-option-without-variables",
        "input 3x8x8\nconv3-8",
        {"depth": 4},
        UnknownNameError,
        "unknown variable 'depth'",
        "the spec's variables are classes, filters, hidden",
    ),
    # ----------------------------------------------------- compiling (labels become module names)
    Row(
        "label-python-keyword",
        "input 3x8x8\nclass: conv3-4 - relu",
        {},
        ArchError,
        "<inline>:2:8: the label 'class' cannot name a module: it is a Python keyword",
        "rename it, e.g. 'class_'",
        compile=True,
    ),
    Row(
        "label-module-attribute",
        "input 3x8x8\nforward: conv3-4 - relu",
        {},
        ArchError,
        "<inline>:2:10: the label 'forward' cannot name a module: it is the name of a torch module's own attribute",
        "rename it",
        compile=True,
    ),
    Row(
        "label-self",
        "input 3x8x8\nself: conv3-4 - relu",
        {},
        ArchError,
        "<inline>:2:7: the label 'self' cannot name a module: the generated forward calls the network itself 'self'",
        "rename it",
        compile=True,
    ),
    Row(
        "label-python-reads-as-another",
        'input 3x8x8\n"ℌ": conv3-4 - relu',
        {},
        ArchError,
        "<inline>:2:6: the label 'ℌ' cannot name a module: Python reads it as 'H'",
        "rename it",
        compile=True,
    ),
    Row(
        "label-name-mangled",
        "input 3x8x8\n__x: conv3-4 - relu",
        {},
        ArchError,
        "<inline>:2:6: the label '__x' cannot name a module: Python renames a '__name' written inside a class "
        "(name mangling)",
        "rename it",
        compile=True,
    ),
    # ------------------------------------------------------- several inputs
    Row(
        "input-named-x",
        "input 3x16x16\ninput x (4, 4)\nm: conv3-8\n@m - roi_pool(@x, 2)",
        {},
        ArchError,
        "<inline>:2:1: an input cannot be named 'x'",
        "not a Python keyword, 'self', 'x' or another input's name",
    ),
    Row(
        "input-hides-a-global",
        "input image 3x16x16\ninput torch (4, 4)\nm: conv3-8\n@m - roi_pool(@torch, 2) - fc-3",
        {},
        ArchError,
        "<inline>:2:1: an input cannot be named 'torch': the compiled forward reads 'torch' as Python's, and an "
        "argument of that name would hide it",
        "rename it, e.g. 'torch_' or 'boxes'",
    ),
    Row(
        "input-named-twice",
        "input image 3x16x16\ninput image (4, 4)\nconv3-8",
        {},
        ArchError,
        "<inline>:2:1: an input cannot be named 'image'",
        "another input's name",
    ),
    Row(
        "further-input-inlined",
        "main.arch",
        {},
        ArchError,
        "two.arch:4:5: network 'two' takes a further input, 'boxes': it cannot stand inside another network, whose "
        "chain gives it one input only",
        "write its layers into this network",
        files={
            "two.arch": "# two\nnetwork two {\n    input image 3x16x16\n    input boxes (4, 4)\n"
            "    conv3-8 - roi_pool(@boxes, 2)\n}\n",
            "main.arch": 'import "two.arch"\ninput 3x16x16\ntwo()\n',
        },
    ),
    Row(
        "roi-scale-known",
        "input image 3x16x16\ninput boxes (4, 4)\nconv3-8/2 - roi_pool(@boxes, 2, scale=0.5)",
        {},
        ShapeError,
        "<inline>:3:13: roi_pool at 1: scale=0.5 is given, but the map's stride is known: 2, so its scale is 1/2",
        "leave scale out",
    ),
    # ------------------------------------------------------- two-stage detection: regions
    Row(
        "region-meets-image",
        _RPN + "@m - p: roi_pool(@r, 2)\n@m - adaptive_avgpool(2) - add {\n @p\n identity\n}",
        IN16,
        ShapeError,
        "<inline>:5:28: add at 6: it mixes per-image inputs with per-region ones (per image and 5 regions per image)",
        "regions meet the image's feature map only in roi_pool / roi_align",
    ),
    Row(
        "roi-not-boxes",
        _RPN + "@m - x: roi_pool(@o, 2)\noutput r, x",
        IN16,
        ShapeError,
        "<inline>:4:9: roi_pool at x: roi_pool(@o) needs boxes, got 9x8x8",
        "boxes come from an `input boxes (R, 4)` line",
    ),
    Row(
        "roi-of-regions",
        _RPN + "@m - p: roi_pool(@r, 2) - roi_pool(@r, 2)",
        IN16,
        ShapeError,
        "<inline>:4:27: roi_pool at 5: it pools an image's feature map, not per-region rows (5 per image)",
        "give it the backbone's map",
    ),
    Row(
        "roi-uneven-stride",
        _RPN + "@input - conv(8, k=3, s=(2, 1)) - roi_pool(@r, 2)",
        IN16,
        ShapeError,
        "<inline>:4:35: roi_pool at 5: the feature map's stride is 2 down but 1 across: one spatial scale cannot "
        "map the boxes onto it",
        "pool a map whose stride is the same along both axes",
    ),
    Row(
        "proposals-no-anchors",
        "m: conv3-8/2 - o: conv1-9\n@m - d: conv1-36\n@o - proposals(@d, sizes=())",
        IN16,
        ArgumentError,
        "<inline>:3:6: proposals: anchor sizes and ratios must be positive, at least one of each",
        "its arguments are: deltas, image, sizes",
    ),
    Row(
        "proposals-objectness",
        "m: conv3-8/2 - o: conv1-9\n@m - d: conv1-36\n@m - p: proposals(@d)\noutput o, p",
        IN16,
        ShapeError,
        "<inline>:3:9: proposals at p: needs objectness logits of 9 x H x W (3 sizes x 3 ratios), got 8x8x8",
        "feed it the RPN's cls_logits",
    ),
    Row(
        "proposals-deltas",
        "m: conv3-8/2 - o: conv1-9\n@m - d: conv1-36\n@o - p: proposals(@o)\noutput d, p",
        IN16,
        ShapeError,
        "<inline>:3:9: proposals at p: needs box deltas of 36x8x8 beside its 9x8x8 objectness, got 9x8x8 from @o",
        "four per anchor",
    ),
    Row(
        "proposals-of-regions",
        _RPN + "@o - p: roi_pool(@r, 2)\n@d - dd: adaptive_avgpool(2)\n@p - proposals(@dd, sizes=(4, 8, 16))",
        IN16,
        ShapeError,
        "<inline>:6:6: proposals at 6: it proposes regions from an image's maps, not from per-region rows",
        "which come before any roi_pool",
    ),
]

IDS = [r.id for r in ROWS]


class Outcome:
    """What loading a row gave: the error, and its rendering with the scratch folder's path removed."""

    def __init__(self, err: ArchError, text: str):
        self.err, self.text = err, text
        self.first = text.splitlines()[0]


_OUTCOMES: dict[str, Outcome] = {}


def outcome(row: Row) -> Outcome:
    """Load the row's spec (in a fresh folder holding its files, if it has any) and catch its error;
    each row is loaded once per session."""
    if row.id in _OUTCOMES:
        return _OUTCOMES[row.id]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, content in (row.files or {}).items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        cwd = os.getcwd()
        os.chdir(folder if row.files else cwd)
        try:
            with pytest.raises(ArchError) as info:
                net = archdsl.load(row.text, **row.kwargs)
                net.analyze()
                if row.compile:
                    net.compile(device="meta")
        finally:
            os.chdir(cwd)
        text = str(info.value)
        for prefix in {str(folder.resolve()), str(folder)}:
            text = text.replace(prefix + os.sep, "")
    _OUTCOMES[row.id] = Outcome(info.value, text)
    return _OUTCOMES[row.id]


def load_error(row: Row) -> ArchError:
    return outcome(row).err


def test_table_is_big_and_unique():
    assert len(ROWS) >= 150
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_error_row(row: Row):
    """The error's class and its exact first line (a syntax error's list of what the grammar expected
    may follow the row's message), and the hint."""
    out = outcome(row)
    assert type(out.err) is row.error, f"{type(out.err).__name__}: {out.text}"
    if row.error is SpecSyntaxError:  # exact up to "; expected ...", which the row may list in part
        assert out.first.startswith(row.message), out.text
        assert out.first.split("; expected ")[0] == row.message.split("; expected ")[0], out.text
    else:
        assert out.first == row.message, out.text
    if row.hint is None:
        return
    assert out.err.hint is not None and row.hint in out.err.hint, out.text
    assert out.text.splitlines()[-1] == f"hint: {out.err.hint}"


def _source_line(row: Row, file: str, line: int) -> str:
    if row.files is None or file == "<inline>":
        return row.text.splitlines()[line - 1].rstrip()
    content = row.files[Path(file).name]
    content = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    return content.splitlines()[line - 1].rstrip()


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_error_renders_line_and_caret(row: Row):
    """file:line:col, then the source line, then a caret under the column; an error about no place in a
    spec (an option, a file as a whole) is one line and its hint."""
    out = outcome(row)
    err = out.err
    if err.span is None:
        assert not re.match(r"\S+:\d+:\d+: ", out.first), out.text
        assert len(out.text.splitlines()) == 1 + (err.hint is not None)
        return
    m = re.match(r"(.+?):(\d+):(\d+): ", out.first)
    assert m, out.text
    line, col = int(m.group(2)), int(m.group(3))
    assert (err.span.line, err.span.column) == (line, col)
    rendered = out.text.splitlines()
    source_line = _source_line(row, m.group(1), line)
    shown, caret = rendered[1], rendered[2]
    assert shown.startswith("    ") and caret.startswith("    ")
    assert set(caret.strip()) == {"^"}
    if len(source_line) <= 100:
        assert shown == "    " + source_line.replace("\ufffd", "\ufffd")
        assert caret.index("^") == 4 + col - 1
    else:  # long lines are shown as a window around the spot
        assert "..." in shown
        assert shown[caret.index("^") :].startswith(source_line[col - 1 : col + 2])


# ----------------------------------------------------- every message of the code has a row
SPEC_MODULES = ["lang/*", "ir/infer", "pipeline", "backend/compile", "ops/*"]
ERROR_CLASSES = {
    "ArchError",
    "SpecSyntaxError",
    "UnknownNameError",
    "ArgumentError",
    "ShapeError",
    "LimitError",
    "OpProblem",
    "BranchMismatch",
    "ValueError",
}
# messages no spec can reach, each with the reason; a message here that a row does show is an error too
UNREACHABLE = {
    "nothing flows into this chain": "a chain without input needs a body without one: only a network's, which has"
    " its input handler",
    "the spec nests too deeply to expand": "a backstop for RecursionError; MAX_NESTING and the parser's limits come"
    " first",
    "number too large": "every operand is already checked against MAX_INT",
    "got .*? inputs": "elaborate gives every op the inputs it takes",
    "has .*? parameters and buffers, more than the limit of": "Net.compile's max_params: tests/test_guards.py",
    "needs about .*?, more than the limit of": "Net.check_memory (sanity, export): tests/test_guards.py",
    "reinit and skip_mismatched choose what to load": "weights loading, not a spec (tests/test_weights.py)",
    "convert_weights belongs to a network made by": "Net.convert_weights, not a spec (tests/test_transform.py)",
    "takes a number of at most 2^53, got": "a value set from Python, load(spec, n=inf): the CLI's --set refuses "
    "it first (tests/test_hostile_frontend.py)",
    "takes a number, text, true/false/none or a tuple of those": "a value set from Python, load(spec, n=object()):"
    " tests/test_hostile_frontend.py",
    "holds more than .*? values": "a value set from Python: tests/test_hostile_frontend.py",
    "values, more than torch can build": "Net.compile (every device) and Net.source: tests/test_guards.py",
    "this machine has free": "Net.compile on the CPU: tests/test_guards.py",
    "works on vectors here, and has no convolutional form": "Net.fully_convolutional (archdsl convert), not a "
    "spec: tests/test_transform.py",
    "its input is a vector that no convolution made": "Net.fully_convolutional: tests/test_transform.py",
    "it works on a vector here (flatten=false)": "Net.fully_convolutional: tests/test_transform.py",
    "only an adaptive pool that does nothing at the training size can go": "Net.fully_convolutional: "
    "tests/test_transform.py",
    "cannot read .*?: ": "an OSError reading a spec file (a folder, a file without permission)",
    "a top-1 line reads": "a network's published top-1 is read by archdsl plot, not by load: tests/test_plot.py",
    "a second top-1 line for one network": "read by archdsl plot, not by load: tests/test_plot.py",
}


@functools.lru_cache(maxsize=1)
def _templates() -> list[tuple[str, int, str]]:
    """(file, line, regex) for every error message written in the modules that read specs."""
    root = Path(archdsl.__file__).resolve().parent
    files = [p for m in SPEC_MODULES for p in sorted(root.glob(m + ".py"))]
    found = []
    for path in files:
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        for node in pyast.walk(tree):
            if not (
                isinstance(node, pyast.Call)
                and isinstance(node.func, pyast.Name)
                and node.func.id in ERROR_CLASSES
                and node.args
            ):
                continue
            if node.func.id == "UnknownNameError":
                kind = _pattern(node.args[0])
                where = next((_pattern(k.value) for k in node.keywords if k.arg == "where"), "")
                regex = f"unknown {kind} '.*?'{where}" if kind else None
            else:
                regex = _pattern(node.args[0])
            if regex and len(regex.replace(".*?", "")) >= 8:
                found.append((path.relative_to(root).as_posix(), node.lineno, regex))
    return found


def _pattern(node) -> str | None:
    """A message expression → a regex: its literal text, with .+? for each {...}."""
    if isinstance(node, pyast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, pyast.JoinedStr):
        return "".join(re.escape(v.value) if isinstance(v, pyast.Constant) else ".*?" for v in node.values)
    if isinstance(node, pyast.BinOp) and isinstance(node.op, pyast.Add):
        return _pattern(node.left)
    if isinstance(node, pyast.IfExp):
        return None
    return None


def test_every_error_message_has_a_row():
    """Each message the spec-reading modules can raise appears in the table, so docs/errors.md
    shows every error with an example; the few no spec can reach are listed with the reason."""
    messages = [outcome(row).first for row in ROWS]
    missing = []
    for file, line, regex in _templates():
        if any(re.search(regex, m) for m in messages):
            continue
        if any(key in regex.replace("\\", "") for key in UNREACHABLE):
            continue
        missing.append(f"{file}:{line}: {regex}")
    assert not missing, "messages without a row in ROWS:\n" + "\n".join(missing)


def test_unreachable_list_is_not_stale():
    """Each UNREACHABLE entry names a message of the code, and no row shows that message."""
    messages = [outcome(row).first for row in ROWS]
    for key in UNREACHABLE:
        regexes = [regex for _, _, regex in _templates() if key in regex.replace("\\", "")]
        assert regexes, f"UNREACHABLE names no message any more: {key}"
        assert not any(re.search(r, m) for r in regexes for m in messages), f"a row shows '{key}': not unreachable"


# --------------------------------------------------------------------- more checks
@pytest.mark.timeout(60)  # a hang guard, not a timing
def test_huge_repeat_is_answered_at_once():
    with pytest.raises(LimitError):
        archdsl.load("[conv3-8]x1000000000", input="3x32x32")
    with pytest.raises(LimitError):
        archdsl.load("[[[conv3-8]x100000]x100000]x100000", input="3x32x32")


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5000,
        "{" * 5000,
        "conv3-{" + "(" * 5000,
        "conv3-{" + "-" * 5000 + "1}",
        "a = " + "*".join(["1"] * 5000),
        "relu-" * 110000 + "relu",
    ],
)
def test_deep_or_long_input_is_an_arch_error(text):
    """No RecursionError, MemoryError or hang: deep nesting and huge inputs are ArchErrors."""
    with pytest.raises(ArchError):
        archdsl.load(text, input="3x32x32").analyze()


def test_fifty_brackets_still_work():
    net = archdsl.load("[" * 50 + "conv3-4 - relu" + "]" * 50, input="3x8x8")
    assert net.analyze().outputs == {"output": (4, 8, 8)}


def test_syntax_error_in_file_names_the_file(tmp_path: Path):
    spec = tmp_path / "bad.arch"
    spec.write_text("input 3x32x32\n\nconv3-8 - [relu\n")
    with pytest.raises(SpecSyntaxError) as info:
        archdsl.load(str(spec))
    assert str(info.value).startswith(f"{spec}:3:11: '[' is never closed")


def test_error_is_an_exception_with_parts():
    err = load_error(ROWS[0])
    assert isinstance(err, Exception)
    assert err.message == "unknown op 'maxpol'"
    assert (err.span.file, err.span.line, err.span.column) == ("<inline>", 1, 19)
    assert err.guess == "maxpool"


@pytest.mark.parametrize(
    "kind,row_id",
    [
        ("op", "op-typo"),
        ("block", "block-typo"),
        ("variable", "variable-typo"),
        ("label", "label-typo"),
        ("library spec", "library-typo"),
        ("block argument", "block-unknown-keyword"),
        ("op argument", "unknown-keyword"),
        ("function", "unknown-function"),
        ("network", "unknown-network-option"),
        ("spec name", "unknown-spec-name"),
        ("imported block", "import-block-typo"),
        ("imported network's variable", "import-override-typo"),
    ],
)
def test_did_you_mean(kind, row_id):
    """Every kind of name a spec uses gets a did-you-mean for a near miss."""
    err = load_error(next(r for r in ROWS if r.id == row_id))
    assert err.hint and err.hint.startswith("did you mean '"), (kind, str(err))


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


@pytest.mark.parametrize(
    "row",
    [
        r
        for r in ROWS
        if r.id
        in (
            "stray-close-paren",
            "concat-mismatch",
            "block-recursion",
            "brackets-5000-deep",
            "missing-input",
            "repeat-huge",
            "loop-nested-huge",
            "softmax-dim-out-of-range",
            "import-absolute-path",
            "unknown-spec-name",
        )
    ],
    ids=str,
)
def test_cli_exit_code_for_rows(row: Row, capsys):
    from archdsl.cli import main

    argv = ["check", row.text] + (["--input", row.kwargs["input"]] if "input" in row.kwargs else [])
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert f"error: {row.message}" in err


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


# ------------------------------------------------------------- docs/errors.md
def catalogue() -> str:
    """docs/errors.md: every row's input and the exact error it gives, as the CLI prints it."""
    out = [
        "# Error catalogue",
        "",
        "Every mistake in a spec is reported as an `ArchError` naming the file, line and column,",
        "showing the line with a caret under the spot and, mostly, a hint. From the command line,",
        "`archdsl check` (and `report`, `compile`) prints it after `error:` on stderr, without a",
        "Python traceback, and exits with status 1; from Python, `archdsl.load(...)` raises it.",
        "",
        "This page is generated from the error table in `tests/test_errors.py`, which checks every",
        "message below (`.venv/bin/python tests/test_errors.py > docs/errors.md`) and that every",
        "message archdsl's spec-reading code can raise has an example here. Inline specs are named",
        "`<inline>`; a spec file is named by its path.",
        "",
        "| class (`archdsl.errors`) | raised for |",
        "|---|---|",
    ]
    for cls in (SpecSyntaxError, UnknownNameError, ArgumentError, ShapeError, LimitError):
        out.append(f"| `{cls.__name__}` | {cls.__doc__.strip().splitlines()[0].replace('``', '`')} |")
    out += [
        "| `ArchError` | the base class; used itself for a name used twice, a missing input, a chain "
        "that leads nowhere, an import cycle |",
        "",
    ]
    section = None
    for row in ROWS:
        o = outcome(row)
        heading = _SECTIONS.get(row.id)
        if heading and heading != section:
            out += [f"## {heading}", ""]
            section = heading
            if heading in _INTROS:
                out += [_INTROS[heading], ""]
        opts = "".join(f" --{k} {v}" if k in ("input", "network") else f" --set {k}={v}" for k, v in row.kwargs.items())
        spec = _SHOWN.get(row.id, row.text if row.files else f"'{row.text}'")
        files = []
        if row.id in _FILES_SHOWN:
            files = [f"$ {_FILES_SHOWN[row.id]}"]
        elif row.files:
            for name, content in row.files.items():
                shown = content.decode("utf-8", "backslashreplace") if isinstance(content, bytes) else content
                files += [f"$ cat {name}", shown.rstrip("\n")]
        command = f"compile{opts} {spec} -o net.py" if row.compile else f"check{opts} {spec}"
        out += [
            f"**{row.id}** (`{type(o.err).__name__}`)",
            "",
            "```text",
            *files,
            f"$ archdsl {command}",
            f"error: {printable(o.text)}",
            "```",
            "",
        ]
    return "\n".join(out).rstrip("\n")


# rows too long to print: how to type them instead
_SHOWN = {
    "import-name-too-long": '"$(python -c \'print("import \\"" + "a" * 5000 + ".arch\\"\\ninput 3x8x8\\nrelu")\')"',
    "brackets-5000-deep": '"$(python -c \'print("[" * 5000 + "relu" + "]" * 5000)\')"',
    "expression-too-long": '"conv3-{$(python -c \'print("+".join(["1"] * 3000))\')}"',
    "spec-too-large": '"$(python -c \'print("input 3x8x8\\nrelu\\n" + "#" * 100000)\')"',
    "nesting-too-deep": '"$(python -c \'print("block b0() { relu }\\n" + "\\n".join(f"block b{i}() '
    '{{ [[[[b{i - 1}]]]] }}" for i in range(1, 30)) + "\\ninput 3x8x8\\nb29")\')"',
}
_FILES_SHOWN = {
    "import-nul": "printf 'import \"a\\0b.arch\"\\ninput 3x8x8\\nrelu\\n' > nul.arch",
    "imports-too-deep": "for i in $(seq 0 65); do printf 'import \"a%d.arch\"\\ninput 3x8x8\\nrelu\\n' $((i+1)) > a$i.arch;"
    " done; printf 'input 3x8x8\\nrelu\\n' > a66.arch",
    "file-too-large": 'python -c \'print("input 3x8x8\\nrelu\\n" + "#" * 100000)\' > big.arch',
    "imported-file-too-large": 'python -c \'print("input 3x8x8\\nrelu\\n" + "#" * 100000)\' > big.arch; '
    "printf 'import \"big.arch\"\\ninput 3x8x8\\nbig()\\n' > main.arch",
    "file-not-utf8": "printf 'input 3x8x8\\nrelu - \\xff conv3-8\\n' > net.arch",
    "imports-too-costly": 'for i in $(seq 0 5); do python -c \'print("input 3x8x8\\nrelu\\n" + "#" * 99000)\' > b$i.arch;'
    " printf 'import \"b%d.arch\"\\n' $i >> main.arch; done; printf 'input 3x8x8\\nrelu\\n' >> main.arch",
}
_SECTIONS = {
    "op-typo": "Names",
    "unclosed-bracket-before-count": "Syntax",
    "unknown-keyword": "Arguments",
    "block-missing-argument": "Blocks",
    "division-by-zero": "Arithmetic",
    "repeat-zero": "Repeats and limits",
    "concat-mismatch": "Shapes",
    "missing-input": "The network as a whole",
    "if-word-condition": "Conditions, loops and quoted labels",
    "import-outside-folder": "Files and imports",
    "unknown-spec-name": "Loading: options and names outside a spec",
    "label-python-keyword": "Compiling: labels that cannot name a module",
}
_INTROS = {
    "Repeats and limits": "A spec cannot make archdsl hang or run out of memory: a network is at most 100,000 nodes "
    "after expanding repeats, loops and blocks, takes at most 500,000 steps to expand (loops "
    "that build nothing count too, and so does every character of the files it reads), nests at most 100 elements deep, its expressions make at "
    "most 5,000,000 values (range(), tuples, min, max, comparing tuples; a tuple counts the elements of the "
    "tuples inside it too), and a spec is at most "
    "100,000 bytes. A repeat, loop or block call whose expansion would pass a limit is refused "
    "before it is expanded, from a lower bound of its size.",
    "Compiling: labels that cannot name a module": "A label names a module of the compiled network "
    "(`model.conv1`, `state_dict` key `conv1.weight`) and of the generated source's forward (`self.conv1`), so "
    "a label Python or torch would read as something else is refused when the network is compiled "
    "(`archdsl compile`, `Net.compile`, `Net.source`); `archdsl check` and `report` accept it.",
    "Files and imports": "A quoted import may only read files in the spec's own folder (and below) or in the spec "
    "library; `archdsl.load(..., allow_imports_outside=True)` lifts that. Spec files are read "
    "as UTF-8, at most 100,000 bytes of them. A file imported many times (by one file or by "
    "many, under any names) is read once per load.",
}


def test_errors_md_is_current():
    doc = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
    assert doc.read_text(encoding="utf-8") == catalogue() + "\n", (
        "docs/errors.md is stale: run .venv/bin/python tests/test_errors.py > docs/errors.md"
    )


if __name__ == "__main__":
    sys.stdout.write(catalogue() + "\n")
