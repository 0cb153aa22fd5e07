"""``archdsl fmt`` (archdsl/lang/fmt.py, archdsl/cli/fmt.py): the canonical layout of a spec.

- Round trip: for every library spec (``specs/**/*.arch``) and every ```arch example of docs/language.md,
  the formatted text builds the same graph as the text (every network of the file: node names, ops with
  their resolved arguments, inputs, outputs), keeps every comment, and formatting it again changes nothing.
- The library is formatted (``archdsl fmt --check specs/`` is in ``make lint``).
- Canonical: each of those texts made ugly in ways that keep its meaning (tabs for indentation, spaces in
  every glued form, more blank lines) formats back to the same text.
- The rules one by one, on small cases; the command line's ``--check``, ``--diff``, stdin and errors.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from archdsl.cli import main
from archdsl.errors import LimitError, SpecSyntaxError
from archdsl.lang import ast
from archdsl.lang.elaborate import elaborate
from archdsl.lang.files import load_file
from archdsl.lang.fmt import format_spec
from archdsl.lang.parse import parse

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").rglob("*.arch"))
DOC = ROOT / "docs" / "language.md"


def doc_examples() -> list[tuple[str, str]]:
    """(name, text) of every ```arch block of docs/language.md; a ``# file: NAME`` block keeps its name."""
    text = DOC.read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"^```arch\n(.*?)^```", text, re.S | re.M):
        named = re.match(r"# file: (\S+\.arch)\n", m.group(1))
        line = text[: m.start()].count("\n") + 2
        out.append((named.group(1) if named else f"example_line{line}.arch", m.group(1)))
    return out


EXAMPLES = doc_examples()


@pytest.fixture(scope="module")
def doc_dir(tmp_path_factory) -> Path:
    """The doc examples as files, so that the import example finds trunk.arch beside it."""
    folder = tmp_path_factory.mktemp("fmt_doc_examples")
    for name, text in EXAMPLES:
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def graphs(text: str, file: str) -> dict:
    """Every network of a spec text as plain data: per node its op, resolved arguments and inputs, and the
    graph's outputs and inputs; no source places (formatting moves them)."""
    ctx = load_file(text, file)
    names: list[str | None] = list(ctx.networks)
    if any(isinstance(s, (ast.Chain, ast.InputStmt)) for s in ctx.spec.top.stmts):
        names.insert(0, None)
    out = {}
    for name in names:
        g = elaborate(load_file(text, file), name)
        attrs = {k: v for k, v in g.graph.items() if k != "file"}
        nodes = [(n, type(d.op).__name__, repr(d.op.p), list(d.inputs)) for n, d in g.nodes.items()]
        out[name] = (attrs, nodes, g.edges)
    return out


def comments(text: str) -> list[str]:
    """Every comment's text, in order (a `#` inside a quoted string is none)."""
    found = []
    for line in text.splitlines():
        for m in re.finditer(r'"[^"\n]*"|#.*', line):
            if m.group().startswith("#"):
                found.append(m.group().rstrip())
    return found


def assert_round_trip(text: str, file: str) -> str:
    formatted = format_spec(text, file)
    assert graphs(formatted, file) == graphs(text, file)
    assert comments(formatted) == comments(text)
    assert format_spec(formatted, file) == formatted, "formatting twice changes the text"
    return formatted


# --------------------------------------------------------------------------- the library and the docs
@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT / "specs")) for p in SPECS])
def test_library_spec_round_trip(path: Path):
    text = path.read_text(encoding="utf-8")
    formatted = assert_round_trip(text, str(path))
    assert formatted == text, f"{path.name} is not formatted: run `archdsl fmt {path.relative_to(ROOT)}`"


