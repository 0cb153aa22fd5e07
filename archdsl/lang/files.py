"""Spec files: reading, parsing, variables with overrides, blocks, networks and imports."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import cache
from ..errors import ArchError, LimitError, Span, UnknownNameError, did_you_mean, escaped
from ..limits import MAX_DEPTH, MAX_SOURCE_BYTES, MAX_STEPS
from ..ops import lookup
from . import ast, library
from .eval import Env, evaluate, outside, reset_work, work_done

BUILTIN_VARS = {"classes": 1000, "filters": 32, "hidden": 128}


@dataclass
class FileCtx:
    """A parsed spec file with its variables, blocks and imports resolved."""

    spec: ast.SpecFile
    env: Env
    blocks: dict[str, ast.BlockDef]
    imports: dict[str, FileCtx]
    networks: dict[str, ast.NetworkDef]
    default: str | None = None  # the network a library name chose (``import vgg16`` reads vgg.arch)
    pending: dict[str, Any] = field(default_factory=dict)  # overrides of variables defined inside a network
    steps: int = 0  # the expansion steps loading the file took (a step per character read), and the values
    values: int = 0  # its expressions made: elaborate() goes on counting from there

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
    raise ArchError(
        "the spec defines no network",
        Span(ctx.spec.path, 1, 1, ctx.spec.source),
        "write a chain like `conv3-64 - relu - maxpool - fc` or a `network name { ... }`",
    )


def load_file(
    text: str,
    file: str = "<inline>",
    overrides: dict[str, Any] | None = None,
    stack: tuple[str, ...] = (),
    allow_outside: bool = False,
    root: Path | None = None,
) -> FileCtx:
    """Parse a spec and resolve its variables (with ``overrides``), blocks and imports.

    A quoted import is confined to ``root`` (the folder of the spec that was loaded, or the current
    folder for inline text) and the spec library, unless ``allow_outside``: ``import "../x.arch"``
    or ``import "/etc/x.arch"`` is refused, so that a spec from elsewhere cannot read files
    outside its own folder.

    Each imported file is read, parsed and evaluated once per load, however often and by however
    many files it is imported; every file read costs a step per character (the expansion's
    MAX_STEPS budget, which elaborate() goes on spending), so no web of imports can take long."""
    reset_work()
    overrides = {name: outside(name, value) for name, value in (overrides or {}).items()}
    loading = Loading(root if root is not None else spec_folder(file), allow_outside)
    ctx = _load(text, file, overrides, stack, loading, None)
    ctx.steps, ctx.values = loading.steps, work_done()
    return ctx


@dataclass
class Loading:
    """One load: the files imported so far (by resolved path, each loaded once) and the steps spent."""

    root: Path
    allow_outside: bool
    files: dict[str, FileCtx] = field(default_factory=dict)
    steps: int = 0

    def charge(self, size: int, span: Span | None, name: str) -> None:
        """Reading a file costs a step per character of it."""
        self.steps += size
        if self.steps > MAX_STEPS:
            raise LimitError(
                f"the imports would take more than {MAX_STEPS:,} steps to load: {self.steps - size:,} "
                f"so far, and {name} adds {size:,}",
                span,
                "each character read is a step; import fewer or smaller files",
            )


def _load(
    text: str, file: str, overrides: dict[str, Any] | None, stack: tuple[str, ...], loading: Loading, span: Span | None
) -> FileCtx:
    """load_file's work for one file of the load; ``span`` is the import that reads it."""
    spec = parse_spec(text, file)
    loading.charge(len(text), span, Path(file).name if file != "<inline>" else "the spec")
    env, pending = _variables(spec, dict(overrides or {}))
    blocks = _blocks(spec)
    networks: dict[str, ast.NetworkDef] = {}
    for n in spec.networks:
        if n.name in networks:
            raise ArchError(f"network '{n.name}' is defined twice", n.span, "give each network its own name")
        networks[n.name] = n
    imports: dict[str, FileCtx] = {}
    for imp in spec.imports:
        if imp.alias in imports:
            raise ArchError(f"'{imp.alias}' is imported twice", imp.span, "give the second one a name: import ... as x")
        imports[imp.alias] = _import(imp, file, stack, loading)
    return FileCtx(spec, env, blocks, imports, networks, pending=pending)


