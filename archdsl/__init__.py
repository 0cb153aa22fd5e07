"""archdsl: the notation of the CNN papers and lectures, compiled to checked graphs and PyTorch modules.

    >>> import archdsl
    >>> a = archdsl.load("conv3-64 - relu - maxpool - fc-10", input="3x32x32").analyze()
    >>> a.totals.params, a.outputs["output"]
    (165642, (10,))
"""
from .analysis import Analysis
from .errors import ArchError, ArgumentError, LimitError, ShapeError, SpecSyntaxError, UnknownNameError
from .pipeline import Net, load

__all__ = ["Analysis", "ArchError", "ArgumentError", "LimitError", "Net", "ShapeError", "SpecSyntaxError",
           "UnknownNameError", "load"]
__version__ = "0.1.0"
