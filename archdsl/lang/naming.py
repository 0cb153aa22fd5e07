"""Naming scopes: children are named by label, or by position as in nn.Sequential."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

from ..errors import ArchError, Span

# a label's part: a name, a position, or names joined by dashes (torchvision's RegNet names blocks "block1-0");
# a dashed name is written quoted, since a bare '-' joins a chain


# the globals torch.fx's generated forward (and archdsl compile's source) may read; the back end refuses a forward
# that reads any other (backend/codegen.py)
FORWARD_GLOBALS = frozenset({"torch", "inf", "nan", "NoneType", "device", "fx_pytree", "pytree"})


def hides_a_global(name: str) -> bool:
    """Whether an argument of the compiled forward named ``name`` would hide a name its code reads: one of
    FORWARD_GLOBALS, or a Python builtin (``getattr`` reads numbered submodules)."""
    return name in FORWARD_GLOBALS or hasattr(builtins, name)


def is_name_part(part: str) -> bool:
    """Whether ``part`` can be one part of a layer's name (``features``, ``0``, ``block1-0``)."""
    if part.isdigit():
        return True
    first, *rest = part.split("-")
    return first.isidentifier() and all(piece and ("_" + piece).isidentifier() for piece in rest)


@dataclass
class Scope:
    """A naming level: children are named by label, or by position as in nn.Sequential."""

    path: str
    names: set[str] = field(default_factory=set)
    position: int = 0

    def name(self, label: str | None, span: Span) -> str:
        name = label if label is not None else str(self.position)
        self.position += 1
        if name in self.names:
            where = f" in '{self.path}'" if self.path else ""
            raise ArchError(
                f"the name '{name}' is used twice{where}",
                span,
                "labels name modules and must be unique within their group",
            )
        self.names.add(name)
        return name

    def child(self, name: str) -> Scope:
        return Scope(f"{self.path}.{name}" if self.path else name)

    def full(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name


class _Reuse(Scope):
    """A scope handed to a container's only element, so it adds no naming level of its own."""

    def __init__(self, scope: Scope):
        super().__init__(scope.path)
        self._scope = scope

    def name(self, label, span):
        return ""

    def child(self, name):
        return self._scope

    def full(self, name):
        return self._scope.path


class _Transparent(Scope):
    """The scope of a merge whose branches are all labelled: its node is named by its position
    (``path``), while the branches' layers are named in the enclosing scope."""

    def __init__(self, scope: Scope, path: str):
        super().__init__(path)
        self._scope = scope

    def name(self, label, span):
        return self._scope.name(label, span)

    def child(self, name):
        return self._scope.child(name)

    def full(self, name):
        return self._scope.full(name)