@pytest.mark.parametrize("name,text", EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_doc_example_round_trip(name: str, text: str, doc_dir: Path):
    assert_round_trip(text, str(doc_dir / name))


def test_every_library_spec_and_doc_example_is_covered():
    assert len(SPECS) >= 30 and len(EXAMPLES) >= 25


def _outside_strings(line: str, edit) -> str:
    """``edit`` applied to the parts of a line outside quoted strings."""
    parts = re.split(r'("[^"\n]*")', line)
    return "".join(p if i % 2 else edit(p) for i, p in enumerate(parts))


def _ugly_code(code: str) -> str:
    code = re.sub(r"\b([A-Za-z_]\w*)-(\d)", r"\1 -\2", code)  # conv3-64 → conv3 -64 (still the dash form)
    code = re.sub(r"(?<![=!<>])=(?!=)", " = ", code)  # k=3 → k = 3
    code = re.sub(r"\]([x*×])", r"] \1 ", code)  # ]x2 → ] x 2
    code = code.replace(",", " ,  ").replace("(", "( ").replace(")", " )").replace("@", "@ ")
    code = code.replace("-{", "-{ ").replace(" - ", "  -   ").replace(": ", " :  ").replace("/", " / ")
    return re.sub(r"(\S)}", r"\1 }", code)


def ugly(text: str, seed: int) -> str:
    """The same spec, badly laid out: tabs for indentation, spaces in every glued form, blank lines doubled.
    Lines with a trailing comment keep their code (an aligned comment's column is the author's)."""
    rng = random.Random(seed)
    out = []
    for line in text.split("\n"):
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        lead = "\t" * (indent // 4) + " " * (indent % 4)  # a tab is 4 columns to the formatter
        if body and not body.startswith("#") and not re.search(r'^(?:[^"#]|"[^"\n]*")*#', body):
            body = _outside_strings(body, _ugly_code).lstrip(" ")  # where a line starts is the author's
        out.append(lead + body + ("" if body.endswith("\\") else " " * rng.randint(0, 2)))
        if not body and rng.random() < 0.5:
            out.append("")
    return "\n".join(out)


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT / "specs")) for p in SPECS])
def test_library_spec_laid_out_badly_formats_back(path: Path):
    text = path.read_text(encoding="utf-8")
    bad = ugly(text, 1)
    assert bad != text
    assert graphs(bad, str(path)) == graphs(text, str(path)), "the test's uglifier changed the meaning"
    assert format_spec(bad, str(path)) == format_spec(text, str(path))


