"""A per-user cache of what is slow to rebuild and never changes for the same input: the parser's
LALR tables, the parsed ASTs of the library's spec files, and input contracts.

The cache lives in a folder only its user can use: ``$ARCHDSL_CACHE_DIR``, else
``$XDG_CACHE_HOME/archdsl``, else ``~/.cache/archdsl``, made with mode 0700. It is used only
while it is a real folder (not a symbolic link) owned by this user that no one else may read,
write or enter, and never when it is the file system's root, a folder directly under it, or the
home folder. Every file is opened relative to the folder's descriptor, checked there, and never
through a symbolic link.

An entry is a private regular file (created with ``O_EXCL``, mode 0600, written under a
temporary name and renamed into place) that starts with a header: a magic line, the key it was
stored under and the SHA-256 of its payload. Reading one checks its owner and mode on the open
descriptor (opened non-blocking, so a FIFO cannot hang it), its size, the header and the hash
*before* anything is unpickled; the unpickler builds only plain Python values and archdsl's AST
nodes (it can call no other code), and each kind's check looks at what came out. Any entry that
fails is a miss: the work is done again and the entry rewritten, never an error.

Keys hash everything an entry depends on (the text, its file name, the grammar, and the parser
and AST code), so a change to any of them simply misses. ``ARCHDSL_NO_CACHE=1`` turns the cache
off; so does any error reading or writing it.

A ``report vgg16`` from a warm cache never imports lark: the AST of ``vgg.arch`` comes from here.

A wheel is built with the entries every user would otherwise make on a first run (``archdsl/prebuilt``,
hatch_build.py): the parser's tables and the library networks' input contracts, read (header, hash, restricted
unpickler, the same checks but ownership: the package's files are as trusted as its code) where the user's
folder has no entry, so that a cold cache costs a library network no more than a warm one.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import pickle
import secrets
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .limits import MAX_ENTRY_BYTES
from .resources import grammar_path, prebuilt

MAGIC = b"archdsl-cache 2\n"
_SUPPORTED = (
    all(hasattr(os, flag) for flag in ("O_NOFOLLOW", "O_DIRECTORY", "O_NONBLOCK"))
    and {os.open, os.rename, os.unlink} <= os.supports_dir_fd
)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


# ------------------------------------------------------------------ the folder
def folder() -> Path | None:
    """The cache folder, made if missing; None when caching is off or the folder is not safe to use."""
    if os.environ.get("ARCHDSL_NO_CACHE") or not _SUPPORTED:
        return None
    base = os.environ.get("ARCHDSL_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = os.path.join(xdg if xdg else os.path.join(os.path.expanduser("~"), ".cache"), "archdsl")
    path = Path(os.path.abspath(base))
    if _system_folder(path):
        return None
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path if _private(os.lstat(path)) else None
    except OSError:
        return None


def _system_folder(path: Path) -> bool:
    """The file system's root, a folder directly under it (/etc, /tmp, /root), or the home folder:
    never a cache folder, whoever owns it."""
    real = Path(os.path.realpath(path))
    home = Path(os.path.realpath(os.path.expanduser("~")))
    return len(real.parts) < 3 or real == home


def _private(info: os.stat_result) -> bool:
    """A folder this user owns that no one else may read, write or enter (not a symbolic link)."""
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


@contextlib.contextmanager
def _opened() -> Iterator[int | None]:
    """A descriptor of the cache folder, checked on the descriptor itself; None when unsafe or off."""
    path = folder()
    fd = None
    if path is not None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC)
            if not _private(os.fstat(fd)):
                os.close(fd)
                fd = None
        except OSError:
            fd = None
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


# ------------------------------------------------------------------ entries
# the code whose output each kind of entry holds: an entry made by other code is never read
SOURCES = {
    "ast": ("lang/parse.py", "lang/ast.py", "errors.py"),
    "contract": ("ir/contract.py", "ir/symbolic/*.py", "ir/sizes.py", "errors.py", "ops/*.py"),
}


@functools.cache
def code_version(kind: str = "ast") -> str:
    """A hash of the grammar and of the code whose output an entry of ``kind`` holds (SOURCES)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(grammar_path().read_bytes())
    for pattern in SOURCES.get(kind, SOURCES["ast"]):
        for path in sorted(here.glob(pattern)):
            h.update(path.read_bytes())
    return h.hexdigest()[:24]


def key(kind: str, *parts: str) -> str:
    """The name of the entry for ``parts`` (hashed with the version of the code that makes it)."""
    h = hashlib.sha256(code_version(kind).encode())
    for part in parts:
        h.update(b"\0" + part.encode("utf-8", "surrogatepass"))
    return f"{kind}-{h.hexdigest()[:32]}.pickle"


def entry(kind: str, *parts: str) -> Path | None:
    """Where the entry for ``parts`` lies, or None when caching is off or unsafe."""
    where = folder()
    return None if where is None else where / key(kind, *parts)