def _variables(spec: ast.SpecFile, overrides: dict[str, Any]) -> tuple[Env, dict[str, Any]]:
    """The file's variables, evaluated in order with ``overrides`` in place of their lines, and the
    overrides of variables that a network defines (``aux = 0`` inside it: the network's own line
    takes the value)."""
    env = _file_env(spec, overrides)
    in_networks = {st.name for n in spec.networks for st in n.body.stmts if isinstance(st, ast.Assign)}
    pending, nowhere = _place(env, overrides, in_networks)
    for name in nowhere:
        known = env.names() | in_networks
        raise UnknownNameError(
            "variable",
            name,
            known,
            None,
            None if did_you_mean(name, known) else f"the spec's variables are {', '.join(sorted(known))}",
        )
    return env, pending


def _file_env(spec: ast.SpecFile, values: dict[str, Any]) -> Env:
    """The file's variables: its assignments evaluated in order, with ``values`` in place of their lines."""
    env = Env(dict(BUILTIN_VARS)).child()
    for stmt in spec.top.stmts:
        if isinstance(stmt, ast.Assign):
            env.set(stmt.name, values[stmt.name] if stmt.name in values else evaluate(stmt.value, env), stmt.span)
    return env


def _place(env: Env, values: dict[str, Any], own: set[str]) -> tuple[dict[str, Any], list[str]]:
    """Values set from outside, each where it is defined: a network's own line takes it (returned, for the
    network to use), the file's variable too where both define it (rois = 300 above, rois = 2000 in
    fast_rcnn_vgg16). Returns those and the names defined nowhere."""
    pending, nowhere = {}, []
    for name, value in values.items():
        if name in own:
            pending[name] = value
        if env.lookup(name)[0]:
            env.override(name, value, None)
        elif name not in own:
            nowhere.append(name)
    return pending, nowhere


def _blocks(spec: ast.SpecFile) -> dict[str, ast.BlockDef]:
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
    return blocks


def spec_folder(file: str) -> Path:
    """The folder a spec's quoted imports are confined to: its own, or the current one for inline text."""
    return (Path(file).parent if file != "<inline>" else Path.cwd()).resolve()


def with_overrides(
    ctx: FileCtx, overrides: dict[str, tuple[Any, Span | None]], network: ast.NetworkDef
) -> tuple[FileCtx, dict[str, Any]]:
    """The file again with variables set from outside, as an import's call sets them
    (``vgg16(classes=10)``): the file's assignments run again in order with those values, so that
    its blocks and the values computed from them see them too. Returns the new context and the
    values for variables that ``network`` itself defines (``googlenet(aux=1)``)."""
    values = {name: value for name, (value, _) in overrides.items()}
    env = _file_env(ctx.spec, values)
    own = {st.name for st in network.body.stmts if isinstance(st, ast.Assign)}
    pending, nowhere = _place(env, values, own)
    for name in nowhere:
        raise UnknownNameError(
            "variable",
            name,
            env.names() | own,
            overrides[name][1],
            None if env.names() | own else f"network '{network.name}' has no variables",
            where=f" of network '{network.name}'",
        )
    return FileCtx(ctx.spec, env, ctx.blocks, ctx.imports, ctx.networks, ctx.default), pending


def _import(imp: ast.Import, file: str, stack: tuple[str, ...], loading: Loading) -> FileCtx:
    """The file an import names, loaded once per load: a second import of it (by any file, under
    any alias) shares the first one's context."""
    path, entry = _resolve(imp, file, stack, loading)
    key = str(path)
    if key in stack or key == str(Path(file).resolve()):
        chain = (*stack, str(Path(file).resolve()), key)  # the files above, this one, and the one it imports
        raise ArchError(
            f"import cycle: {' -> '.join(Path(s).name for s in chain)}",
            imp.span,
            "specs may not import each other in a circle",
        )
    if len(stack) >= MAX_DEPTH:
        raise LimitError(f"imports nest deeper than {MAX_DEPTH}", imp.span)
    ctx = loading.files.get(key)
    if ctx is None:
        ctx = _load(read_spec(path, imp.span), key, None, (*stack, str(Path(file).resolve())), loading, imp.span)
        loading.files[key] = ctx
    return ctx if entry is None else replace(ctx, default=entry.network)


