"""The language server's wiring: pygls over stdio, each request handed to :mod:`archdsl.lsp.features`.

This is the only module that imports pygls and lsprotocol (the ``lsp`` extra); ``archdsl lsp`` imports it
when it runs. The server keeps the latest :class:`~archdsl.lsp.features.Document` of each open file, so
that a hover, a completion and the diagnostics of one version load the spec once. Diagnostics are
published when a file opens and, debounced, ``DEBOUNCE`` seconds after the last change; everything runs
on the server's one event loop (a library spec takes tens of milliseconds)."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace.position_codec import PositionCodec

from .features import Document, Item, Pos, Problem, Range, Symbol

DEBOUNCE = 0.1  # seconds after the last change before the diagnostics are computed
T = TypeVar("T")
log = logging.getLogger(__name__)

_COMPLETION_KINDS = {
    "op": types.CompletionItemKind.Function,
    "alias": types.CompletionItemKind.Function,
    "function": types.CompletionItemKind.Function,
    "argument": types.CompletionItemKind.Property,
    "label": types.CompletionItemKind.Reference,
    "block": types.CompletionItemKind.Class,
    "network": types.CompletionItemKind.Module,
    "library": types.CompletionItemKind.Module,
    "variable": types.CompletionItemKind.Variable,
    "keyword": types.CompletionItemKind.Keyword,
}
_SYMBOL_KINDS = {
    "network": types.SymbolKind.Class,
    "block": types.SymbolKind.Function,
    "group": types.SymbolKind.Namespace,
    "variable": types.SymbolKind.Variable,
}


class ArchServer(LanguageServer):
    """pygls's server with the documents it has analysed: per URI, the latest version, and the latest one
    that loaded (completion reads its blocks, variables and labels while the text being typed does not)."""

    def __init__(self) -> None:
        super().__init__("archdsl", _version())
        self.documents: dict[str, Document] = {}
        self.loaded: dict[str, Document] = {}
        self.pending: dict[str, asyncio.TimerHandle] = {}

    def document(self, uri: str) -> Document:
        text = self.workspace.get_text_document(uri).source
        doc = self.documents.get(uri)
        if doc is None or doc.text != text:
            doc = self.documents[uri] = Document(text, _path(uri))
        return doc

    def codec(self) -> PositionCodec:
        return PositionCodec(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)

    # ---------------------------------------------------- positions and ranges
    def to_pos(self, doc: Document, position: types.Position) -> Pos:
        """A client's position (in its units) as the features count: code points of lines split at \\n."""
        line = doc.lines[position.line] if position.line < len(doc.lines) else ""
        codec, units, chars = self.codec(), 0, 0
        for c in line:
            if units >= position.character:
                break
            units += codec.client_num_units(c)
            chars += 1
        return (position.line, chars)

    def to_range(self, lines: list[str], r: Range) -> types.Range:
        codec = self.codec()

        def position(p: Pos) -> types.Position:
            line = lines[p[0]] if 0 <= p[0] < len(lines) else ""
            return types.Position(line=p[0], character=codec.client_num_units(line[: p[1]]))

        return types.Range(start=position(r.start), end=position(r.end))

    def location(self, doc: Document, file: str, r: Range) -> types.Location:
        lines = doc.lines if file == doc.file else _file_lines(file)
        return types.Location(uri=from_fs_path(file) or file, range=self.to_range(lines, r))

    # ------------------------------------------------------------ diagnostics
    def publish(self, uri: str, every_network: bool = False, sent: list[Problem] | None = None) -> None:
        """Compute and send the diagnostics of the document's current text: first those of its main network
        (what ``archdsl check`` reports), then, unless the text changed meanwhile, those of the file's other
        networks too, sent again only when they add something (a file of 14 networks answers first with one)."""
        self.pending.pop(uri, None)
        if unquote(uri) not in self.workspace.text_documents:  # closed meanwhile
            return
        version = self.workspace.get_text_document(uri).version
        doc = self.document(uri)
        problems = _guarded(self, "diagnostics", lambda: doc.problems(every_network), [])
        if doc.ctx is not None:
            self.loaded[uri] = doc
        if problems != sent:
            diagnostics = [self.diagnostic(uri, doc, p) for p in problems]
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
            )
        if not every_network and doc.ctx is not None:
            self._rest(uri, doc, problems, list(doc.ctx.networks))

    def _rest(self, uri: str, doc: Document, sent: list[Problem], networks: list[str]) -> None:
        """Build the file's networks one per turn of the event loop, so that requests are answered between
        them; then publish all their diagnostics. A change meanwhile cancels it (its own diagnostics follow)."""
        self.pending.pop(uri, None)
        if self.documents.get(uri) is not doc:
            return
        if networks:
            _guarded(self, "diagnostics", lambda: doc.built(networks[0]), None)
            self.pending[uri] = asyncio.get_running_loop().call_later(0, self._rest, uri, doc, sent, networks[1:])
        else:
            self.publish(uri, every_network=True, sent=sent)

    def diagnostic(self, uri: str, doc: Document, p: Problem) -> types.Diagnostic:
        rng = self.to_range(doc.lines, p.range)
        related = []
        if p.file is not None and p.where is not None:
            related.append(
                types.DiagnosticRelatedInformation(location=self.location(doc, p.file, p.where), message="the error")
            )
        if p.hint:
            related.append(
                types.DiagnosticRelatedInformation(
                    location=types.Location(uri=uri, range=rng), message=f"hint: {p.hint}"
                )
            )
        if p.network is not None:
            related.append(
                types.DiagnosticRelatedInformation(
                    location=types.Location(uri=uri, range=rng),
                    message=f"found building network {p.network} (archdsl check FILE --network {p.network})",
                )
            )
        return types.Diagnostic(
            range=rng,
            message=p.message,
            severity=types.DiagnosticSeverity.Error,
            source="archdsl",
            code=p.kind,
            related_information=related or None,
        )

    def later(self, uri: str, delay: float = DEBOUNCE) -> None:
        """Publish ``delay`` seconds from now, unless another change comes first."""
        old = self.pending.pop(uri, None)
        if old is not None:
            old.cancel()
        self.pending[uri] = asyncio.get_running_loop().call_later(delay, self.publish, uri)


