"""Every op archdsl knows, one module per family; importing this package registers them all.

``python -m archdsl.ops`` prints the table of ops that docs/language.md holds (each op's own ``reference``)."""

from . import activation, channels, conv, linear, merge, norm, pool, roi, spatial  # noqa: F401  (registration)
from .base import ALIASES, REGISTRY, RF, ModuleSpec, Op, OpProblem, Shape, fmt_shape, lookup
from .merge import NO_SUCH_MERGES, merges

__all__ = [
    "ALIASES",
    "NO_SUCH_MERGES",
    "REGISTRY",
    "RF",
    "ModuleSpec",
    "Op",
    "OpProblem",
    "Shape",
    "fmt_shape",
    "lookup",
    "merges",
    "reference_table",
]

_FAMILIES = (
    conv,
    linear,
    pool,
    activation,
    norm,
    spatial,
    channels,
    merge,
    roi,
)  # the table's order: a family's ops together


def reference_table() -> str:
    """The markdown table of every op: name, aliases, arguments (defaults), shorthands, what it is."""
    rows = [
        "| op | aliases | arguments (defaults) | shorthands; positional order | what it is |",
        "|---|---|---|---|---|",
    ]
    for module in _FAMILIES:
        for cls in REGISTRY.values():
            if cls.__module__ == module.__name__:
                aliases = ", ".join(f"`{a}`" for a in (*cls.aliases, *cls.written_also)) or "—"
                rows.append(f"| `{cls.name}` | {aliases} | " + " | ".join(cls.reference) + " |")
    return "\n".join(rows)
