"""A big spec's load and analysis with the garbage collector paused (archdsl.pipeline.gc_paused) and without,
in the same run.

    python benchmarks/big_specs.py                   # a chain of 19,000 layers, 3 rounds
    python benchmarks/big_specs.py --layers 5000 --rounds 5

Each round times ``archdsl.load(text).analyze()`` both ways, the order alternating; the table gives the
medians and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import archdsl
from archdsl import pipeline


def timed(text: str, paused: bool) -> float:
    saved = pipeline.gc_paused
    if not paused:
        pipeline.gc_paused = contextlib.nullcontext
    try:
        start = time.perf_counter()
        archdsl.load(text).analyze()
        return time.perf_counter() - start
    finally:
        pipeline.gc_paused = saved


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layers", type=int, default=19_000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    text = "input 3x8x8\n" + "relu\n" * args.layers
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(args.rounds):
        for paused in (True, False) if r % 2 == 0 else (False, True):
            times[paused].append(timed(text, paused))
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"{args.layers:,} layers, load + analyze, median of {args.rounds}:")
    print(f"  collector paused  {on:.2f} s\n  collector running {off:.2f} s\n  paused / running  {on / off:.2f}x")


if __name__ == "__main__":
    main()
