"""``archdsl fmt FILE...``: specs in their canonical layout (archdsl/lang/fmt.py; docs/editor.md, "Formatting").

As black and ruff format do: the files are rewritten in place (only those that change; a folder stands for
the ``.arch`` files under it); ``--check`` writes nothing and exits 1 when a file would change, naming it;
``--diff`` writes nothing and prints a unified diff; ``-`` reads a spec from stdin and writes it formatted
to stdout. Each file is written to a temporary file beside it and renamed into place. A spec that does not
parse is reported as ``archdsl check`` reports it (file:line:column, the line with a caret, a hint), the
other files are still formatted, and the exit code is 1.

Exit codes: 0 done (or, with ``--check``, nothing would change); 1 a spec does not parse, or ``--check``
found a file to reformat; 2 a usage error (a file that does not exist or cannot be read or written)."""

from __future__ import annotations

import argparse
import difflib
import stat
import sys
from pathlib import Path

from ..errors import ArchError, UsageError, shown
from ..limits import MAX_SOURCE_BYTES
from .common import error_text, shown_path

STDIN = "<stdin>"


def arguments(f: argparse.ArgumentParser) -> None:
    f.add_argument("files", nargs="+", metavar="FILE", help="spec files or folders (their *.arch files); - is stdin")
    f.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would be reformatted")
    f.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of the changes")


def spec_paths(names: list[str]) -> list[Path | None]:
    """The files to format, in the order given (a folder's *.arch files sorted); None for stdin. Checked
    before anything is formatted: a name that is neither a readable file nor a folder is a usage error."""
    paths: list[Path | None] = []
    for name in names:
        if name == "-":
            paths.append(None)
            continue
        path = Path(name)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise UsageError(f"no such file or folder: {shown(name, 200)}") from None
        except (OSError, ValueError) as err:
            why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise UsageError(f"cannot read {shown(name, 200)}: {why}") from None
        if stat.S_ISDIR(mode):
            paths += sorted(p for p in path.rglob("*.arch") if p.is_file())
        elif stat.S_ISREG(mode):
            paths.append(path)
        else:
            raise UsageError(f"{shown(name, 200)} is not a regular file or a folder")
    return paths


def run(args: argparse.Namespace) -> int:
    from ..lang.files import read_spec
    from ..lang.fmt import format_spec
    from ..output import write_bytes

    paths = spec_paths(args.files)
    changed = unchanged = failed = 0
    for path in paths:
        name = STDIN if path is None else str(path)
        try:
            if path is None:
                bom, text = _stdin()
            else:
                text = read_spec(path)
                with open(path, "rb") as f:
                    bom = f.read(3) == b"\xef\xbb\xbf"
            formatted = format_spec(text, name)
        except ArchError as err:
            print(f"error: {error_text(err)}", file=sys.stderr)
            failed += 1
            continue
        if args.diff and formatted != text:
            sys.stdout.writelines(
                difflib.unified_diff(
                    text.splitlines(keepends=True), formatted.splitlines(keepends=True), name, f"{name} (formatted)"
                )
            )
        if path is None and not (args.check or args.diff):
            sys.stdout.write(formatted)
        if formatted == text:
            unchanged += 1
            continue
        changed += 1
        if args.check or args.diff:
            if args.check:
                print(f"would reformat {shown_path(name)}", file=sys.stderr)
        elif path is not None:
            write_bytes(path, (b"\xef\xbb\xbf" if bom else b"") + formatted.encode("utf-8"))
            print(f"reformatted {shown_path(name)}", file=sys.stderr)
    print(_summary(changed, unchanged, failed, args.check or args.diff), file=sys.stderr)
    return 1 if failed or (args.check and changed) else 0


def _stdin() -> tuple[bool, str]:
    """The spec on stdin (whether it starts with a byte order mark, and its text): read up to one byte past
    the largest spec, which the parser then refuses as too large."""
    data = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1)
    try:
        return data.startswith(b"\xef\xbb\xbf"), data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UsageError(f"stdin is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})") from None


def _summary(changed: int, unchanged: int, failed: int, dry: bool) -> str:
    def files(n: int) -> str:
        return f"{n} file{'s' if n != 1 else ''}"

    parts = []
    if changed:
        parts.append(f"{files(changed)} {'would be ' if dry else ''}reformatted")
    if unchanged:
        parts.append(f"{files(unchanged)} {'would be ' if dry else ''}left unchanged")
    if failed:
        parts.append(f"{files(failed)} failed to parse")
    return ", ".join(parts) + "." if parts else "no files."
