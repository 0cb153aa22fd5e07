"""The spec library: every ``specs/**/*.arch`` file, found by its file name."""
from __future__ import annotations

import functools
from pathlib import Path


def spec_root() -> Path:
    """``specs/`` beside the package (editable checkout) or inside it (installed wheel)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "specs", here.parent / "specs"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("archdsl's specs/ folder is missing from this installation")


@functools.lru_cache(maxsize=1)
def library() -> dict[str, Path]:
    """Library name → spec file, sorted by name."""
    found = {p.stem: p for p in sorted(spec_root().rglob("*.arch"))}
    return dict(sorted(found.items()))


def find(name: str) -> Path | None:
    return library().get(name)


def description(path: Path) -> str:
    """The spec's first comment line, which by convention says what it is."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""
