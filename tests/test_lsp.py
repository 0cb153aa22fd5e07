"""archdsl lsp end to end: a real client (pytest-lsp) starts ``archdsl lsp`` and talks to it over stdio, as an
editor does. Every figure a test expects is computed with archdsl itself (``archdsl.load``, ``archdsl check``),
never typed in."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsprotocol import types  # noqa: E402  (after the skip: both come with the test extra)
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

import archdsl  # noqa: E402
from archdsl.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VGG = ROOT / "specs" / "classic" / "vgg.arch"
SERVER = [sys.executable, "-m", "archdsl.cli", "lsp"]
pytestmark = pytest.mark.timeout(120)
async_test = pytest.mark.asyncio(loop_scope="module")  # one server for the module's tests

ACCEPTANCE = "input 3x224x224\nconv3-64 - relu - maxpool - fc-10\n"
LABELS = """block unit(c) {
  conv3-{c} - relu
}

n = 16

network labels {
  input 3x32x32
  stem: conv3-{n} - relu
  features {
    unit(32) - maxpool
    pool: maxpool
  }
  trunk: unit(n * 2)
  @stem - gap
  head: fc-10
  output trunk, head
}
"""


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    params = types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


_versions: dict[str, int] = {}


async def opened(client: LanguageClient, path: Path, text: str, write: bool = True) -> list[types.Diagnostic]:
    """Open ``path`` with ``text`` (written to disk too, so that ``archdsl check`` can read it); its first
    diagnostics."""
    if write:
        path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    _versions[uri] = 1
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="arch", version=1, text=text)
        )
    )
    return await diagnostics(client, uri)


async def diagnostics(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    """The next diagnostics the server publishes for ``uri`` (the caller removed the last ones): read from the
    client's record, since several can arrive at once (a waiter on the notification would miss the second)."""
    for _ in range(2000):
        if uri in client.diagnostics:
            return list(client.diagnostics[uri])
        await asyncio.sleep(0.01)
    raise TimeoutError(f"no diagnostics for {uri} in 20 s")


async def typed(client: LanguageClient, uri: str, start: tuple[int, int], end: tuple[int, int], text: str):
    """Replace the text from ``start`` to ``end`` (line, character) as typing does; the diagnostics after it."""
    _versions[uri] += 1
    rng = types.Range(start=types.Position(*start), end=types.Position(*end))
    client.diagnostics.pop(uri, None)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=_versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(range=rng, text=text)],
        )
    )
    return await diagnostics(client, uri)


async def hover(client: LanguageClient, uri: str, line: int, character: int) -> str:
    result = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, character))
    )
    assert result is not None, f"no hover at {line}:{character}"
    return result.contents.value


async def completion(client: LanguageClient, uri: str, line: int, character: int) -> dict[str, types.CompletionItem]:
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, character)
        )
    )
    items = result.items if isinstance(result, types.CompletionList) else result
    return {item.label: item for item in items}


async def definition(client: LanguageClient, uri: str, line: int, character: int) -> list[types.Location]:
    result = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, character)
        )
    )
    return result if isinstance(result, list) else [result]


def checked(path: Path) -> tuple[int, int, int, str, str]:
    """What ``archdsl check`` says of the file: (line, column, caret width, message, hint), 1-based."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["check", str(path)]) == 1
    lines = err.getvalue().splitlines()
    m = re.match(r"error: .*:(\d+):(\d+): (.*)$", lines[0])
    caret = next(x for x in lines if x.strip() and set(x.strip()) == {"^"})
    hint = next((x[len("hint: ") :] for x in lines if x.startswith("hint: ")), "")
    return int(m.group(1)), int(m.group(2)), len(caret.strip()), m.group(3), hint


def where(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    """(line, character) of ``needle``'s first character in ``text``, plus ``offset``."""
    at = text.index(needle) + offset
    before = text[:at]
    return before.count("\n"), at - (before.rfind("\n") + 1)


# ------------------------------------------------------------------ acceptance
@async_test
async def test_hover_on_a_layer_gives_its_shape_and_parameters(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "acceptance.arch"
    assert await opened(client, path, ACCEPTANCE) == []
    conv = archdsl.load(str(path)).analyze().layers[1]  # the layer after the input
    text = await hover(client, path.as_uri(), *where(ACCEPTANCE, "conv3-64", 2))
    assert "x".join(map(str, conv.output_shape)) == "64x224x224"  # the figures, as archdsl computes them
    assert f"{conv.params:,}" == "1,792"
    assert "64x224x224" in text and "1,792 parameters" in text and f"{conv.macs:,} MACs" in text
    assert "receptive field 3x3" in text


@async_test
async def test_hover_inside_a_block_shows_the_main_network(client: LanguageClient):
    text = VGG.read_text(encoding="utf-8")
    assert await opened(client, VGG, text, write=False) == []
    a = archdsl.load(str(VGG)).analyze()  # the file's main network, as archdsl check builds it
    pools = [layer for layer in a.layers if layer.name.startswith("features.pool")]
    shown = await hover(client, VGG.as_uri(), *where(text, '"pool{s + 1}": maxpool', len('"pool{s + 1}": ') + 1))
    assert f"network `{a.name}`, the file's main network" in shown
    for layer in pools:
        assert f"`{layer.name}` (maxpool): **{'x'.join(map(str, layer.output_shape))}**" in shown
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=VGG.as_uri())))


