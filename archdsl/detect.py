"""``archdsl.detect``, the public name of :mod:`archdsl.backend.detect` (default boxes, anchors, box
decoding, NMS): ``from archdsl import detect``."""

from .backend.detect import *  # noqa: F403
from .backend.detect import __all__  # noqa: F401