def cached(
    kind: str,
    parts: tuple[str, ...],
    make: Callable[[], Any],
    check: Callable[[Any], bool] | None = None,
    local: str | None = None,
) -> Any:
    """``make()``'s result, from the cache when it holds a sound one for ``parts`` (one that
    ``check``, when given, accepts). ``local``: a string the value holds that differs from machine to machine
    (a library spec's path, in every span of its AST): the entry keeps a reference in its place, and reading
    it puts back this machine's, so that one entry serves every installation (and a wheel can ship it)."""
    name = key(kind, *parts)
    with _opened() as where:
        value = load(where, name, local) if where is not None else None
        if value is not None and (check is None or _accepts(check, value)):
            return value
        value = shipped(name, local)
        if value is not None and (check is None or _accepts(check, value)):
            return value
        value = make()
        if where is not None:
            store(where, name, value, local)
        return value


def _accepts(check: Callable[[Any], bool], value: Any) -> bool:
    try:
        return bool(check(value))
    except Exception:  # a check that trips over a malformed value has its answer
        return False


def shipped(name: str, local: str | None = None) -> Any:
    """The entry ``name`` as the wheel was built with it (``archdsl/prebuilt``), or None: none shipped, caching
    off, or an entry that fails the header, the hash or the unpickler."""
    folder = prebuilt()
    if folder is None or os.environ.get("ARCHDSL_NO_CACHE"):
        return None
    try:
        with open(folder / name, "rb") as f:
            data = f.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    payload = _payload(data, name) if len(data) <= MAX_ENTRY_BYTES else None
    try:
        return None if payload is None else _Unpickler(io.BytesIO(payload), local).load()
    except Exception:
        return None


def load(where: int, name: str, local: str | None = None) -> Any:
    """The value in entry ``name`` of the folder open at ``where``, or None: missing, not a private
    regular file of this user, too large, damaged, or holding anything but plain values and AST nodes."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, dir_fd=where)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.geteuid()
            or info.st_mode & 0o077
            or info.st_size > MAX_ENTRY_BYTES
        ):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    payload = _payload(data, name)
    if payload is None:
        return None
    try:
        return _Unpickler(io.BytesIO(payload), local).load()
    except Exception:  # a foreign or damaged payload whatever pickle makes of it
        return None


def _header(name: str, payload: bytes) -> bytes:
    return MAGIC + name.encode() + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n"


def _payload(data: bytes, name: str) -> bytes | None:
    """The payload after a header that names this entry and hashes to the payload; else None."""
    head = MAGIC + name.encode() + b"\n"
    if not data.startswith(head):
        return None
    digest, newline, payload = data[len(head) :].partition(b"\n")
    return payload if newline and digest == hashlib.sha256(payload).hexdigest().encode() else None


def store(where: int, name: str, value: Any, local: str | None = None) -> None:
    """Write ``value`` as entry ``name``: a new private file (O_EXCL, 0600) under a temporary name,
    renamed over the entry; errors are ignored (the work was done, it is just not kept)."""
    tmp = f".tmp-{name}-{os.getpid()}-{secrets.token_hex(8)}"
    try:
        payload = _pickled(value, local)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC, 0o600, dir_fd=where)
    except Exception:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)  # whatever the umask
            f.write(_header(name, payload) + payload)
        os.replace(tmp, name, src_dir_fd=where, dst_dir_fd=where)
    except Exception:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=where)


# the classes an entry may hold besides plain values: archdsl's AST nodes and spans, and lark's tokens
AST_MODULE = "archdsl.lang.ast"
_ALLOWED = {"archdsl.errors": {"Span"}, "lark.lexer": {"Token"}}


LOCAL = "local"  # the persistent id that stands for the ``local`` string in an entry


def _pickled(value: Any, local: str | None) -> bytes:
    """``value`` pickled, every string equal to ``local`` kept as a reference to it."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    if local is not None:
        pickler.persistent_id = lambda obj: LOCAL if type(obj) is str and obj == local else None
    pickler.dump(value)
    return buf.getvalue()


class _Unpickler(pickle.Unpickler):
    """An unpickler that can build plain values and the classes of _ALLOWED and archdsl.lang.ast, and
    call nothing else: an entry cannot run code, whatever it holds. A reference stands for ``local``."""

    def __init__(self, file: io.BytesIO, local: str | None = None):
        super().__init__(file)
        self.local = local

    def persistent_load(self, pid: Any) -> str:
        if pid != LOCAL or self.local is None:
            raise pickle.UnpicklingError("an entry refers to a value this read does not give")
        return self.local

    def find_class(self, module: str, name: str) -> Any:
        if module == AST_MODULE:  # loaded already by whoever reads an AST entry (archdsl.lang.files)
            found = getattr(sys.modules.get(AST_MODULE), name, None)
            if isinstance(found, type) and found.__module__ == AST_MODULE:
                return found
        elif name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache entry")