@async_test
async def test_a_typo_gets_the_diagnostic_archdsl_check_prints(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "typo.arch"
    uri = path.as_uri()
    assert await opened(client, path, ACCEPTANCE) == []
    line, col = where(ACCEPTANCE, "maxpool")
    found = await typed(client, uri, (line, col + 5), (line, col + 6), "")  # maxpool → maxpol
    path.write_text(ACCEPTANCE.replace("maxpool", "maxpol"), encoding="utf-8")
    (diag,) = found
    line1, col1, width, message, hint = checked(path)
    assert diag.message == message == "unknown op 'maxpol'"
    assert (diag.range.start.line, diag.range.start.character) == (line1 - 1, col1 - 1)
    assert diag.range.end.character - diag.range.start.character == width
    assert diag.severity == types.DiagnosticSeverity.Error and diag.code == "UnknownNameError"
    assert [r.message for r in diag.related_information] == [f"hint: {hint}"]
    # fixed again: the diagnostics clear
    assert await typed(client, uri, (line, col + 5), (line, col + 5), "o") == []


@async_test
async def test_completion_after_con(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "typing.arch"
    await opened(client, path, "input 3x224x224\ncon")
    items = await completion(client, path.as_uri(), 1, 3)
    assert {"conv", "concat"} <= set(items) and "relu" not in items
    assert items["conv"].kind == types.CompletionItemKind.Function and "`k`=3" in items["conv"].detail


# ------------------------------------------------------------------ the rest
@async_test
@pytest.mark.parametrize(
    "spec,kind",
    [
        ("input 3x8x8\nconv3-16 - maxpool - maxpool - maxpool - maxpool - fc-10\n", "ShapeError"),
        ("input 3x8x8\n[conv3-8]x1000000000 - fc-10\n", "LimitError"),
    ],
    ids=["shape", "limit"],
)
async def test_shape_and_limit_errors_as_archdsl_check_reports_them(
    client: LanguageClient, tmp_path: Path, spec: str, kind: str
):
    path = tmp_path / f"{kind}.arch"
    (diag,) = await opened(client, path, spec)
    line, col, width, message, _ = checked(path)
    assert (diag.code, diag.message) == (kind, message)
    assert (diag.range.start.line, diag.range.start.character, diag.range.end.character) == (
        line - 1,
        col - 1,
        col - 1 + width,
    )


@async_test
async def test_the_other_networks_of_a_file_are_checked_too(client: LanguageClient, tmp_path: Path):
    spec = (
        "network small {\n  input 3x8x8\n  conv3-8 - maxpool(16)\n}\n\nnetwork main {\n  input 3x32x32\n  conv3-8\n}\n"
    )
    path = tmp_path / "two.arch"
    await opened(client, path, spec)  # the main network (the last one) is fine, as archdsl check says
    assert main(["check", str(path)]) == 0
    for _ in range(2000):  # the others are built just after it, and their errors published
        if client.diagnostics.get(path.as_uri()):
            break
        await asyncio.sleep(0.01)
    (diag,) = client.diagnostics[path.as_uri()]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["check", str(path), "--network", "small"]) == 1
    assert f":3:13: {diag.message}" in err.getvalue().splitlines()[0]
    assert (diag.range.start.line, diag.range.start.character) == (2, 12)
    assert "archdsl check FILE --network small" in diag.related_information[-1].message


@async_test
async def test_definitions_of_a_label_and_a_block(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "labels.arch"
    assert await opened(client, path, LABELS) == []
    uri = path.as_uri()
    (label,) = await definition(client, uri, *where(LABELS, "@stem", 2))
    assert label.uri == uri and (label.range.start.line, label.range.start.character) == where(LABELS, "stem:")
    (block,) = await definition(client, uri, *where(LABELS, "unit(32)", 1))
    assert (block.range.start.line, block.range.start.character) == where(LABELS, "unit(c)")
    (variable,) = await definition(client, uri, *where(LABELS, "n * 2"))
    assert (variable.range.start.line, variable.range.start.character) == where(LABELS, "n = 16")


@async_test
async def test_document_symbols(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "labels.arch"
    await opened(client, path, LABELS)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))
    )
    top = {s.name: s for s in symbols}
    assert top["unit"].kind == types.SymbolKind.Function and top["labels"].kind == types.SymbolKind.Class
    assert top["n"].kind == types.SymbolKind.Variable
    inside = {s.name: s for s in top["labels"].children}
    assert set(inside) == {"stem", "features", "trunk", "head"}
    assert [s.name for s in inside["features"].children] == ["pool"]


