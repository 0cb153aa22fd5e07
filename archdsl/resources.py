"""Where the package's data lies: the grammar and the spec library, beside the package in a checkout
(``grammar/``, ``specs/``) or inside it in an installed wheel (``archdsl/grammar``, ``archdsl/specs``), and the
cache entries a wheel is built with (``archdsl/prebuilt``, made by hatch_build.py)."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _found(relative: str) -> Path:
    for candidate in (PACKAGE / relative, PACKAGE.parent / relative):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"archdsl's {relative} is missing from this installation")


def spec_root() -> Path:
    """``specs/``: the spec library."""
    return _found("specs")


def grammar_path() -> Path:
    """``grammar/arch.lark``: the language's grammar."""
    return _found("grammar/arch.lark")


def prebuilt() -> Path | None:
    """``archdsl/prebuilt/``: cache entries made when the wheel was built (the parser's tables, the library's
    input contracts; archdsl/cache.py reads them), or None (a checkout has none)."""
    path = PACKAGE / "prebuilt"
    return path if path.is_dir() else None