def _resolve(imp: ast.Import, file: str, stack: tuple[str, ...], loading: Loading) -> tuple[Path, library.Entry | None]:
    """The resolved path of the file an import names (a quoted path, confined to the load's root
    and the library, or a library name), and the library entry a name stands for."""
    if not imp.is_path:
        entry = library.lookup(imp.target)
        if entry is None:
            raise UnknownNameError(
                "library spec",
                imp.target,
                library.library(),
                imp.span,
                None if library.library() else "the spec library is empty",
            )
        return entry.path.resolve(), entry
    shown = _shown(imp.target)
    if "\0" in imp.target:
        raise ArchError(f"cannot import '{shown}': a path holds no NUL character", imp.span)
    base = Path(file).parent if file != "<inline>" else Path.cwd()
    try:
        path = (base / imp.target).resolve()
        if not loading.allow_outside and (Path(imp.target).is_absolute() or not _inside(path, loading.root)):
            where = (
                ("the current folder" if file == "<inline>" else f"the folder of {Path(file).name}")
                if not stack
                else f"the folder of the spec ({loading.root})"
            )
            what = "an absolute path" if Path(imp.target).is_absolute() else f"a path outside {where}"
            raise ArchError(
                f"cannot import '{shown}': {what}",
                imp.span,
                "imports are confined to the spec's folder and the spec library; copy the file "
                "beside the spec, or load it with archdsl.load(..., allow_imports_outside=True)",
            )
        regular = path.is_file()
    except (OSError, ValueError, RuntimeError) as err:  # a name too long, a symlink loop
        reason = getattr(err, "strerror", None) or "not a usable path"
        raise ArchError(f"cannot import '{shown}': {reason}", imp.span) from None
    if not regular:
        where = "the current folder" if file == "<inline>" else f"the folder of {Path(file).name}"
        what = "not a regular file" if path.exists() else "no such file"
        raise ArchError(
            f"cannot import '{shown}': {what}",
            imp.span,
            f"a quoted import path is relative to {where}; a bare name imports a library spec",
        )
    return path, None


def _shown(target: str, most: int = 80) -> str:
    """An import path as an error message shows it: at most ``most`` characters, control characters escaped."""
    target = escaped(target)
    return target if len(target) <= most else f"{target[: most // 2]}...{target[-most // 2 + 3 :]}"


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (resolved) lies in ``root`` or in the spec library."""
    return path.is_relative_to(root) or _in_library(path) is not None


def parse_spec(text: str, file: str) -> ast.SpecFile:
    """``parse.parse``; a library file's AST comes from the per-user cache when it holds one
    (archdsl/cache.py), and then the parser (and lark) is not even imported."""

    def parse() -> ast.SpecFile:
        from .parse import parse

        return parse(text, file)

    where = None if file == "<inline>" else _in_library(Path(file))
    if where is None:
        return parse()
    # keyed by the path within the library, the path itself a reference in the entry: one entry serves every
    # installation, and a wheel ships them (hatch_build.py)
    check = lambda tree: isinstance(tree, ast.SpecFile) and tree.path == file  # noqa: E731
    return cache.cached("ast", (where, text), parse, check, local=file)


def _in_library(path: Path) -> str | None:
    """Where ``path`` lies in the spec library (``classic/vgg.arch``), or None: outside it."""
    try:
        resolved, root = path.resolve(), library.spec_root().resolve()
        return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else None
    except OSError:  # no specs/ in this installation (FileNotFoundError), or a path that cannot resolve
        return None


def read_spec(path: Path, span: Span | None = None) -> str:
    """A spec file's text: at most MAX_SOURCE_BYTES (never more is read) of UTF-8."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as err:
        raise ArchError(f"cannot read {path}: {err.strerror or err}", span) from None
    if len(data) > MAX_SOURCE_BYTES:
        raise LimitError(
            f"{path.name} is larger than {MAX_SOURCE_BYTES:,} bytes", span, "split it into files joined with `import`"
        )
    try:
        return data.decode("utf-8-sig")  # a byte order mark, as some editors write, is not part of the text
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = len(data[data.rfind(b"\n", 0, err.start) + 1 : err.start].decode("utf-8", "replace")) + 1
        raise ArchError(
            f"{path.name} is not UTF-8 text (byte 0x{data[err.start]:02x})",
            Span(str(path), line, column, data.decode("utf-8", "replace")),
            "save the spec as UTF-8",
        ) from None
