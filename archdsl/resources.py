"""Where the package's data lies: the grammar and the spec library, beside the package in a checkout
(``grammar/``, ``specs/``) or inside it in an installed wheel (``archdsl/grammar``, ``archdsl/specs``)."""

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
