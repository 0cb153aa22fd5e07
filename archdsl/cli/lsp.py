"""``archdsl lsp``: the language server, on standard input and output, for editors (docs/editor.md).

It needs pygls and lsprotocol (``pip install 'archdsl[lsp]'``); they are imported only when the command
runs, so the rest of the command line starts without them."""

from __future__ import annotations

import argparse

from ..errors import UsageError

NEEDS = ("pygls", "lsprotocol")


def arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "--stdio",
        action="store_true",
        help="talk over standard input and output (the only transport, and the default; editors pass it)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        from ..lsp.server import serve
    except ImportError as err:
        missing = (err.name or "").partition(".")[0]
        if missing not in NEEDS:
            raise
        raise UsageError(
            f"archdsl lsp needs {' and '.join(NEEDS)}, and {missing} is not installed: pip install 'archdsl[lsp]'"
        ) from None
    serve()
    return 0
