"""The U of encoder-decoders: a network whose spatial size goes down and comes back up with skip
connections across (UNet, FCN) is drawn with the decoder climbing back up beside the encoder."""

from __future__ import annotations

from bisect import bisect_left
from math import copysign, floor, log2
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


def ranks(d: Diagram) -> dict[str, int]:
    """Each box's longest path from a source along the edges that carry data (a size reference does not
    count), as Graphviz ranks them top to bottom."""
    preds: dict[str, list[str]] = {b: [] for b in d.boxes}
    for e in d.edges:
        if e.kind != "ref":
            preds[e.dst].append(e.src)
    rank: dict[str, int] = {}
    for b in d.boxes:  # in the order built: every layer after its inputs, outputs last
        rank[b] = max((rank[p] + 1 for p in preds[b] if p in rank), default=0)
    return rank


def _lines(box: Box) -> int:
    """Lines of text in a box's label (its height, roughly)."""
    return 1 + bool(box.notes) + bool(box.name) + (box.kind == "block") + bool(box.shape)


def wrap(d: Diagram, columns: int) -> dict[str, int]:
    """Each box's column when the diagram's ranks are cut into ``columns`` runs of about the same height, read
    left to right like a newspaper's. A cut goes where the fewest edges cross it and no frame (block) is cut in
    two, within about a fifth of a column of where an even cut would go; never just before an output box."""
    rank = ranks(d)
    top = max(rank.values(), default=0)
    if columns <= 1 or top == 0:
        return {b: 0 for b in d.boxes}
    height = [0.0] * (top + 1)
    for b, box in d.boxes.items():
        height[rank[b]] = max(height[rank[b]], _lines(box) + 1.5)
    below = []  # height of ranks 0..r
    total = 0.0
    for h in height:
        total += h
        below.append(total)
    crossing = [0] * (top + 1)  # edges crossing the cut after rank r
    for e in d.edges:
        if e.kind != "ref":
            for r in range(rank[e.src], rank[e.dst]):
                crossing[r] += 1
    spans = {}  # frame → (first rank, last rank)
    for b, box in d.boxes.items():
        for c in box.clusters:
            lo, hi = spans.get(c, (rank[b], rank[b]))
            spans[c] = (min(lo, rank[b]), max(hi, rank[b]))
    cut_frames = [sum(1 for lo, hi in spans.values() if lo <= r < hi) for r in range(top + 1)]
    feeds_output = {rank[e.src] for e in d.edges if e.kind == "output" and rank[e.dst] == rank[e.src] + 1}
    column_height = total / columns
    cuts: list[int] = []
    for i in range(1, columns):
        start = cuts[-1] + 1 if cuts else 0
        options = range(start, top)
        if not options:
            break

        def cost(r: int, i: int = i) -> float:
            off = abs(below[r] - i * column_height) / column_height
            return 10 * off + crossing[r] + 0.5 * cut_frames[r] + (5 if r in feeds_output else 0)

        cuts.append(min(options, key=cost))
    return {b: bisect_left(cuts, rank[b]) for b in d.boxes}


def u_levels(d: Diagram) -> dict[str, int]:
    """For a U on a slide, as the UNet paper draws it: each box's level, 0 for the input's resolution and one
    more for each halving of the map's side along the way (a pool, a stride 2), one less for each doubling (an
    up-convolution). Each level is then one row, read left to right, the way down on the left and the way up on
    the right; a skip connection crosses its row."""
    main: dict[str, str] = {}
    for e in sorted(d.edges, key=lambda e: e.kind not in ("data", "output")):
        if e.kind != "ref" and e.dst not in main:  # a box's level follows its first data input, else a skip's
            main[e.dst] = e.src
    level: dict[str, int] = {}
    for b, box in d.boxes.items():
        src = main.get(b)
        if src is None or src not in level:
            level[b] = 0
            continue
        step = 0
        a_in, a_out = area(d.boxes[src].shape), area(box.shape)
        if a_in and a_out:
            x = log2(a_in / a_out) / 2  # halvings of the side
            step = int(copysign(floor(abs(x) + 0.25), x))  # a crop (568 to 392) is none, a 2x2 pool one
        level[b] = max(0, level[src] + step)
    return level