def _guarded(server: LanguageServer, what: str, compute: Callable[[], T], default: T) -> T:
    """A feature's answer, or ``default`` with the traceback in the client's log: a bug in archdsl must not
    take the server down (ArchErrors are answers, not bugs: the features turn them into diagnostics)."""
    try:
        return compute()
    except Exception:  # a bug: say so in the log, answer nothing
        text = traceback.format_exc()
        log.error("%s failed:\n%s", what, text)
        server.window_log_message(
            types.LogMessageParams(type=types.MessageType.Error, message=f"archdsl {what} failed: {text}")
        )
        return default


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("archdsl")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _path(uri: str) -> str | None:
    """A file URI's path (None for an unsaved buffer: ``untitled:...``)."""
    return to_fs_path(uri) if uri.startswith("file:") else None


def _file_lines(file: str) -> list[str]:
    try:
        return Path(file).read_text(encoding="utf-8").split("\n")
    except OSError:
        return []


def _item(item: Item) -> types.CompletionItem:
    return types.CompletionItem(
        label=item.label,
        kind=_COMPLETION_KINDS.get(item.kind),
        detail=item.detail or None,
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=item.documentation)
        if item.documentation
        else None,
    )


def build() -> ArchServer:
    """The server with every feature registered."""
    server = ArchServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ArchServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ArchServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.later(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ArchServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        pending = ls.pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        ls.documents.pop(uri, None)
        ls.loaded.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: ArchServer, params: types.HoverParams) -> types.Hover | None:
        doc = ls.document(params.text_document.uri)
        text = _guarded(ls, "hover", lambda: doc.hover(ls.to_pos(doc, params.position)), None)
        if not text:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["@", "(", ",", ".", "="])
    )
    def completion(ls: ArchServer, params: types.CompletionParams) -> types.CompletionList:
        uri = params.text_document.uri
        doc = ls.document(uri)
        known = ls.loaded.get(uri)
        items = _guarded(ls, "completion", lambda: doc.completion(ls.to_pos(doc, params.position), known), [])
        return types.CompletionList(is_incomplete=False, items=[_item(i) for i in items])

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: ArchServer, params: types.DefinitionParams) -> list[types.Location]:
        doc = ls.document(params.text_document.uri)
        found = _guarded(ls, "definition", lambda: doc.definition(ls.to_pos(doc, params.position)), [])
        return [ls.location(doc, file, r) for file, r in found]

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(ls: ArchServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        doc = ls.document(params.text_document.uri)

        def convert(s: Symbol) -> types.DocumentSymbol:
            return types.DocumentSymbol(
                name=s.name,
                kind=_SYMBOL_KINDS[s.kind],
                detail=s.detail or None,
                range=ls.to_range(doc.lines, s.range),
                selection_range=ls.to_range(doc.lines, s.selection),
                children=[convert(c) for c in s.children] or None,
            )

        return [convert(s) for s in _guarded(ls, "symbols", doc.symbols, [])]

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: ArchServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        """The whole text replaced by ``archdsl fmt``'s layout (its own four spaces, whatever the editor's tab
        options); no edit when it is formatted already, None when it does not parse."""
        doc = ls.document(params.text_document.uri)
        new = _guarded(ls, "formatting", doc.formatted, None)
        if new is None:
            return None
        if new == doc.text:
            return []
        end = (len(doc.lines) - 1, len(doc.lines[-1]))
        return [types.TextEdit(range=ls.to_range(doc.lines, Range((0, 0), end)), new_text=new)]

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))
    def inlay_hints(ls: ArchServer, params: types.InlayHintParams) -> list[types.InlayHint]:
        doc = ls.document(params.text_document.uri)
        first, last = params.range.start.line, params.range.end.line
        hints = _guarded(ls, "inlay hints", lambda: doc.inlay_hints(first, last), [])
        return [
            types.InlayHint(
                position=ls.to_range(doc.lines, Range(pos, pos)).start,
                label=label,
                kind=types.InlayHintKind.Type,
                padding_left=True,
            )
            for pos, label in hints
        ]

    return server


def serve(**options: Any) -> None:
    """Run the server on standard input and output until the client ends it."""
    logging.basicConfig(level=logging.WARNING, format="archdsl lsp: %(levelname)s: %(message)s")
    build().start_io(**options)
