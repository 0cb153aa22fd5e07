"""Build time: archdsl's compile against a hand-written constructor, in the same run.

    python benchmarks/build.py                    # resnet152, 15 repeats
    python benchmarks/build.py --model resnet50 --repeats 15

Times, each the median of ``--repeats`` (after one untimed warm-up of every path, so imports and
the parser's one-time setup are out of the figures; the first, cold call is printed too):

  meta, compile only        ``net.compile(device="meta")`` on a loaded Net: the analysis is
                            cached per Net, so this is compile's own time (modules with no
                            storage, the fx graph, the GraphModule)
  meta, load+analyze+compile  ``archdsl.load(name).compile(device="meta")``: the whole path from
                            the spec text
  meta, hand-written        the hand-written constructor under ``torch.device("meta")``, for scale
                            (its initialisation calls are no-ops on meta tensors)
  cpu, compile only         ``net.compile()`` on a loaded Net: real parameters, initialised
  cpu, load+analyze+compile ``archdsl.load(name).compile()``
  cpu, hand-written         ``benchmarks/models.py``'s constructor (``resnet152()``)

The CPU rows alternate archdsl and hand-written calls (ABBA), and the ratios compare the
medians with the hand-written constructor's; the target is <= 1.1. Building on the CPU is
mostly parameter initialisation. The hand-written constructor does it as torchvision does:
torch's default (kaiming-uniform) for every conv as it is constructed, then He's normal over
it. ResNet specs declare ``init = "he"``, and archdsl's compile builds the modules that scheme
overwrites without the default draw (``weights.REINITIALISED``), so it draws 60M conv weights
once where the hand-written constructor draws them twice.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import MODELS  # noqa: E402

import archdsl  # noqa: E402

TARGET = 1.1


def clock(fn) -> float:
    gc.collect()
    t = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - t
    del out
    return elapsed


def on_meta(constructor):
    with torch.device("meta"):
        return constructor()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="resnet152", choices=sorted(MODELS))
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    name = args.model
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {name}, median of {args.repeats}")

    t = time.perf_counter()
    net = archdsl.load(name)
    cold_load = time.perf_counter() - t
    t = time.perf_counter()
    net.analyze()
    cold_analyze = time.perf_counter() - t
    cold_meta = clock(lambda: net.compile(device="meta"))
    print(
        f"cold (first call in this process): load {cold_load * 1e3:.1f} ms, analyze {cold_analyze * 1e3:.1f} ms, "
        f"compile(device='meta') {cold_meta * 1e3:.1f} ms"
    )

    paths = {
        "meta, compile only": lambda: net.compile(device="meta"),
        "meta, load+analyze+compile": lambda: archdsl.load(name).compile(device="meta"),
        "meta, hand-written": lambda: on_meta(MODELS[name]),
        "cpu, compile only": lambda: net.compile(),
        "cpu, load+analyze+compile": lambda: archdsl.load(name).compile(),
        "cpu, hand-written": lambda: MODELS[name](),
    }
    for fn in paths.values():  # warm-up
        clock(fn)
    times = {k: [] for k in paths}
    cpu_paths = [k for k in paths if k.startswith("cpu")]
    for r in range(args.repeats):
        for k in ("meta, compile only", "meta, load+analyze+compile", "meta, hand-written"):
            times[k].append(clock(paths[k]))
        for k in cpu_paths if r % 2 == 0 else cpu_paths[::-1]:
            times[k].append(clock(paths[k]))
    med = {k: statistics.median(v) for k, v in times.items()}
    hand = med["cpu, hand-written"]
    print(f"{'path':28} {'median ms':>10} {'min ms':>8} {'vs hand':>8}")
    for k, v in times.items():
        ratio = f"{med[k] / hand:8.3f}" if k.startswith("cpu") else ""
        print(f"{k:28} {med[k] * 1e3:10.1f} {min(v) * 1e3:8.1f} {ratio}")
    worst = max(med[k] / hand for k in cpu_paths if k != "cpu, hand-written")
    print(
        f"cpu build ratio (load+analyze+compile / hand-written) {med['cpu, load+analyze+compile'] / hand:.3f}, "
        f"compile only {med['cpu, compile only'] / hand:.3f} (target <= {TARGET}); worst {worst:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
