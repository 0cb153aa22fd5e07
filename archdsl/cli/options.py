"""The command line's values, each kind read by one function: a count, a number, a seed, a shape, a
``--set`` value, a depth, a device. Anything else is a :class:`UsageError` (exit 2, one line), raised
before a spec is loaded or torch imported. Nothing here imports more than the standard library.

The argparse ``type=`` functions (:func:`count_type`, :func:`number_type`) raise
``argparse.ArgumentTypeError``; the others raise :class:`UsageError` with the option's name.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from ..errors import CONTROL, UsageError, printable, shown  # noqa: F401  (UsageError, printable: for callers)
from ..ir.shapes import split_shape
from ..limits import MAX_DIGITS, MAX_EXACT, MAX_SEED

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: str.isdigit() also takes '²' and '٣'
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def integer(text: str, option: str, least: int | None = None, most: int | None = None) -> int:
    """A whole number in ASCII digits within [least, most]; UsageError otherwise."""
    clean = str(text).strip().replace("_", "")
    if len(clean) > MAX_DIGITS or not _INT.fullmatch(clean):
        raise UsageError(f"{option} takes a whole number, got {shown(text)}")
    value = int(clean)
    if (least is not None and value < least) or (most is not None and value > most):
        raise UsageError(f"{option} takes a number {_bounds(least, most)}, got {shown(text)}")
    return value


def number(
    text: str, option: str, least: float | None = None, most: float | None = None, above: float | None = None
) -> float:
    """A finite decimal number (``0.001``, ``1e-3``) within the bounds; never nan or inf."""
    clean = str(text).strip().replace("_", "")
    if len(clean) > MAX_DIGITS or not _DECIMAL.fullmatch(clean):
        raise UsageError(f"{option} takes a number such as 0.001 or 1e-3, got {shown(text)}")
    value = float(clean)
    if not math.isfinite(value):
        raise UsageError(f"{option} takes a finite number, got {shown(text)}")
    if (
        (least is not None and value < least)
        or (most is not None and value > most)
        or (above is not None and value <= above)
    ):
        bounds = f"> {above:g}" if above is not None else _bounds(least, most)
        raise UsageError(f"{option} takes a number {bounds}, got {shown(text)}")
    return value


def _bounds(least: float | None, most: float | None) -> str:
    if least is not None and most is not None:
        return f"from {least:,} to {most:,}"
    return f">= {least:,}" if least is not None else f"<= {most:,}"


def _argparse(read: Callable[..., Any], *bounds: Any, **kw: Any) -> Callable[[str], Any]:
    """An argparse ``type=`` that reads with ``read`` (its message then reads 'argument --x: ...')."""

    def parse(text: str) -> Any:
        try:
            return read(text, "it", *bounds, **kw)
        except UsageError as err:
            raise argparse.ArgumentTypeError(str(err).replace("it takes", "takes", 1)) from None

    return parse


def count_type(least: int | None = 0, most: int | None = None) -> Callable[[str], int]:
    """``type=`` for a whole-number option (``--batch``, ``--samples``, ``--classes``)."""
    return _argparse(integer, least, most)


def number_type(
    least: float | None = None, most: float | None = None, above: float | None = None
) -> Callable[[str], float]:
    """``type=`` for a decimal option (``--lr``, ``--tolerance``)."""
    return _argparse(number, least, most, above=above)


def seed_type() -> Callable[[str], int]:
    """``type=`` for ``--seed``: 0 to 2^63 - 1 (torch's generators take no more)."""
    return count_type(0, MAX_SEED)


def amount(text: str) -> int | None:
    """``--max-params``, ``--max-memory``: a count such as 25000000, 25_000_000, 800k, 25M or 1.5G (powers of
    1000); ``none`` for no limit. Read exactly (no float), so 1e400 digits cannot overflow."""
    low = str(text).strip().lower().replace("_", "").replace(",", "")
    if low == "none":
        return None
    m = re.fullmatch(r"([0-9]{1,30}(?:\.[0-9]{1,30})?)([kmg]?)", low)
    if m is None:
        raise argparse.ArgumentTypeError(
            f"takes a count such as 25000000, 800k, 25M, 1.5G or 'none', got {shown(text)}"
        )
    return int(Fraction(m.group(1)) * {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m.group(2)])


def variable(item: str) -> tuple[str, Any]:
    """``--set NAME=VALUE``: NAME a spec variable's name; VALUE true/false, a whole number up to 2^53, a finite
    decimal, or else text (a name such as ``he``)."""
    if "=" not in item:
        raise UsageError(f"--set takes name=value, got {shown(item)}")
    key, _, val = item.partition("=")
    key, val = key.strip(), val.strip()
    if not _IDENT.fullmatch(key):
        raise UsageError(f"--set takes name=value with a variable's name before '=', got {shown(item)}")
    return key, set_value(val, f"--set {key}")


def set_value(text: str, option: str) -> Any:
    """The value of ``--set NAME=VALUE``, as the spec's own literals read it."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if CONTROL.search(text):
        raise UsageError(f"{option} takes a printable value, got {shown(text)}")
    if _INT.fullmatch(text.replace("_", "")):
        return integer(text, option, -MAX_EXACT, MAX_EXACT)
    if low.lstrip("+-") in ("inf", "infinity", "nan"):
        raise UsageError(f"{option} takes a finite number, got {shown(text)}")
    if _DECIMAL.fullmatch(text.replace("_", "")):
        if len(text) > MAX_DIGITS or not abs(float(text.replace("_", ""))) <= MAX_EXACT:  # 1e400 reads inf
            raise UsageError(f"{option} takes a number of at most 2^53, got {shown(text)}")
        return number(text, option)
    return text


def shape(text: str, option: str = "--input", names: bool = False) -> str:
    """``--input CxHxW``: sizes of ASCII digits, from 1 to 2^53, joined by x, × or commas; with ``names``
    (``archdsl report``), a size may be a name (``3xHxW``). Returns the text, checked."""
    parts = split_shape(text)
    for p in parts:
        if _INT.fullmatch(p) and not p.startswith(("+", "-")):
            if len(p) > MAX_DIGITS or not 1 <= int(p) <= MAX_EXACT:
                raise UsageError(f"{option} takes sizes from 1 to 2^53, got {shown(text)}")
        elif not (names and _IDENT.fullmatch(p) and p not in ("x", "X")):
            form = "numbers or names, e.g. 3x224x224 or 3xHxW" if names else "numbers, e.g. 3x224x224"
            raise UsageError(f"{option} takes CxHxW in {form}, got {shown(text)}")
    return str(text).strip()


def symbolic(text: str | None) -> bool:
    """Whether ``--input`` names a size (``3xHxW``: formulas rather than numbers)."""
    return bool(text) and any(not _INT.fullmatch(p) for p in split_shape(text))


def depth(text: str, option: str = "--depth", auto: bool = True) -> int | str | None:
    """``--depth``: a naming level >= 1, ``all`` (None) or, where ``auto``, ``auto`` (returned as is)."""
    low = str(text).strip().lower()
    if low == "all":
        return None
    if auto and low == "auto":
        return "auto"
    if _INT.fullmatch(low) and len(low) <= MAX_DIGITS and int(low) >= 1:
        return int(low)
    choices = "a number >= 1, 'all' or 'auto'" if auto else "a number >= 1 or 'all'"
    raise UsageError(f"{option} takes {choices}, got {shown(text)}")


def device(text: str | None) -> str | None:
    """``--device``: cpu, cuda, cuda:N or mps, and only one this machine has (torch is imported here, so the
    commands that run a model call it after loading the spec)."""
    if text is None:
        return None
    low = str(text).strip().lower()
    m = re.fullmatch(r"(cpu|cuda|mps)(?::([0-9]{1,4}))?", low)
    if m is None:
        raise UsageError(f"--device takes cpu, cuda, cuda:N or mps, got {shown(text)}")
    kind, index = m.group(1), m.group(2)
    import torch

    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UsageError(f"--device {low}: this machine has no CUDA GPU that torch can use")
        if index is not None and int(index) >= count:
            raise UsageError(
                f"--device {low}: this machine has {count} CUDA GPU{'s' if count > 1 else ''} "
                f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})"
            )
    elif kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available() or index not in (None, "0"):
            raise UsageError(f"--device {low}: this machine has no Apple GPU (mps) that torch can use")
    elif index not in (None, "0"):
        raise UsageError(f"--device takes cpu, cuda, cuda:N or mps, got {shown(text)}")
    return low
