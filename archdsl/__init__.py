"""archdsl: the notation of the CNN papers and lectures, compiled to checked graphs and PyTorch modules.

>>> import archdsl
>>> a = archdsl.load("conv3-64 - relu - maxpool - fc-10", input="3x32x32").analyze()
>>> a.totals.params, a.outputs["output"]
(165642, (10,))
"""

from .errors import ArchError, ArgumentError, LimitError, ShapeError, SpecSyntaxError, UnknownNameError


def __getattr__(name: str):
    """``load``, ``Net`` and ``Analysis`` are imported on first use, so that ``archdsl.cli`` starts
    without building every op's schema until a command needs them."""
    if name in ("load", "Net", "plot", "symbolic_report", "to_onnx", "to_torchscript"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "Analysis":
        from .ir.analysis import Analysis

        return Analysis
    if name == "WeightsError":
        from .backend.weights import WeightsError

        return WeightsError
    raise AttributeError(f"module 'archdsl' has no attribute {name!r}")


__all__ = [
    "Analysis",
    "ArchError",
    "ArgumentError",
    "LimitError",
    "Net",
    "ShapeError",
    "SpecSyntaxError",
    "UnknownNameError",
    "load",
    "plot",
    "symbolic_report",
    "to_onnx",
    "to_torchscript",
]
__version__ = "0.1.0"
