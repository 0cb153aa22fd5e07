"""``archdsl.detect``, the public name of :mod:`archdsl.backend.detect` (boxes, NMS, default boxes, anchors)
and :mod:`archdsl.backend.decode` (SSD and YOLO decoders): ``from archdsl import detect``."""

from .backend.decode import *  # noqa: F403
from .backend.decode import __all__ as _decoders
from .backend.detect import *  # noqa: F403
from .backend.detect import __all__ as _boxes

__all__ = sorted(_boxes + _decoders)