@pytest.mark.parametrize("name,text", EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_doc_example_laid_out_badly_formats_back(name: str, text: str, doc_dir: Path):
    good = format_spec(text)
    bad = ugly(good, 2)
    assert graphs(bad, str(doc_dir / name)) == graphs(good, str(doc_dir / name))
    assert format_spec(bad) == good


# --------------------------------------------------------------------------- the rules
CASES = {
    "dash forms and separators": (
        "input 3 x 224 x 224\nconv3 -64/2-relu  ->  pool→fc-10 - soft-max\n",
        "input 3x224x224\nconv3-64/2 - relu -> pool → fc-10 - soft-max\n",
    ),
    "repeats and expression braces": (
        "n=2\ninput 3x32x32\n[ conv3-{ n*8 } -relu ] x {n} - [conv3-8]*2 - [conv3-8]×2 - conv3-8/{ n }\nfc-{n -1}\n",
        "n = 2\ninput 3x32x32\n[conv3-{n * 8} - relu]x{n} - [conv3-8]*2 - [conv3-8]×2 - conv3-8/{n}\nfc-{n - 1}\n",
    ),
    "the slides' compact chain": (
        "input 3x32x32\nINPUT->[[CONV->RELU]*2->POOL]*3->FC\n[CONV-POOL]x2-FC\n",
        "input 3x32x32\nINPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> FC\n[CONV - POOL]x2 - FC\n",
    ),
    "block definition and call": (
        "block b(c,k=3){\nconv(c,k=k)-relu\n}\ninput 3x8x8\nstem : b( 4 )\n",
        "block b(c, k=3) {\n    conv(c, k=k) - relu\n}\ninput 3x8x8\nstem: b(4)\n",
    ),
    "nested bodies, one branch per line": (
        "input 3x8x8\nx: [concat { conv1-4\n  add {\n identity\n conv3-4 } - relu\nidentity }]x2\n",
        "input 3x8x8\nx: [concat {\n    conv1-4\n    add {\n        identity\n        conv3-4\n    } - relu\n"
        "    identity\n}]x2\n",
    ),
    "a body on one line stays on it": (
        "input 3x8x8\nresidual{conv3-3}shortcut{identity} - if 1{bn}else{relu}\nblock e(){}\n",
        "input 3x8x8\nresidual { conv3-3 } shortcut { identity } - if 1 { bn } else { relu }\nblock e() {}\n",
    ),
    "else and shortcut after a body's closing brace": (
        "input 3x8x8\nif 1 {\n relu\n}\nelse {\n tanh\n}\nresidual {\n conv3-3\n} \\\n shortcut { identity }\n",
        "input 3x8x8\nif 1 {\n    relu\n} else {\n    tanh\n}\nresidual {\n    conv3-3\n} shortcut { identity }\n",
    ),
    "else on its own line after a one-line body stays": (
        "input 3x8x8\nif 0 { relu } else if 0 { tanh }\nelse { bn }\n",
        "input 3x8x8\nif 0 { relu } else if 0 { tanh }\nelse { bn }\n",
    ),
    "for, if, expressions": (
        "c=( 1, )\nz = - c[ 0 ] * -1+2%3\ninput 3x8x8\nfor a,b in ((1,2),(3,4)) { conv3-{a+b} }\n"
        "if c[0]>0 and not z { relu }\nx = 1 if z==2 else max( 1,2 )\n",
        "c = (1,)\nz = -c[0] * -1 + 2 % 3\ninput 3x8x8\nfor a, b in ((1, 2), (3, 4)) { conv3-{a + b} }\n"
        "if c[0] > 0 and not z { relu }\nx = 1 if z == 2 else max(1, 2)\n",
    ),
    "imports, references, quoted labels, outputs": (
        'import vgg16 as v\ninput 3x224x224\nbackbone: v(upto=@ pool5)\n"a{1}" :conv1-8 - @backbone.features .28\n'
        'output backbone  ,  a1 as b\n"g-1" { relu }\n',
        'import vgg16 as v\ninput 3x224x224\nbackbone: v(upto=@pool5)\n"a{1}": conv1-8 - @backbone.features.28\n'
        'output backbone, a1 as b\n"g-1" { relu }\n',
    ),
    "several inputs, tuple shapes": (
        "input image 3x64x64\ninput boxes ( 8,4 )\nfeatures: conv3-8\n@features - roi_pool( @boxes,4 )\n",
        "input image 3x64x64\ninput boxes (8, 4)\nfeatures: conv3-8\n@features - roi_pool(@boxes, 4)\n",
    ),
    "networks": (
        "network a {\n\n  input 3x8x8\n\n\n  relu\n\n}\nnetwork b { input 3x8x8\nrelu }\n",
        "network a {\n    input 3x8x8\n\n    relu\n}\nnetwork b {\n    input 3x8x8\n    relu\n}\n",
    ),
    "comments: every one kept, trailing ones two spaces after the code": (
        "# header\n\n\n\ninput 3x8x8   # the input\nconv3-8 -# a\n    relu\n\n\n   # end\n",
        "# header\n\ninput 3x8x8  # the input\nconv3-8 -  # a\n    relu\n\n# end\n",
    ),
    "comments: an aligned run stays aligned": (
        "a = 1        # one\nbb = 22      # two\nccc = 333    # three\ninput 3x8x8\n"
        "conv(8, k=3, s=1, p=1, d=1, groups=1) - relu  # x\nrelu    # y\nx=1    # z\nyy=22  # zz\n",
        "a = 1        # one\nbb = 22      # two\nccc = 333    # three\ninput 3x8x8\n"
        "conv(8, k=3, s=1, p=1, d=1, groups=1) - relu  # x\nrelu  # y\nx = 1    # z\nyy = 22  # zz\n",
    ),
    "comments: inside bodies, before a closing brace, after an opening one": (
        "input 3x8x8\nconcat {  # branches\n# first\n  conv1-4\n\n  conv3-4  # three\n      # last\n  identity\n"
        "   # done\n\n}\n",
        "input 3x8x8\nconcat {  # branches\n    # first\n    conv1-4\n\n    conv3-4  # three\n    # last\n    identity\n"
        "    # done\n}\n",
    ),
    "continuation lines keep their indentation under the first": (
        "input 3x8x8\n  fc(10,\n     bias=true)\nx = (\n      1,\n  2,\n)\nrelu -\nrelu\n",
        "input 3x8x8\nfc(10,\n   bias=true)\nx = (\n      1,\n  2,\n)\nrelu -\n    relu\n",
    ),
    "a brace after a parameter list broken over lines": (
        "block b(a,\n        c=1) {\n  conv3-{a} - relu\n}\ninput 3x8x8\nb(2)\n",
        "block b(a,\n        c=1) {\n    conv3-{a} - relu\n}\ninput 3x8x8\nb(2)\n",
    ),
    "backslash continuations": (
        "input 3x8x8\nconv3-8 \\\n  - relu \\\n\n  fc\n",
        "input 3x8x8\nconv3-8 \\\n  - relu\n\nfc\n",
    ),
    "Windows line endings stay": (
        "input 3x8x8\r\nconv3-8 -relu  # c\r\n",
        "input 3x8x8\r\nconv3-8 - relu  # c\r\n",
    ),
    "tabs, trailing spaces, no newline at the end": (
        "network n {\n\tinput 3x8x8   \n\trelu\t}",
        "network n {\n    input 3x8x8\n    relu\n}\n",
    ),
    "empty and comment-only files": ("\n\n", ""),
    "a comment only": ("\n  # just this  \n\n", "# just this\n"),
}


@pytest.mark.parametrize("text,expected", CASES.values(), ids=CASES.keys())
def test_rule(text: str, expected: str):
    assert format_spec(text) == expected
    assert format_spec(expected) == expected
    if "import" not in text:
        assert graphs(expected, "x.arch") == graphs(text, "x.arch")
    assert comments(expected) == comments(text)


def test_a_syntax_error_is_the_parsers():
    text = "input 3x8x8\nconv3-8 - - relu\n"
    with pytest.raises(SpecSyntaxError) as fmt_err:
        format_spec(text, "bad.arch")
    with pytest.raises(SpecSyntaxError) as parse_err:
        parse(text, "bad.arch")
    assert fmt_err.value.render() == parse_err.value.render()
    assert str(fmt_err.value.span) == "bad.arch:2:11"


def test_a_spec_past_the_size_limit_is_refused():
    with pytest.raises(LimitError):
        format_spec("relu\n" * 30_000)


# --------------------------------------------------------------------------- the command line
UGLY = "input 3x8x8\nconv3-8 -relu\n"
NEAT = "input 3x8x8\nconv3-8 - relu\n"


def test_cli_rewrites_in_place(tmp_path: Path, capsys):
    a, b = tmp_path / "a.arch", tmp_path / "b.arch"
    a.write_text(UGLY)
    b.write_text(NEAT)
    assert main(["fmt", str(a), str(b)]) == 0
    assert a.read_text() == NEAT and b.read_text() == NEAT
    err = capsys.readouterr().err
    assert f"reformatted {a}" in err and "1 file reformatted, 1 file left unchanged." in err


def test_cli_check_and_diff_write_nothing(tmp_path: Path, capsys):
    a = tmp_path / "a.arch"
    a.write_text(UGLY)
    assert main(["fmt", "--check", str(a)]) == 1
    assert f"would reformat {a}" in capsys.readouterr().err
    assert main(["fmt", "--diff", str(a)]) == 0
    out = capsys.readouterr().out
    assert f"--- {a}\n+++ {a} (formatted)\n" in out and "-conv3-8 -relu\n+conv3-8 - relu\n" in out
    assert a.read_text() == UGLY
    a.write_text(NEAT)
    assert main(["fmt", "--check", str(a)]) == 0


def test_cli_folder_is_its_arch_files(tmp_path: Path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.arch").write_text(UGLY)
    (tmp_path / "notes.txt").write_text("not a spec")
    assert main(["fmt", "--check", str(tmp_path)]) == 1
    assert "1 file would be reformatted." in capsys.readouterr().err


def test_cli_library_is_formatted(capsys):
    assert main(["fmt", "--check", str(ROOT / "specs")]) == 0
    assert f"{len(SPECS)} files would be left unchanged." in capsys.readouterr().err


def test_cli_stdin_to_stdout(monkeypatch, capsys):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(UGLY.encode())))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == NEAT
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(UGLY.encode())))
    assert main(["fmt", "--check", "-"]) == 1
    assert capsys.readouterr().out == ""


def test_cli_error_is_reported_and_the_rest_formatted(tmp_path: Path, capsys):
    bad, a = tmp_path / "bad.arch", tmp_path / "a.arch"
    bad.write_text("input 3x8x8\nconv3-8 - - relu\n")
    a.write_text(UGLY)
    assert main(["fmt", str(bad), str(a)]) == 1
    err = capsys.readouterr().err
    assert f"error: {bad}:2:11: unexpected '-'" in err and "              ^" in err
    assert a.read_text() == NEAT
    assert bad.read_text() == "input 3x8x8\nconv3-8 - - relu\n"


def test_cli_missing_file_is_a_usage_error(tmp_path: Path, capsys):
    assert main(["fmt", str(tmp_path / "none.arch")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_cli_keeps_a_byte_order_mark_and_the_file_mode(tmp_path: Path):
    a = tmp_path / "a.arch"
    a.write_bytes(b"\xef\xbb\xbf" + UGLY.encode())
    a.chmod(0o640)
    assert main(["fmt", str(a)]) == 0
    assert a.read_bytes() == b"\xef\xbb\xbf" + NEAT.encode()
    assert a.stat().st_mode & 0o777 == 0o640
