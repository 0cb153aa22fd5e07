"""Input shapes as people write them: ``3x224x224``, ``3×224×224``, ``3, 224, 224`` (and ``3xHxW`` with
names, for the symbolic report). The one place that splits such text."""

from __future__ import annotations

import re

from ..errors import ArchError

_SPLIT = re.compile(r"\s*[x×X,]\s*")


def split_shape(text: str) -> list[str]:
    """``"3 x 224x224"`` → ``["3", "224", "224"]``."""
    return _SPLIT.split(str(text).strip())


def parse_shape(text: str | tuple | list) -> tuple[int, ...]:
    """``"3x224x224"`` or ``(3, 224, 224)`` → ``(3, 224, 224)``."""
    if isinstance(text, (tuple, list)):
        return tuple(int(x) for x in text)
    parts = split_shape(text)
    if not all(p.isascii() and p.isdigit() for p in parts):  # str.isdigit() takes '²', which int() refuses
        raise ArchError(f"bad input shape {text!r}", None, "write it as CxHxW, e.g. 3x224x224")
    return tuple(int(p) for p in parts)
