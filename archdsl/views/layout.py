"""The U of encoder-decoders: a network whose spatial size goes down and comes back up with skip
connections across (UNet, FCN) is drawn with the decoder climbing back up beside the encoder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .skips import LayerGraph, area

if TYPE_CHECKING:  # the diagram module draws with this one
    from .diagram import Box, Diagram


def u_layout(d: Diagram, g: LayerGraph, force: bool = False) -> None:
    """Mark the way back up of an encoder-decoder: every box downstream of the first upsampling box, when
    skip connections cross from the way down into it. Those boxes are then ranked upwards."""
    order = list(d.boxes)
    ups = [b for b in order if d.boxes[b].kind != "output" and _upsamples(d.boxes[b], g)]
    if not ups:
        return
    succ: dict[str, list[str]] = {}
    for e in d.edges:
        if e.kind != "output":
            succ.setdefault(e.src, []).append(e.dst)
    up: set[str] = set()
    stack = [ups[0]]
    while stack:
        b = stack.pop()
        if b in up:
            continue
        up.add(b)
        stack.extend(succ.get(b, []))
    crossing = [e for e in d.edges if e.kind == "skip" and e.src not in up and e.dst in up]
    if not crossing and not force:
        return
    d.u_shape = True
    d.up = up


def _upsamples(box: Box, g: LayerGraph) -> bool:
    for x in box.layers:
        if x.kind.upsampling:
            ins = g.data[x.name]
            a_in, a_out = area(tuple(g.by[ins[0]].output_shape)) if ins else None, area(tuple(x.output_shape))
            if a_in and a_out and a_out > a_in:
                return True
    return False
