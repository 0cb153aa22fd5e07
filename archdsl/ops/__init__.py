"""Every op archdsl knows, one module per family; importing this package registers them all."""
from . import activation, conv, linear, merge, norm, pool, spatial  # noqa: F401  (registration)
from .base import ALIASES, REGISTRY, RF, ModuleSpec, Op, OpProblem, Shape, fmt_shape, lookup

__all__ = ["ALIASES", "REGISTRY", "RF", "ModuleSpec", "Op", "OpProblem", "Shape", "fmt_shape", "lookup"]
