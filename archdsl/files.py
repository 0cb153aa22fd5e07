"""Spec files: reading, parsing, variables with overrides, blocks, networks and imports."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ast, library
from .errors import ArchError, LimitError, Span, UnknownNameError
from .eval import Env, evaluate
from .ops import lookup
from .parse import parse

MAX_DEPTH = 64  # nested block instances / imports
BUILTIN_VARS = {"classes": 1000, "filters": 32, "hidden": 128}


@dataclass
class FileCtx:
    """A parsed spec file with its variables, blocks and imports resolved."""

    spec: ast.SpecFile
    env: Env
    blocks: dict[str, ast.BlockDef]
    imports: dict[str, "FileCtx"]
    networks: dict[str, ast.NetworkDef]
    default: str | None = None  # the network a library name chose (``import vgg16`` reads vgg.arch)
    pending: dict[str, Any] = field(default_factory=dict)  # overrides of variables defined inside a network

    @property
    def stem(self) -> str:
        return Path(self.spec.path).stem if self.spec.path != "<inline>" else "main"


def main_network(ctx: FileCtx, span: Span | None, name: str | None = None) -> ast.NetworkDef:
    """The network a file stands for: the named one, the top-level chain, the one named like the file,
    or the last one defined."""
    name = name if name is not None else ctx.default
    if name is not None:
        if name not in ctx.networks:
            raise UnknownNameError("network", name, list(ctx.networks), span)
        return ctx.networks[name]
    if any(isinstance(s, (ast.Chain, ast.InputStmt)) for s in ctx.spec.top.stmts):
        body = ast.Body(tuple(s for s in ctx.spec.top.stmts if not isinstance(s, ast.Assign)))
        return ast.NetworkDef(ctx.stem, body, Span(ctx.spec.path, 1, 1, ctx.spec.source))
    if ctx.stem in ctx.networks:
        return ctx.networks[ctx.stem]
    if ctx.networks:
        return list(ctx.networks.values())[-1]
    raise ArchError("the spec defines no network", Span(ctx.spec.path, 1, 1, ctx.spec.source),
                    "write a chain like `conv3-64 - relu - maxpool - fc` or a `network name { ... }`")


def load_file(text: str, file: str = "<inline>", overrides: dict[str, Any] | None = None,
              stack: tuple[str, ...] = ()) -> FileCtx:
    """Parse a spec and resolve its variables (with ``overrides``), blocks and imports."""
    spec = parse(text, file)
    env = Env(dict(BUILTIN_VARS)).child()
    overrides = dict(overrides or {})
    for stmt in spec.top.stmts:
        if isinstance(stmt, ast.Assign):
            value = overrides.pop(stmt.name) if stmt.name in overrides else evaluate(stmt.value, env)
            env.set(stmt.name, value, stmt.span)
    in_networks = {st.name for n in spec.networks for st in n.body.stmts if isinstance(st, ast.Assign)}
    pending = {}
    for name, value in overrides.items():
        if not env.lookup(name)[0] and name in in_networks:
            pending[name] = value  # `aux = 0` inside a network: the network's own line takes the value
        elif env.lookup(name)[0]:
            env.override(name, value, None)
        else:
            known = env.names() | in_networks
            raise UnknownNameError("variable", name, known, None,
                                   None if known else "the spec defines no variables")
    blocks: dict[str, ast.BlockDef] = {}
    for b in spec.blocks:
        if b.name in blocks:
            raise ArchError(f"block '{b.name}' is defined twice", b.span)
        seen = set()
        for p in b.params:
            if p.name in seen:
                raise ArchError(f"block '{b.name}' has two parameters named '{p.name}'", p.span)
            seen.add(p.name)
        if lookup(b.name):
            raise ArchError(f"block '{b.name}' has the name of an op", b.span, "choose another name")
        blocks[b.name] = b
    networks: dict[str, ast.NetworkDef] = {}
    for n in spec.networks:
        if n.name in networks:
            raise ArchError(f"network '{n.name}' is defined twice", n.span, "give each network its own name")
        networks[n.name] = n
    imports: dict[str, FileCtx] = {}
    for imp in spec.imports:
        if imp.alias in imports:
            raise ArchError(f"'{imp.alias}' is imported twice", imp.span, "give the second one a name: import ... as x")
        imports[imp.alias] = _import(imp, file, stack)
    return FileCtx(spec, env, blocks, imports, networks, pending=pending)


def _import(imp: ast.Import, file: str, stack: tuple[str, ...]) -> FileCtx:
    if imp.is_path:
        base = Path(file).parent if file != "<inline>" else Path.cwd()
        path = (base / imp.target).resolve()
        if not path.is_file():
            where = "the current folder" if file == "<inline>" else f"the folder of {Path(file).name}"
            raise ArchError(f"cannot import '{imp.target}': no such file", imp.span,
                            f"a quoted import path is relative to {where}; a bare name imports a library spec")
    else:
        entry = library.lookup(imp.target)
        if entry is None:
            raise UnknownNameError("library spec", imp.target, library.library(), imp.span,
                                   None if library.library() else "the spec library is empty")
        path = entry.path.resolve()
    key = str(path)
    if key in stack or key == str(Path(file).resolve()):
        chain = (*stack, str(Path(file).resolve()), key)  # the files above, this one, and the one it imports
        raise ArchError(f"import cycle: {' -> '.join(Path(s).name for s in chain)}", imp.span,
                        "specs may not import each other in a circle")
    if len(stack) >= MAX_DEPTH:
        raise LimitError(f"imports nest deeper than {MAX_DEPTH}", imp.span)
    ctx = load_file(read_spec(path, imp.span), str(path), None, (*stack, str(Path(file).resolve())))
    if not imp.is_path:
        ctx.default = entry.network
    return ctx


def read_spec(path: Path, span: Span | None = None) -> str:
    from .parse import MAX_SOURCE_BYTES
    data = path.read_bytes()
    if len(data) > MAX_SOURCE_BYTES:
        raise LimitError(f"{path.name} is larger than {MAX_SOURCE_BYTES:,} bytes", span)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ArchError(f"{path.name} is not UTF-8 text (byte {err.start})", span,
                        "save the spec as UTF-8") from None