@async_test
async def test_completion_of_labels_and_keyword_arguments(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "labels.arch"
    await opened(client, path, LABELS)
    uri = path.as_uri()
    a = archdsl.load(str(path)).analyze()
    stem = next(layer for layer in a.layers if layer.name == "stem")
    labels = await completion(client, uri, *where(LABELS, "@stem", 1))
    assert {"stem", "features", "pool", "trunk", "head"} <= set(labels)
    assert labels["stem"].detail == "x".join(map(str, stem.output_shape))
    line, _ = where(LABELS, "trunk:")
    await typed(client, uri, (line + 1, 0), (line + 1, 0), "  conv(64, \n")
    arguments = await completion(client, uri, line + 1, len("  conv(64, "))
    assert {"k=", "s=", "groups=", "bias="} <= set(arguments) and "n" in arguments
    assert arguments["k="].kind == types.CompletionItemKind.Property


@async_test
async def test_hover_on_a_variable_a_label_and_a_block_call(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "labels.arch"
    await opened(client, path, LABELS)
    uri = path.as_uri()
    assert "= `16`" in await hover(client, uri, *where(LABELS, "n * 2"))
    a = archdsl.load(str(path)).analyze()
    trunk = [layer for layer in a.layers if layer.name.startswith("trunk.")]
    shown = await hover(client, uri, *where(LABELS, "trunk:"))
    assert f"output **{'x'.join(map(str, trunk[-1].output_shape))}**" in shown
    assert f"{sum(x.params for x in trunk):,} parameters" in shown
    assert "block unit(c)" in await hover(client, uri, *where(LABELS, "unit(n", 1))


@async_test
async def test_inlay_hints_give_each_chain_line_its_shape(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "acceptance.arch"
    await opened(client, path, ACCEPTANCE)
    hints = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
            range=types.Range(start=types.Position(0, 0), end=types.Position(2, 0)),
        )
    )
    out = archdsl.load(str(path)).analyze().outputs["output"]
    assert [(h.position.line, h.position.character, h.label) for h in hints] == [
        (1, len(ACCEPTANCE.split("\n")[1]), "→ " + "x".join(map(str, out)))
    ]


@async_test
async def test_formatting_gives_archdsl_fmts_text(client: LanguageClient, tmp_path: Path):
    text = LABELS + "@trunk→ fc-10  # 𝛼 →"  # no newline at the end; a character of two UTF-16 units on the last line
    path, copy = tmp_path / "labels.arch", tmp_path / "copy.arch"
    await opened(client, path, text)
    copy.write_text(text, encoding="utf-8")
    assert main(["fmt", str(copy)]) == 0
    expected = copy.read_text(encoding="utf-8")

    async def formatting(uri: str) -> list[types.TextEdit] | None:
        options = types.FormattingOptions(tab_size=2, insert_spaces=True)
        return await client.text_document_formatting_async(
            types.DocumentFormattingParams(text_document=types.TextDocumentIdentifier(uri=uri), options=options)
        )

    edits = await formatting(path.as_uri())
    last = text.split("\n")[-1]
    assert [(e.range.start, e.range.end, e.new_text) for e in edits] == [
        (types.Position(0, 0), types.Position(text.count("\n"), len(last.encode("utf-16-le")) // 2), expected)
    ]
    assert expected != text and "    stem: conv3-{n} - relu\n" in expected  # four spaces, whatever the tab size
    tidy = tmp_path / "tidy.arch"
    await opened(client, tidy, expected)
    assert list(await formatting(tidy.as_uri())) == []  # no edit (the client reads it as a tuple)
    broken = tmp_path / "broken.arch"
    await opened(client, broken, "input 3x8x8\nconv3-8 - - relu\n")
    assert await formatting(broken.as_uri()) is None


def test_the_command_says_what_is_missing_without_pygls():
    code = "import sys; sys.modules['pygls'] = None; from archdsl.cli import main; sys.exit(main(['lsp']))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "archdsl lsp needs pygls and lsprotocol" in run.stderr and "archdsl[lsp]" in run.stderr
