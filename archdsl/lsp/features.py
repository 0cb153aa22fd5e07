"""What the language server answers, as plain functions of a document: its text (saved or not), its path
and a position. No pygls here: :mod:`archdsl.lsp.server` turns these answers into the protocol's types.

A :class:`Document` is one version of a spec's text. It loads the text with the stages ``archdsl check``
uses (``lang.files.load_file``, ``lang.elaborate``, ``ir.infer`` through ``pipeline.Net``), once, and
builds each network of the file the first time a question needs it. Positions are 0-based lines and
characters counted in code points, as the parser counts columns (lines end at ``\\n`` only); the server
converts them to the client's units.

How a place in the text finds its layers: every graph node keeps the span of the text that made it, so
the layers of ``conv3-64`` are the nodes whose span starts where it starts (one per expansion: a line of a
block called five times made five layers). A label's layers are found by name (``layer1`` →
``layer1.0.conv1``, ...), since a block's layers carry the spans of the block's own text. A block's text
is shown as the file's main network builds it, or, when that network does not use it, as the first
network of the file that does; the answer says which."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from ..errors import ArchError, Span
from ..ir.analysis import Layer
from ..lang import ast, library
from ..lang.elaborate import elaborate
from ..lang.eval import FUNCTIONS, evaluate
from ..lang.files import BUILTIN_VARS, FileCtx, load_file, main_network, parse_spec
from ..lang.fmt import format_spec
from ..ops import ALIASES, REGISTRY, Op, lookup
from ..pipeline import Net, gc_paused
from ..resources import spec_root
from ..views.report import shape_str

Pos = tuple[int, int]  # 0-based line, character (code points)
KEYWORDS = ("network", "block", "import", "input", "output", "for", "in", "if", "else", "shortcut", "as")
MAX_SHOWN = 6  # instances of a layer listed in a hover; the rest are counted
_NAME_AT = re.compile(r"(?i:soft-max)(?![A-Za-z0-9_])|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
_WORD_BEFORE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$|$")


@dataclass(frozen=True)
class Range:
    """From ``start`` up to (not including) ``end``."""

    start: Pos
    end: Pos

    def __contains__(self, pos: object) -> bool:
        return isinstance(pos, tuple) and self.start <= pos < self.end


def span_range(span: Span) -> Range:
    """A span as a range: its line from its column, ``length`` characters (a span over several lines has
    length 1: its first character)."""
    line, col = span.line - 1, span.column - 1
    return Range((line, col), (line, col + max(1, span.length)))


@dataclass(frozen=True)
class Problem:
    """A diagnostic: an ArchError where ``archdsl check`` puts its caret, with its message and hint. An error
    inside an imported file is shown on the import that reads it (``file`` and ``where`` say where it is);
    ``network``: the network of the file whose expansion found it, when it is not the main one."""

    range: Range
    message: str
    kind: str
    hint: str | None = None
    file: str | None = None
    where: Range | None = None
    network: str | None = None


@dataclass(frozen=True)
class Item:
    """A completion: ``kind`` is op, alias, argument, label, block, library, variable, keyword or network."""

    label: str
    kind: str
    detail: str = ""
    documentation: str = ""


@dataclass
class Symbol:
    """An entry of the outline: kind network, block, group or variable."""

    name: str
    kind: str
    detail: str
    range: Range
    selection: Range
    children: list[Symbol] = field(default_factory=list)


@dataclass(frozen=True)
class Token:
    """A name in the text that a question can be about. ``kind``: call (an op, block, group or import
    written in a chain), label, ref (``@pool5``, an output's path), var, kwarg, param, assign, loopvar,
    import, block, network. ``owner``: the block or network it is written in (None: the top level);
    ``fors``: the loops around it; ``parent``: the node that holds it (a kwarg's call, a label's element)."""

    range: Range
    kind: str
    node: Any
    owner: ast.BlockDef | ast.NetworkDef | None = None
    parent: Any = None
    fors: tuple[ast.For, ...] = ()


@dataclass
class Built:
    """A network of the file, elaborated and analysed: its layers by name, and by where their text starts."""

    net: Net
    layers: dict[str, Layer]
    at: dict[Pos, list[Layer]]

    @property
    def name(self) -> str:
        return self.net.name


def _file_key(span: Span | None, file: str) -> Pos | None:
    if span is None or span.file != file:
        return None
    return (span.line - 1, span.column - 1)


class Document:
    """One version of a spec's text at ``path`` (None: an unsaved buffer, read as inline text)."""

    def __init__(self, text: str, path: str | None = None):
        self.text = text
        self.file = path or "<inline>"
        self.lines = text.split("\n")
        self._starts = [0]
        for line in self.lines[:-1]:
            self._starts.append(self._starts[-1] + len(line) + 1)
        self._nets: dict[str | None, Built | ArchError] = {}
        self._loaded: tuple[ast.SpecFile | None, FileCtx | None, ArchError | None] | None = None
        self._tokens: list[Token] | None = None

    # ------------------------------------------------------------------ loading
    def _load(self) -> tuple[ast.SpecFile | None, FileCtx | None, ArchError | None]:
        if self._loaded is None:
            with self._no_disk_cache(), gc_paused():
                try:
                    ctx = load_file(self.text, self.file)
                    self._loaded = (ctx.spec, ctx, None)
                except ArchError as err:
                    try:  # the names in the text are still worth reading when, say, an import fails
                        spec = parse_spec(self.text, self.file)
                    except ArchError:
                        spec = None
                    self._loaded = (spec, None, err)
        return self._loaded

    @contextlib.contextmanager
    def _no_disk_cache(self) -> Iterator[None]:
        """A library file being edited: its unsaved versions are not worth a cache entry each (the cache
        keeps the ASTs of the library's files by their text)."""
        edited = False
        if self.file != "<inline>":
            try:
                path = Path(self.file).resolve()
                edited = path.is_relative_to(spec_root().resolve()) and path.read_text(encoding="utf-8") != self.text
            except (OSError, ValueError):
                edited = False
        if not edited or os.environ.get("ARCHDSL_NO_CACHE"):
            yield
            return
        os.environ["ARCHDSL_NO_CACHE"] = "1"
        try:
            yield
        finally:
            del os.environ["ARCHDSL_NO_CACHE"]

    @property
    def spec(self) -> ast.SpecFile | None:
        """The parsed text; None when it does not parse."""
        return self._load()[0]

    @property
    def ctx(self) -> FileCtx | None:
        """The loaded file (variables, blocks, imports); None when loading failed (:attr:`error`)."""
        return self._load()[1]

    @property
    def error(self) -> ArchError | None:
        """Why the text does not load (a syntax error, an unknown import, a bad variable), or None."""
        return self._load()[2]

    def main_name(self) -> str | None:
        """The name of the network the file stands for (as ``archdsl check FILE`` builds it)."""
        ctx = self.ctx
        if ctx is None:
            return None
        try:
            return main_network(ctx, None).name
        except ArchError:
            return None

    def built(self, name: str | None = None) -> Built | ArchError:
        """A network of the file (None: its main one) built and analysed, or the error that stops it."""
        if name is not None and name == self.main_name():
            name = None
        if name not in self._nets:
            ctx = self.ctx
            if ctx is None:
                return self.error or ArchError("the spec does not load")
            try:
                with self._no_disk_cache(), gc_paused():
                    net = Net(elaborate(ctx, name))
                a = net.analyze()
            except ArchError as err:
                self._nets[name] = err
            else:
                layers = {layer.name: layer for layer in a.layers}
                at: dict[Pos, list[Layer]] = {}
                for layer in a.layers:
                    key = _file_key(net.graph.nodes[layer.name].span, self.file)
                    if key is not None:
                        at.setdefault(key, []).append(layer)
                self._nets[name] = Built(net, layers, at)
        return self._nets[name]

    def _has_network(self) -> bool:
        """Whether the file defines a network (or a chain at the top level); a file of blocks only, meant to
        be imported, has none, and that is no error here."""
        ctx = self.ctx
        if ctx is None:
            return False
        top = any(isinstance(s, (ast.Chain, ast.InputStmt)) for s in ctx.spec.top.stmts)
        return bool(ctx.networks) or top or not ctx.blocks

    # ------------------------------------------------------------- positions
    def offset(self, pos: Pos) -> int:
        line = min(max(pos[0], 0), len(self.lines) - 1)
        return self._starts[line] + min(pos[1], len(self.lines[line]))

    def pos(self, offset: int) -> Pos:
        line = max(0, next((i for i in range(len(self._starts) - 1, -1, -1) if self._starts[i] <= offset), 0))
        return (line, offset - self._starts[line])

    def _line(self, n: int) -> str:
        return self.lines[n] if 0 <= n < len(self.lines) else ""

    def _name_range(self, line: int, col: int) -> Range:
        """The name that starts at (line, col): ``conv3``, ``inception.inception``, ``soft-max``."""
        m = _NAME_AT.match(self._line(line), col)
        return Range((line, col), (line, m.end() if m else col + 1))

    def _find_after(self, line: int, col: int, pattern: str) -> Range | None:
        m = re.compile(pattern).search(self._line(line), col)
        return Range((line, m.start(1)), (line, m.end(1))) if m else None

    def closing(self, start: Pos) -> Pos:
        """Just after the ``}`` that closes the first ``{`` at or after ``start`` (comments and strings
        skipped); the end of the text when it is not closed."""
        text, i, depth = self.text, self.offset(start), 0
        while i < len(text):
            c = text[i]
            if c == "#":
                i = text.find("\n", i)
                if i < 0:
                    break
            elif c == '"':
                end, newline = text.find('"', i + 1), text.find("\n", i + 1)
                if end >= 0 and (newline < 0 or end < newline):
                    i = end
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return self.pos(i + 1)
            i += 1
        return (len(self.lines) - 1, len(self.lines[-1]))

    def extent(self, node: Any) -> Range:
        """Where a definition or an element lies: a block or network to its closing brace; anything else from
        its start to the end of the last thing inside it."""
        start = span_range(node.span).start
        if isinstance(node, (ast.BlockDef, ast.NetworkDef)):
            return Range(start, self.closing(start))
        end = span_range(node.span).end
        for inner in _walk(node):
            span = getattr(inner, "span", None)
            if isinstance(span, Span) and span.file == self.file:
                end = max(end, span_range(span).end)
        return Range(start, end)

    # ----------------------------------------------------------------- tokens
    def tokens(self) -> list[Token]:
        """Every name a question can be about, in text order."""
        if self._tokens is None:
            spec, out = self.spec, []
            if spec is not None:
                for imp in spec.imports:
                    line, col = span_range(imp.span).start
                    target = self._find_after(line, col, r"import\s+(\"[^\"\n]*\"|[A-Za-z_][\w.]*)")
                    if target:
                        out.append(Token(target, "import", imp))
                    alias = self._find_after(line, col, r"\bas\s+([A-Za-z_]\w*)")
                    if alias:
                        out.append(Token(alias, "import", imp))
                for b in spec.blocks:
                    line, col = span_range(b.span).start
                    name = self._find_after(line, col, r"block\s+([A-Za-z_]\w*)")
                    if name:
                        out.append(Token(name, "block", b, b))
                    for p in b.params:
                        out.append(Token(self._name_range(*span_range(p.span).start), "param", p, b, b))
                        self._collect(p.default, b, p, (), out)
                    self._collect(b.body, b, b, (), out)
                for n in spec.networks:
                    line, col = span_range(n.span).start
                    name = self._find_after(line, col, r"network\s+([A-Za-z_]\w*)")
                    if name:
                        out.append(Token(name, "network", n, n))
                    self._collect(n.body, n, n, (), out)
                self._collect(spec.top, None, None, (), out)
            out.sort(key=lambda t: (t.range.start, t.range.end))
            self._tokens = out
        return self._tokens

    def _collect(self, node: Any, owner: Any, parent: Any, fors: tuple, out: list[Token]) -> None:
        if node is None or isinstance(node, (str, int, float, Span)):
            return
        if isinstance(node, tuple):
            for x in node:
                self._collect(x, owner, parent, fors, out)
            return
        if not is_dataclass(node):
            return
        here = span_range(node.span).start if isinstance(getattr(node, "span", None), Span) else None
        if isinstance(node, ast.OpCall):
            out.append(Token(self._name_range(*here), "call", node, owner, parent, fors))
        elif isinstance(node, ast.Labeled):
            width = len(node.label) if isinstance(node.label, str) else max(1, node.label.span.length)
            out.append(Token(Range(here, (here[0], here[1] + width)), "label", node, owner, parent, fors))
        elif isinstance(node, (ast.Ref, ast.OutputItem)):
            width = span_range(node.span).end[1] - here[1] if isinstance(node, ast.Ref) else len(node.path)
            out.append(Token(Range(here, (here[0], here[1] + width)), "ref", node, owner, parent, fors))
        elif isinstance(node, ast.Var):
            out.append(Token(Range(here, (here[0], here[1] + len(node.name))), "var", node, owner, parent, fors))
        elif isinstance(node, ast.Kwarg):
            out.append(Token(Range(here, (here[0], here[1] + len(node.name))), "kwarg", node, owner, parent, fors))
        elif isinstance(node, ast.Assign):
            out.append(Token(Range(here, (here[0], here[1] + len(node.name))), "assign", node, owner, parent, fors))
        elif isinstance(node, ast.For):
            head = self._line(here[0])
            m = re.compile(r"for\s+(.*?)\s+in\b").match(head, here[1])
            if m:
                for name in re.finditer(r"[A-Za-z_]\w*", m.group(1)):
                    r = Range((here[0], m.start(1) + name.start()), (here[0], m.start(1) + name.end()))
                    out.append(Token(r, "loopvar", node, owner, parent, fors))
            fors = (*fors, node)
        for f in fields(node):
            if f.name not in ("span", "source"):
                self._collect(getattr(node, f.name), owner, node, fors, out)

    def token_at(self, pos: Pos) -> Token | None:
        """The innermost name at ``pos``."""
        hits = [t for t in self.tokens() if pos in t.range]
        return min(
            hits,
            key=lambda t: t.range.end[1] - t.range.start[1] + 1000 * (t.range.end[0] - t.range.start[0]),
            default=None,
        )

    def owner_at(self, pos: Pos) -> ast.BlockDef | ast.NetworkDef | None:
        spec = self.spec
        if spec is None:
            return None
        for d in (*spec.blocks, *spec.networks):
            if pos in self.extent(d):
                return d
        return None

    # ------------------------------------------------------- which network
    def instances(
        self, owner: ast.BlockDef | ast.NetworkDef | None, probe: Callable[[Built], list]
    ) -> tuple[Built | None, list, str]:
        """``probe`` on the network that text in ``owner`` belongs to: a network's own; for a block or the top
        level, the main network, else the first network of the file whose answer is not empty. Returns the
        network, the answer and a note that says which network it is."""
        main = self.main_name()
        if isinstance(owner, ast.NetworkDef):
            names: list[str | None] = [owner.name]
        else:
            names = [None] + [n for n in (self.ctx.networks if self.ctx else {}) if n != main]
        failed = None
        for i, name in enumerate(names):
            b = self.built(name)
            if isinstance(b, ArchError):
                failed = failed or (name or main, b)
                continue
            found = probe(b)
            if found:
                if isinstance(owner, ast.NetworkDef):
                    note = f"in network `{b.name}`"
                elif i == 0:
                    note = f"in network `{b.name}`, the file's main network"
                else:
                    note = f"in network `{b.name}`, the first network of the file that uses it"
                return b, found, note
        if failed:
            name, err = failed
            return None, [], f"network `{name}` does not build: {err.message}"
        return None, [], ""

    # ------------------------------------------------------------ diagnostics
    def problems(self, every_network: bool = True) -> list[Problem]:
        """The error ``archdsl check`` reports for the file (its main network), and with ``every_network``
        those of the file's other networks (``archdsl check FILE --network NAME``), each once."""
        if self.error is not None:
            return [self._problem(self.error)]
        if not self._has_network():
            return []
        out, seen = [], set()
        main = self.main_name()
        others = [n for n in self.ctx.networks if n != main] if every_network else []
        for name in [None, *others]:
            b = self.built(name)
            if isinstance(b, ArchError):
                p = self._problem(b, name)
                if (p.range, p.message) not in seen:
                    seen.add((p.range, p.message))
                    out.append(p)
        return out

    def _problem(self, err: ArchError, network: str | None = None) -> Problem:
        kind, span = type(err).__name__, err.span
        if span is None:
            return Problem(Range((0, 0), (0, len(self._line(0)))), err.message, kind, err.hint, network=network)
        if span.file == self.file:
            return Problem(span_range(span), err.message, kind, err.hint, network=network)
        return Problem(self._import_of(span.file), err.message, kind, err.hint, span.file, span_range(span), network)

    def _import_of(self, file: str) -> Range:
        """The import that reads ``file`` (or the first import: it reads a file that does)."""
        imports = [t for t in self.tokens() if t.kind == "import"]
        for t in imports:
            if _import_path(t.node, self.file) == Path(file).resolve():
                return t.range
        return imports[0].range if imports else Range((0, 0), (0, len(self._line(0))))

    # ------------------------------------------------------------------ hover
    def hover(self, pos: Pos) -> str | None:
        """Markdown about what is at ``pos``: a layer's or a label's shape, parameters, MACs and receptive
        field; an op's documentation; a block's signature; a variable's value."""
        tok = self.token_at(pos)
        if tok is None and self.spec is None:  # text that does not parse: an op's documentation still helps
            line = self._line(pos[0])
            word = next((m for m in _NAME_AT.finditer(line) if m.start() <= pos[1] < m.end()), None)
            found = lookup(word.group(0)) if word else None
            return op_doc(found[0], word.group(0)) if found else None
        if tok is None:
            code = _code(self._line(pos[0]))
            if pos[1] >= len(code) or code[pos[1]].isspace():  # a comment, a blank: nothing was made there
                return None
            return self._hover_layers(pos, self.owner_at(pos))
        node = tok.node
        if tok.kind in ("var", "assign", "loopvar", "param"):
            return self._hover_variable(tok)
        if tok.kind == "kwarg":
            return self._hover_kwarg(node, tok.parent)
        if tok.kind == "label":
            return self._hover_label(node, tok.owner)
        if tok.kind == "ref":
            return self._hover_ref(node, tok.owner)
        if tok.kind == "import":
            return self._hover_import(node)
        if tok.kind == "block":
            return self._block_signature(node, self.file)
        if tok.kind == "network":
            b = self.built(node.name)
            return f"network `{node.name}`: " + (b.net.analyze().summary() if isinstance(b, Built) else b.message)
        found = lookup(node.name)
        if found is not None:
            layers = self._hover_layers(pos, tok.owner, node)
            return "\n\n---\n\n".join(x for x in (layers, op_doc(found[0], node.name)) if x)
        return self._hover_callable(node, tok)

    def _hover_layers(self, pos: Pos, owner: Any, call: ast.OpCall | None = None) -> str | None:
        """The layers made by the text at ``pos`` (the innermost span that holds it)."""

        def probe(b: Built) -> list[Layer]:
            if call is not None:
                return b.at.get(span_range(call.span).start, [])
            best: list[Layer] = []
            width = None
            for layers in b.at.values():
                span = b.net.graph.nodes[layers[0].name].span
                r = span_range(span)
                if pos in r and (width is None or r.end[1] - r.start[1] < width):
                    best, width = layers, r.end[1] - r.start[1]
            return best

        b, layers, note = self.instances(owner, probe)
        if not layers:
            return note or None
        return _layers_text(layers, note)

    def _hover_label(self, lab: ast.Labeled, owner: Any) -> str | None:
        b, groups, note = self.instances(owner, lambda b: self.label_groups(b, lab))
        if not groups:
            return note or None
        return _groups_text(groups, note)

    def _hover_ref(self, ref: ast.Ref | ast.OutputItem, owner: Any) -> str | None:
        b, groups, note = self.instances(owner, lambda b: _ref_groups(b, _label_matcher(ref.path, ref)))
        if not groups:
            return note or None
        return _groups_text(groups, note)

    def label_groups(self, b: Built, lab: ast.Labeled) -> list[tuple[str, Layer, list[Layer]]]:
        """A label's instances in a network: (its path, its output layer, its layers)."""
        unit = lab.unit
        if isinstance(unit, ast.OpCall) and lookup(unit.name) is not None:
            return [(layer.name, layer, [layer]) for layer in b.at.get(span_range(unit.span).start, [])]
        matcher = _label_matcher(lab.label, None)
        return self._groups(b, matcher, lab)

    def _groups(self, b: Built, matcher: Callable[[str], bool], el: Any) -> list[tuple[str, Layer, list[Layer]]]:
        groups = _paths(b, matcher)
        regions = self._regions(el)

        def inside(layers: list[Layer]) -> bool:
            for layer in layers:
                span = b.net.graph.nodes[layer.name].span
                if span is None:
                    continue
                if span.file != self.file:
                    return True
                if any(r.start[0] <= span.line - 1 <= r.end[0] for r in regions):
                    return True
            return False

        # a path that is itself a labelled op or merge of another element (``conv: conv(...)`` in a block that
        # every ``conv1: basic_conv(...)`` calls) is that element's, not this one's
        others = {
            span_range(t.node.unit.span).start
            for t in self.tokens()
            if t.kind == "label"
            and t.node is not el
            and isinstance(t.node.unit, ast.OpCall)
            and lookup(t.node.unit.name)
        }

        def own(path: str) -> bool:
            node = b.net.graph.nodes.get(path) if path in b.layers else None
            return node is None or _file_key(node.span, self.file) not in others

        groups = {k: v for k, v in groups.items() if own(k)}
        return _with_outputs(b, {k: v for k, v in groups.items() if inside(v)} or groups)

    def _regions(self, el: Any) -> list[Range]:
        """Where an element's layers can come from: its own text, and that of the blocks it calls."""
        out = [self.extent(el)]
        ctx = self.ctx
        for inner in _walk(el):
            if isinstance(inner, ast.OpCall) and ctx is not None and inner.name in ctx.blocks:
                out.append(self.extent(ctx.blocks[inner.name]))
        return out

    def _hover_variable(self, tok: Token) -> str | None:
        name = (
            tok.node.name
            if tok.kind != "loopvar"
            else self.text[self.offset(tok.range.start) : self.offset(tok.range.end)]
        )
        kind, where, value = self.variable(name, tok)
        if kind is None:
            return None
        return f"{kind} `{name}`" + (f" = `{value}`" if value is not None else "") + (f"\n\n{where}" if where else "")

    def variable(self, name: str, tok: Token) -> tuple[str | None, str, str | None]:
        """(what it is, where, its value as the spec would write it) for a variable at ``tok``."""
        for loop in reversed(tok.fors):
            if name in loop.names:
                return "loop variable", f"over `{self._text(loop.items.span)}`", None
        owner = tok.owner
        if isinstance(owner, ast.BlockDef):
            for p in owner.params:
                if p.name == name:
                    default = f", default `{self._text(p.default.span)}`" if p.default is not None else ""
                    return "parameter", f"of block `{owner.name}`{default}; each call sets it", None
            for st in owner.body.stmts:
                if isinstance(st, ast.Assign) and st.name == name:
                    return "variable", f"of block `{owner.name}`: `{self._text(st.value.span)}`", None
        ctx = self.ctx
        if isinstance(owner, ast.NetworkDef) and ctx is not None:
            env = ctx.env.child()
            for st in owner.body.stmts:
                if isinstance(st, ast.Assign):
                    try:
                        env.set(st.name, evaluate(st.value, env), st.span)
                    except ArchError:
                        break
            if name in env.values:
                return "variable", f"of network `{owner.name}`", value_text(env.values[name])
        if ctx is not None:
            found, value = ctx.env.lookup(name)
            if found:
                if name in BUILTIN_VARS and not any(
                    isinstance(s, ast.Assign) and s.name == name for s in ctx.spec.top.stmts
                ):
                    return "built-in variable", "(`--set` or an import's call may change it)", value_text(value)
                return "variable", "", value_text(value)
        return None, "", None

    def _text(self, span: Span) -> str:
        r = span_range(span)
        return self._line(r.start[0])[r.start[1] : r.end[1]]

    def _hover_kwarg(self, kw: ast.Kwarg, call: Any) -> str | None:
        if not isinstance(call, ast.OpCall):
            return None
        found = lookup(call.name)
        if found is None:
            block = self._block(call.name)
            if block is not None:
                return f"parameter `{kw.name}` of " + self._block_signature(*block)
            return None
        cls = found[0]
        info = cls.Params.model_fields.get(kw.name)
        if info is None:
            return f"`{cls.name}` takes no argument `{kw.name}`; its arguments: {cls.reference[0]}"
        return f"`{kw.name}` of `{cls.name}`: {_field_text(kw.name, info)}\n\narguments: {cls.reference[0]}"

    def _hover_import(self, imp: ast.Import) -> str:
        path = _import_path(imp, self.file)
        if imp.is_path:
            return f"imports `{imp.target}` as `{imp.alias}`: {path}"
        entry = library.lookup(imp.target)
        if entry is None:
            return f"`{imp.target}` is not in the spec library"
        what = f"network `{entry.network}` of" if entry.network else "the library file"
        return f"`{imp.target}`: {what} `{entry.path.name}`, imported as `{imp.alias}`\n\n{entry.description}"

    def _block(self, name: str) -> tuple[ast.BlockDef, str] | None:
        """A block by the name a call uses (``res``, ``alias.res``), with the file it is defined in."""
        ctx = self.ctx
        if ctx is None:
            spec = self.spec
            found = [b for b in (spec.blocks if spec else ()) if b.name == name]
            return (found[0], self.file) if found else None
        if name in ctx.blocks:
            return ctx.blocks[name], self.file
        alias, _, rest = name.partition(".")
        if alias in ctx.imports and rest in ctx.imports[alias].blocks:
            return ctx.imports[alias].blocks[rest], ctx.imports[alias].spec.path
        return None

    def _block_signature(self, block: ast.BlockDef, file: str) -> str:
        source = self.text if file == self.file else _spec_source(self.ctx, file)
        lines = source.split("\n")

        def text(span: Span) -> str:
            r = span_range(span)
            return lines[r.start[0]][r.start[1] : r.end[1]] if r.start[0] < len(lines) else ""

        params = ", ".join(text(p.span) if p.default is not None else p.name for p in block.params)
        comment = []
        n = block.span.line - 2
        while 0 <= n < len(lines) and lines[n].lstrip().startswith("#"):
            comment.insert(0, lines[n].lstrip()[1:].strip())
            n -= 1
        where = "" if file == self.file else f" (in {Path(file).name})"
        doc = "\n\n" + " ".join(comment) if comment else ""
        return f"```arch\nblock {block.name}({params})\n```{where}{doc}"

    def _hover_callable(self, call: ast.OpCall, tok: Token) -> str | None:
        """A name in a chain that is not an op: a block, an imported network, or a group."""
        block = self._block(call.name)
        if block is not None:
            return self._block_signature(*block)
        ctx = self.ctx
        if ctx is not None and call.name in ctx.imports:
            try:
                net = main_network(ctx.imports[call.name], None)
            except ArchError as err:
                return err.message
            return f"network `{net.name}` of {Path(ctx.imports[call.name].spec.path).name}, imported as `{call.name}`"
        if call.body is not None:  # a group: its name is its label
            b, groups, note = self.instances(tok.owner, lambda b: self._groups(b, lambda p: p == call.name, call))
            return _groups_text(groups, note) if groups else (note or None)
        return None

    # ------------------------------------------------------------- definition
    def definition(self, pos: Pos) -> list[tuple[str, Range]]:
        """Where what is at ``pos`` is defined: a block (here or in an imported file), a label (``@pool5``), an
        imported file or network, a variable or parameter."""
        tok = self.token_at(pos)
        if tok is None:
            return []
        if tok.kind == "ref":
            return self._label_definitions(tok)
        if tok.kind == "import":
            path = _import_path(tok.node, self.file)
            entry = None if tok.node.is_path else library.lookup(tok.node.target)
            if path is None:
                return []
            return [(str(path), _network_line(path, entry.network if entry else None))]
        if tok.kind == "call":
            block = self._block(tok.node.name)
            if block is not None:
                return [(block[1], self._def_name(block[0], block[1]))]
            ctx = self.ctx
            if ctx is not None and tok.node.name in ctx.imports:
                imp = ctx.imports[tok.node.name]
                try:
                    net = main_network(imp, None)
                except ArchError:
                    return []
                return [(imp.spec.path, self._def_name(net, imp.spec.path))]
            return []
        if tok.kind == "var":
            return self._variable_definitions(tok)
        return []

    def _def_name(self, d: ast.BlockDef | ast.NetworkDef, file: str) -> Range:
        r = span_range(d.span)
        lines = (self.text if file == self.file else _spec_source(self.ctx, file)).split("\n")
        line = lines[r.start[0]] if r.start[0] < len(lines) else ""
        m = re.compile(r"(?:block|network)\s+([A-Za-z_]\w*)").match(line, r.start[1])
        return Range((r.start[0], m.start(1)), (r.start[0], m.end(1))) if m else r

    def _label_definitions(self, tok: Token) -> list[tuple[str, Range]]:
        path = tok.node.path
        last = path.rpartition(".")[2]
        labels = [
            t
            for t in self.tokens()
            if (t.kind == "label" and _label_matcher(t.node.label, None)(last))
            or (t.kind == "call" and t.node.body is not None and lookup(t.node.name) is None and t.node.name == last)
        ]
        same = [t for t in labels if t.owner is tok.owner]
        return [(self.file, t.range) for t in (same or labels)]

    def _variable_definitions(self, tok: Token) -> list[tuple[str, Range]]:
        name = tok.node.name
        for loop in reversed(tok.fors):
            if name in loop.names:
                return [(self.file, t.range) for t in self.tokens() if t.kind == "loopvar" and t.node is loop]
        found = []
        for t in self.tokens():
            if t.kind == "param" and t.owner is tok.owner and t.node.name == name:
                return [(self.file, t.range)]
            if t.kind == "assign" and t.node.name == name and t.owner in (tok.owner, None):
                found.append(t)
        local = [t for t in found if t.owner is tok.owner and t.owner is not None]
        return [(self.file, t.range) for t in (local or found)][-1:]

    # -------------------------------------------------------------- symbols
    def symbols(self) -> list[Symbol]:
        """The outline: networks and blocks with their labelled groups and elements inside, and the
        file's variables."""
        spec = self.spec
        if spec is None:
            return []
        out = []
        for d in sorted((*spec.blocks, *spec.networks), key=lambda d: (d.span.line, d.span.column)):
            is_block = isinstance(d, ast.BlockDef)
            detail = "(" + ", ".join(p.name for p in d.params) + ")" if is_block else "network"
            sym = Symbol(
                d.name, "block" if is_block else "network", detail, self.extent(d), self._def_name(d, self.file)
            )
            sym.children = self._labelled(d.body)
            out.append(sym)
        for st in spec.top.stmts:
            if isinstance(st, ast.Assign):
                r = span_range(st.span)
                out.append(Symbol(st.name, "variable", "", r, Range(r.start, (r.start[0], r.start[1] + len(st.name)))))
        out += self._labelled(spec.top)
        out.sort(key=lambda s: s.range.start)
        return out

    def _labelled(self, node: Any) -> list[Symbol]:
        """The labelled elements and named groups under ``node``, each with those inside it."""
        out = []
        for f in fields(node) if is_dataclass(node) and not isinstance(node, Span) else ():
            value = getattr(node, f.name)
            for child in value if isinstance(value, tuple) else (value,):
                if not is_dataclass(child) or isinstance(child, Span):
                    continue
                group = isinstance(child, ast.OpCall) and child.body is not None and lookup(child.name) is None
                if isinstance(child, ast.Labeled) or group:
                    if isinstance(child, ast.Labeled):
                        name = child.label if isinstance(child.label, str) else self._text(child.label.span)
                        width = len(child.label) if isinstance(child.label, str) else child.label.span.length
                    else:
                        name, width = child.name, len(child.name)
                    r = self.extent(child)
                    sel = Range(r.start, (r.start[0], r.start[1] + width))
                    out.append(Symbol(name, "group", "", r, sel, self._labelled(child)))
                else:
                    out += self._labelled(child)
        return out

    # ------------------------------------------------------------ inlay hints
    def inlay_hints(self, first: int, last: int) -> list[tuple[Pos, str]]:
        """The output shape at the end of each chain line from line ``first`` to ``last``: the output of the
        line's last element (its shapes, where the line's text is expanded more than once)."""
        spec = self.spec
        if spec is None:
            return []
        out = []
        for chain, owner, net_chain in self._chains():
            by_line: dict[int, Any] = {}
            for el in chain.elements:
                by_line[el.span.line - 1] = el
            for line, el in by_line.items():
                r = self.extent(el)
                if not first <= line <= last or r.end[0] != line:
                    continue
                end_of_network = net_chain and el is chain.elements[-1]
                b, layers, _ = self.instances(owner, lambda b, el=el, end=end_of_network: self._outputs(b, el, end))
                shapes = list(dict.fromkeys(shape_str(layer.output_shape) for layer in layers))
                if shapes:
                    text = " | ".join(shapes) if len(shapes) <= 3 else f"{shapes[0]} | ... | {shapes[-1]}"
                    out.append((r.end, f"→ {text}"))
        return out

    def _chains(self) -> Iterator[tuple[ast.Chain, Any, bool]]:
        """Every chain with its owner, and whether it is the last chain of a network's own body (its last
        element is the network's output, whatever it is)."""
        spec = self.spec
        bodies = [(b.body, b, False) for b in spec.blocks] + [(n.body, n, True) for n in spec.networks]
        bodies.append((spec.top, None, True))
        for body, owner, is_network in bodies:
            chains = [s for s in body.stmts if isinstance(s, ast.Chain)]
            outputs = any(isinstance(s, ast.OutputStmt) for s in body.stmts)
            for c in chains:
                yield c, owner, is_network and c is chains[-1] and not outputs
            for inner in _walk(body):
                if isinstance(inner, ast.Chain) and inner not in chains:
                    yield inner, owner, False

    def _outputs(self, b: Built, el: Any, end_of_network: bool) -> list[Layer]:
        """The output layers of an element (one per expansion)."""
        if end_of_network and not (isinstance(el, ast.OpCall) and lookup(el.name) is not None):
            return [b.layers[name] for name in b.net.graph.graph["outputs"].values()]
        if isinstance(el, ast.Labeled):
            return [out for _, out, _ in self.label_groups(b, el)]
        if isinstance(el, ast.OpCall):
            if lookup(el.name) is not None:
                return b.at.get(span_range(el.span).start, [])
            if el.body is not None:
                return [out for _, out, _ in self._groups(b, lambda p: p == el.name, el)]
            return []
        if isinstance(el, ast.Repeat) and el.chain.elements:
            return self._outputs(b, el.chain.elements[-1], False)
        if isinstance(el, ast.Ref):
            return [out for _, out, _ in _ref_groups(b, _label_matcher(el.path, el))]
        return []

    # ------------------------------------------------------------- formatting
    def formatted(self) -> str | None:
        """The text in ``archdsl fmt``'s layout (docs/editor.md, "Formatting"); None when it does not parse
        (its diagnostic says why)."""
        try:
            return format_spec(self.text, self.file)
        except ArchError:
            return None

    # ------------------------------------------------------------- completion
    def completion(self, pos: Pos, known: Document | None = None) -> list[Item]:
        """What may be written at ``pos``: op names and aliases, blocks and imports in a chain; an op's or a
        block's keyword arguments inside its parentheses; labels after ``@``; library names after
        ``import``; variables in expressions. ``known``: an earlier version of the document that loaded,
        for its blocks, variables and labels while this one does not."""
        line = self._line(pos[0])[: pos[1]]
        word = _WORD_BEFORE.search(line).group(0)
        before = line[: len(line) - len(word)]
        source = self if self.ctx is not None or known is None else known
        if re.fullmatch(r"\s*import\s+", before):
            items = [Item(name, "library", _library_detail(name)) for name in library.library()]
            return _starting(items, word)
        at = re.search(r"@([A-Za-z0-9_.]*)$", line)
        if at:
            return _starting(source._label_items(self.owner_at(pos)), at.group(1))
        call = self._enclosing_call(self.offset(pos) - len(word))
        if call is not None:
            name, so_far = call
            return _starting(source._argument_items(name, so_far), word)
        if re.search(r"(-\{|/\{|[xX×*]\{|=)[^}]*$", before):
            return _starting(source._variable_items(), word)
        items = op_items() + source._callable_items() + [Item(k, "keyword") for k in KEYWORDS]
        return _starting(items, word)

    def _enclosing_call(self, offset: int) -> tuple[str, str] | None:
        """(the name before the unclosed ``(`` that holds ``offset``, the text from it to ``offset``)."""
        depth, i, text = 0, offset - 1, self.text
        while i >= 0 and offset - i < 4000:
            c = text[i]
            if c == ")":
                depth += 1
            elif c == "(":
                if depth == 0:
                    m = re.search(r"([A-Za-z_][A-Za-z0-9_.]*)\s*$", text[max(0, i - 200) : i])
                    return (m.group(1), text[i + 1 : offset]) if m else None
                depth -= 1
            elif c in "{}":
                return None
            i -= 1
        return None

    def _argument_items(self, name: str, so_far: str) -> list[Item]:
        """Inside ``name(...)``: its keyword arguments not yet given (where a name may go), and variables."""
        last = re.split(r"[,(]", so_far)[-1]
        variables = self._variable_items()
        if "=" in last:
            return variables
        given = set(re.findall(r"([A-Za-z_]\w*)\s*=", so_far))
        found = lookup(name)
        if found is not None:
            cls = found[0]
            args = [
                Item(f"{key}=", "argument", _field_text(key, info), cls.reference[0])
                for key, info in cls.Params.model_fields.items()
                if key not in given
            ]
            return args + variables
        block = self._block(name)
        if block is not None:
            return [Item(f"{p.name}=", "argument", f"parameter of block {name}") for p in block[0].params] + variables
        return variables

    def _variable_items(self) -> list[Item]:
        ctx = self.ctx
        names = dict.fromkeys(BUILTIN_VARS)
        if ctx is not None:
            names.update(dict.fromkeys(sorted(ctx.env.names())))
        spec = self.spec
        for t in self.tokens() if spec is not None else ():
            if t.kind in ("assign", "param"):
                names[t.node.name] = None
        items = []
        for name in names:
            found, value = ctx.env.lookup(name) if ctx is not None else (False, None)
            items.append(Item(name, "variable", f"= {value_text(value)}" if found else ""))
        return items + [Item(f, "function") for f in FUNCTIONS]

    def _callable_items(self) -> list[Item]:
        """Blocks of the file and of its imports, and imported networks."""
        ctx = self.ctx
        items = []
        if ctx is not None:
            for name, block in ctx.blocks.items():
                items.append(Item(name, "block", "(" + ", ".join(p.name for p in block.params) + ")"))
            for alias, imp in ctx.imports.items():
                items.append(Item(alias, "network", f"imported {Path(imp.spec.path).name}"))
                for name, block in imp.blocks.items():
                    items.append(Item(f"{alias}.{name}", "block", "(" + ", ".join(p.name for p in block.params) + ")"))
        elif self.spec is not None:
            items += [Item(b.name, "block") for b in self.spec.blocks]
        return items

    def _label_items(self, owner: Any) -> list[Item]:
        """The labels a reference may name, with their output shape where the network builds."""
        names: dict[str, str] = {}
        b, groups, _ = self.instances(owner, lambda b: list(b.layers.values()))
        templates = []
        for t in self.tokens():
            if t.kind == "label" and isinstance(t.node.label, str):
                names.setdefault(t.node.label, "")
            elif t.kind == "label":
                templates.append(_label_matcher(t.node.label, None))
            elif t.kind == "call" and t.node.body is not None and lookup(t.node.name) is None:
                names.setdefault(t.node.name, "")
        if b is not None:
            for layer in b.layers.values():
                for part in layer.name.split("."):
                    if any(m(part) for m in templates):
                        names.setdefault(part, "")
            for name in names:
                found = _ref_groups(b, _label_matcher(name, None))
                if found:
                    names[name] = " | ".join(dict.fromkeys(shape_str(out.output_shape) for _, out, _ in found))
        return [Item(name, "label", shape) for name, shape in names.items()]


# ---------------------------------------------------------------- helpers
def _walk(node: Any) -> Iterator[Any]:
    """Every AST node under ``node`` (itself excluded)."""
    stack = [node]
    while stack:
        n = stack.pop()
        for f in fields(n) if is_dataclass(n) and not isinstance(n, Span) else ():
            if f.name in ("span", "source"):
                continue
            value = getattr(n, f.name)
            for child in value if isinstance(value, tuple) else (value,):
                if is_dataclass(child) and not isinstance(child, Span):
                    yield child
                    stack.append(child)


def _code(line: str) -> str:
    """A line without its comment (a ``#`` outside quotes and what follows)."""
    quoted = False
    for i, c in enumerate(line):
        if c == '"':
            quoted = not quoted
        elif c == "#" and not quoted:
            return line[:i]
    return line


def _label_matcher(label: str | ast.Template, node: Any) -> Callable[[str], bool]:
    """A test for one part of a layer's name: the label itself, or a quoted label's pattern
    (``"pool{s + 1}"`` → pool followed by anything). A dotted path (``@features.pool5``) tests its last part."""
    template = label if isinstance(label, ast.Template) else getattr(node, "template", None)
    if template is None:
        last = label.rpartition(".")[2]
        return lambda part: part == last
    pattern = re.compile("".join(re.escape(p) if isinstance(p, str) else ".+?" for p in template.parts) + "$")
    return lambda part: bool(pattern.match(part))


def _ref_groups(b: Built, matcher: Callable[[str], bool]) -> list[tuple[str, Layer, list[Layer]]]:
    """The layers a reference can name: every path whose last part matches, with its output layer."""
    return _with_outputs(b, _paths(b, matcher))


def _paths(b: Built, matcher: Callable[[str], bool]) -> dict[str, list[Layer]]:
    """Every path (a layer's name up to a part that matches) and the layers under it, in order."""
    groups: dict[str, list[Layer]] = {}
    for layer in b.layers.values():
        parts = layer.name.split(".")
        for i, part in enumerate(parts):
            if matcher(part):
                groups.setdefault(".".join(parts[: i + 1]), []).append(layer)
    return groups


def _with_outputs(b: Built, groups: dict[str, list[Layer]]) -> list[tuple[str, Layer, list[Layer]]]:
    """(path, its output layer: the layer of that name, else its last, its layers) for each group."""
    return [(k, b.layers.get(k, v[-1]), v) for k, v in groups.items()]


def _import_path(imp: ast.Import, file: str) -> Path | None:
    if not imp.is_path:
        entry = library.lookup(imp.target)
        return entry.path.resolve() if entry else None
    base = Path(file).parent if file != "<inline>" else Path.cwd()
    try:
        return (base / imp.target).resolve()
    except (OSError, ValueError):
        return None


def _network_line(path: Path, network: str | None) -> Range:
    """The line of ``network NAME {`` in a library file (its first line when the file itself is meant)."""
    if network is not None:
        try:
            for i, line in enumerate(path.read_text(encoding="utf-8").split("\n")):
                m = re.match(rf"\s*network\s+({re.escape(network)})\b", line)
                if m:
                    return Range((i, m.start(1)), (i, m.end(1)))
        except OSError:
            pass
    return Range((0, 0), (0, 0))


def _spec_source(ctx: FileCtx | None, file: str) -> str:
    """The text of an imported file, as it was loaded."""
    if ctx is not None:
        for imp in ctx.imports.values():
            if imp.spec.path == file:
                return imp.spec.source
    try:
        return Path(file).read_text(encoding="utf-8")
    except OSError:
        return ""


def _library_detail(name: str) -> str:
    entry = library.lookup(name)
    if entry is None:
        return ""
    return f"network of {entry.path.name}" if entry.network else f"the file {entry.path.name}"


def _starting(items: list[Item], word: str) -> list[Item]:
    """The items that start with what has been typed (any case), each label once."""
    low = word.lower()
    seen, out = set(), []
    for item in items:
        if item.label.lower().startswith(low) and item.label not in seen:
            seen.add(item.label)
            out.append(item)
    return out


def value_text(value: Any) -> str:
    """A value as the language writes it: ``(64, 128)``, ``true``, ``none``, ``"M"``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        inner = ", ".join(value_text(v) for v in value[:12]) + (", ..." if len(value) > 12 else "")
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return str(value)


def _field_text(name: str, info: Any) -> str:
    """An op argument: its type and default (``k: int | tuple[int, int] = 3``)."""
    kind = getattr(info.annotation, "__name__", None) or str(info.annotation).replace("typing.", "")
    if info.is_required():
        return f"{name}: {kind} (required unless a shorthand gives it)"
    default = "auto" if info.default is None else value_text(info.default)
    return f"{name}: {kind} = {default}"


def op_doc(cls: type[Op], written: str | None = None) -> str:
    """An op's documentation: what it is, its arguments with their defaults, shorthands, aliases."""
    doc = re.sub(r"``([^`]+)``", r"`\1`", " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split()))
    title = f"**{cls.name}**" + (f" (written `{written}`)" if written and written.lower() != cls.name else "")
    out = [f"{title}: {doc}" if doc else title]
    if cls.reference[2]:
        out.append(cls.reference[2])
    out.append(f"arguments: {cls.reference[0]}")
    if cls.reference[1] not in ("", "—"):
        out.append(f"shorthands; positional order: {cls.reference[1]}")
    also = (*cls.aliases, *cls.written_also)
    if also:
        out.append("also written " + ", ".join(f"`{a}`" for a in also))
    return "\n\n".join(out)


def op_items() -> list[Item]:
    """Every op by its name and by each alias, with its arguments."""
    items = []
    for cls in REGISTRY.values():
        if cls.is_input:
            continue
        items.append(Item(cls.name, "op", cls.reference[0], op_doc(cls)))
    for alias, cls in ALIASES.items():
        if alias != cls.name and not cls.is_input:
            items.append(Item(alias, "alias", f"{cls.name}: {cls.reference[0]}", op_doc(cls)))
    return items


def _rf(layer: Layer) -> str:
    (h, w), (sh, sw) = layer.receptive_field.size, layer.receptive_field.stride
    stride = f"{sh:g}" if sh == sw else f"{sh:g}x{sw:g}"
    return f"{h}x{w}, stride {stride}"


def _layer_text(layer: Layer) -> str:
    return (
        f"`{layer.name}` ({layer.op}): **{shape_str(layer.output_shape)}** · {layer.params:,} parameters · "
        f"{layer.macs:,} MACs · receptive field {_rf(layer)}"
    )


def _layers_text(layers: list[Layer], note: str) -> str:
    if len(layers) == 1:
        return f"{_layer_text(layers[0])}\n\n`{layers[0].describe}`\n\n*{note}*"
    shown = [f"- {_layer_text(layer)}" for layer in layers[:MAX_SHOWN]]
    if len(layers) > MAX_SHOWN:
        shown.append(f"- and {len(layers) - MAX_SHOWN} more")
    params, macs = sum(x.params for x in layers), sum(x.macs for x in layers)
    head = f"{len(layers)} layers from this text: {params:,} parameters, {macs:,} MACs in all"
    return head + "\n\n" + "\n".join(shown) + f"\n\n*{note}*"


def _groups_text(groups: list[tuple[str, Layer, list[Layer]]], note: str) -> str:
    lines = []
    for path, out, layers in groups[:MAX_SHOWN]:
        params, macs = sum(x.params for x in layers), sum(x.macs for x in layers)
        lines.append(
            f"`{path}`: output **{shape_str(out.output_shape)}** · {params:,} parameters · {macs:,} MACs · "
            f"{len(layers)} layer{'s' if len(layers) != 1 else ''} · receptive field {_rf(out)}"
        )
    if len(groups) > MAX_SHOWN:
        lines.append(f"and {len(groups) - MAX_SHOWN} more")
    bullet = "- " if len(lines) > 1 else ""
    return "\n".join(bullet + x for x in lines) + f"\n\n*{note}*"
