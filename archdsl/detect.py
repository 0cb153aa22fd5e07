"""``archdsl.detect``, the public name of :mod:`archdsl.backend.detect` (boxes, NMS, default boxes, anchors),
:mod:`archdsl.backend.decode` (SSD and YOLO decoders), :mod:`archdsl.backend.proposals` (RPN proposals) and
:mod:`archdsl.backend.roi` (RoI pooling and RoI Align): ``from archdsl import detect``."""

from .backend.decode import *  # noqa: F403
from .backend.decode import __all__ as _decoders
from .backend.detect import *  # noqa: F403
from .backend.detect import __all__ as _boxes
from .backend.proposals import *  # noqa: F403
from .backend.proposals import __all__ as _proposals
from .backend.roi import *  # noqa: F403
from .backend.roi import __all__ as _roi

__all__ = sorted(_boxes + _decoders + _proposals + _roi)
