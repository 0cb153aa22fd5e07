"""The spec library: every ``specs/**/*.arch`` file, found by its file name or by a network it defines.

A file may hold one network (``lenet5.arch``) or a family (``vgg.arch`` defines ``vgg11`` …
``vgg19_bn``); every ``network NAME`` is a library name of its own, and so is every file stem
(``import residual`` reads a file of blocks).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArchError, Span
from ..resources import spec_root

_NETWORK = re.compile(r"^network\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{", re.M)
_DEFINITION = re.compile(r"(network|block)\b")
_CHAIN_START = re.compile(r"^(?!network\b|block\b|import\b|#)\s*input\b", re.M | re.I)
# a network's published ImageNet top-1: "# top-1: 69.758 (where it was published)"
_TOP1 = re.compile(r"#\s*top-1\b")
_TOP1_LINE = re.compile(r"#\s*top-1:\s*(?P<value>\d{1,3}(?:\.\d+)?)\s+\((?P<source>.*\S.*)\)\s*$")


@dataclass(frozen=True)
class Entry:
    """A library name: the file that holds it and the network it names (None: the file's main network)."""

    name: str
    path: Path
    network: str | None

    @property
    def top1(self) -> Published | None:
        """The network's published ImageNet top-1 accuracy, where its spec states one (:func:`published_top1`)."""
        return published_top1(self.path, self.network)

    @property
    def description(self) -> str:
        """The comment line above ``network NAME {``, else the file's first comment line (read when asked:
        finding a name needs none of them)."""
        if self.network is not None:
            found = _network_description(_read(self.path), self.network)
            if found:
                return found
        return description(self.path)


@dataclass(frozen=True)
class Published:
    """A published figure a spec states, with its source: ``# top-1: 69.758 (torchvision's ...)``."""

    top1: float  # per cent, as published
    source: str  # where it was published: the paper's table, torchvision's weights, ...
    line: int  # the line of the spec that states it


@functools.cache
def _read(path: Path) -> str:
    """A library file's text, read once per process (the index and every description use it)."""
    return path.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _index() -> tuple[dict[str, Entry], dict[str, Entry]]:
    """(networks a user can load, every name including files of blocks), each sorted by name."""
    networks: dict[str, Entry] = {}
    files: dict[str, Entry] = {}
    for path in sorted(spec_root().rglob("*.arch")):
        text = _read(path)
        names = _NETWORK.findall(text)
        files[path.stem] = Entry(path.stem, path, None)
        if not names or _CHAIN_START.search(_outside_networks(text)):
            networks[path.stem] = files[path.stem]
        for name in names:
            networks.setdefault(name, Entry(name, path, name))
    everything = {**files, **networks}
    return dict(sorted(networks.items())), dict(sorted(everything.items()))


def entries() -> dict[str, Entry]:
    """The networks of the library: name → Entry, sorted by name (what ``archdsl list`` shows)."""
    return _index()[0]


def library() -> dict[str, Path]:
    """Every library name (networks and files) → its spec file."""
    return {name: e.path for name, e in _index()[1].items()}


def lookup(name: str) -> Entry | None:
    """A library name → its Entry (a network by its name, or a file by its stem)."""
    return _index()[1].get(name)


def find(name: str) -> Path | None:
    entry = lookup(name)
    return entry.path if entry else None


def description(path: Path) -> str:
    """The spec's first comment line, which by convention says what it is."""
    for line in _read(path).splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""


def _network_description(text: str, name: str) -> str:
    """The first line of the comment block right above ``network NAME {``."""
    lines = text.splitlines()
    header = re.compile(rf"network\s+{name}\s*\{{")
    for i, line in enumerate(lines):
        if header.match(line):
            j = i
            while j > 0 and lines[j - 1].startswith("#"):
                j -= 1
            return lines[j].lstrip("# ").strip() if j < i else ""
    return ""


def _outside_networks(text: str) -> str:
    """The text with every ``network``/``block`` body removed (brace counting), to find a top-level chain."""
    out, depth = [], 0
    for line in text.splitlines():
        if depth == 0 and not _DEFINITION.match(line):
            out.append(line)
        depth += line.count("{") - line.count("}")
        depth = max(depth, 0)
    return "\n".join(out)


def published_top1(path: Path, network: str | None = None) -> Published | None:
    """The ImageNet top-1 accuracy a spec states for a network, or None.

    The figure is a comment line ``# top-1: VALUE (SOURCE)``: VALUE the published top-1 accuracy in per cent,
    SOURCE where it was published (the paper's table and protocol, or the torchvision weights it belongs to). It
    stands in the comment block right above ``network NAME {`` (``network`` given), or in the file's header
    comment for the file's own network (``network`` None). A line that starts ``# top-1`` and does not read so
    is an error."""
    text = _read(path) if path.is_relative_to(spec_root()) else path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if network is None:
        block = range(next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines)))
    else:
        header = re.compile(rf"network\s+{re.escape(network)}\s*\{{")
        at = next((i for i, line in enumerate(lines) if header.match(line)), None)
        if at is None:
            return None
        start = at
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
        block = range(start, at)
    found = None
    for i in block:
        if not _TOP1.match(lines[i]):
            continue
        where = Span(str(path), i + 1, 1, text, len(lines[i]))
        m = _TOP1_LINE.match(lines[i])
        if m is None or not 0 < float(m["value"]) <= 100:
            raise ArchError(
                "a top-1 line reads '# top-1: VALUE (SOURCE)', VALUE the published accuracy in per cent",
                where,
                "SOURCE says where it was published: the paper's table (single or 10-crop) or torchvision's weights",
            )
        if found is not None:
            raise ArchError(f"a second top-1 line for one network (the first is line {found.line})", where)
        found = Published(float(m["value"]), m["source"].strip(), i + 1)
    return found
