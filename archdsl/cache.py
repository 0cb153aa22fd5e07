"""A per-user cache of what is slow to rebuild and never changes for the same input: the parser's
LALR tables and the parsed ASTs of the library's spec files.

Both are pickles, and loading a pickle runs code, so the cache lives in a folder only its user
can write: ``$ARCHDSL_CACHE_DIR``, else ``$XDG_CACHE_HOME/archdsl``, else ``~/.cache/archdsl``,
made with mode 0700 and used only while it is owned by this user and writable by no one else.
Entries are named by a hash of everything they depend on (the text, its file name, the grammar,
and the parser and AST code), so a change to any of them simply misses. ``ARCHDSL_NO_CACHE=1``
turns it off; so does any error reading or writing it (the work is then done, not cached).

A ``report vgg16`` from a warm cache never imports lark: the AST of ``vgg.arch`` comes from here.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable


def folder() -> Path | None:
    """The cache folder, made if missing; None when caching is off or the folder is not safe to use."""
    if os.environ.get("ARCHDSL_NO_CACHE"):
        return None
    base = os.environ.get("ARCHDSL_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = os.path.join(xdg if xdg else os.path.join(os.path.expanduser("~"), ".cache"), "archdsl")
    path = Path(base)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return None
    return path


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the grammar and of the code whose output is cached (parse.py, ast.py, errors.py)."""
    from .library import grammar_path
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in (grammar_path(), here / "parse.py", here / "ast.py", here / "errors.py"):
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


def entry(kind: str, *parts: str) -> Path | None:
    """The cache file for ``parts`` (hashed with the code version), or None when caching is off."""
    where = folder()
    if where is None:
        return None
    h = hashlib.sha256(code_version().encode())
    for part in parts:
        h.update(b"\0" + part.encode("utf-8", "surrogatepass"))
    return where / f"{kind}-{h.hexdigest()[:32]}.pickle"


def load(path: Path | None) -> Any:
    """The cached object at ``path``, or None (missing, unreadable, or from another Python)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception:  # a missing, partial or foreign entry is a miss, whatever pickle makes of it
        return None


def store(path: Path | None, value: Any) -> None:
    """Write ``value`` at ``path`` atomically (a temporary file renamed over it); errors are ignored."""
    if path is None:
        return
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception:  # a read-only or full disk: the work was done, it is just not kept
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def cached(kind: str, parts: tuple[str, ...], make: Callable[[], Any]) -> Any:
    """``make()``'s result, from the cache when it holds one for ``parts``."""
    path = entry(kind, *parts)
    value = load(path)
    if value is None:
        value = make()
        store(path, value)
    return value
