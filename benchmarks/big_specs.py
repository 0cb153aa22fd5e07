"""Big specs: chains of many layers, in the same run.

    python benchmarks/big_specs.py                          # chains of 20,000 and 100,000 layers, 3 rounds
    python benchmarks/big_specs.py --layers 5000 --rounds 5
    python benchmarks/big_specs.py --only gc                # the collector alone

Two measures, each alternating its variants round by round, medians and their ratio:

- ``gc``: ``archdsl.load(text).analyze()`` in this process with the cyclic garbage collector paused while the
  spec is parsed, elaborated and analysed (``archdsl.pipeline.gc_paused``, the default) and without the pause;
- ``report``: whole processes, ``archdsl check FILE`` against ``archdsl report FILE`` (the table of every layer:
  a flat chain has no blocks to roll up), piped, with a warm cache (a first, untimed report solves and keeps
  the input contract, as any user's first run does). Issue 18's target: the report of 20,000 rows in at most
  twice the time of check.

The chains alternate a 1x1 conv and a relu (``[conv1-3 - relu]xN``), at 3x8x8.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import archdsl
from archdsl import pipeline
from archdsl.limits import MAX_NODES


def chain(layers: int) -> str:
    return f"input 3x8x8\n[conv1-3 - relu]x{layers // 2}\n" + ("relu\n" if layers % 2 else "")


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


def gc_pause(layers: int, rounds: int) -> None:
    text = chain(layers)
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(rounds):
        for paused in (True, False) if r % 2 == 0 else (False, True):
            times[paused].append(timed(text, paused))
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"{layers:,} layers, load + analyze in this process, median of {rounds}:")
    print(f"  collector paused  {on:.2f} s\n  collector running {off:.2f} s\n  paused / running  {on / off:.2f}x")


def run(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr[-500:]}")
    return time.perf_counter() - start


def check_and_report(layers: int, rounds: int, folder: Path) -> None:
    spec = folder / f"chain{layers}.arch"
    spec.write_text(chain(layers))
    archdsl_bin = str(Path(sys.executable).with_name("archdsl"))
    env = {**os.environ, "ARCHDSL_CACHE_DIR": str(folder / "cache"), "COLUMNS": "200"}
    env.pop("ARCHDSL_NO_CACHE", None)
    commands = {"check": [archdsl_bin, "check", str(spec)], "report": [archdsl_bin, "report", str(spec)]}
    run(commands["report"], env)  # the contract, once, as any first run
    times: dict[str, list[float]] = {k: [] for k in commands}
    for r in range(rounds):
        for key in list(commands)[:: 1 if r % 2 == 0 else -1]:
            times[key].append(run(commands[key], env))
    check, report = statistics.median(times["check"]), statistics.median(times["report"])
    print(f"{layers:,} layers, whole processes, median of {rounds}:")
    print(f"  archdsl check   {check:.2f} s\n  archdsl report  {report:.2f} s ({layers + 1:,} rows)")
    print(f"  report / check  {report / check:.2f}x (target: at most 2x)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layers", type=int, nargs="*", default=[20_000, 100_000])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", choices=("gc", "report"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="big-specs-") as tmp:
        for layers in args.layers:
            layers = min(layers, MAX_NODES - 1)  # and the input
            if args.only != "report":
                gc_pause(layers, args.rounds)
            if args.only != "gc":
                check_and_report(layers, args.rounds, Path(tmp))


if __name__ == "__main__":
    main()
