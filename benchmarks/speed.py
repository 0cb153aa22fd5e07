"""Zero overhead: compiled archdsl models against hand-written PyTorch, timed in the same run.

    python benchmarks/speed.py                    # resnet50, vgg16, densenet121; batch 8, 3x224x224
    python benchmarks/speed.py --threads 1        # one thread: the least noisy CPU-time figures
    python benchmarks/speed.py --models resnet50 --modes forward --repeats 15

For each network: ``archdsl.load(name).compile()`` and the conventional hand-written module of
benchmarks/models.py (torchvision's structure and names, ``nn.ReLU(inplace=True)``) are built;
the compiled model's weights are copied into the hand-written one with ``load_state_dict`` (the
same keys, strict), and the two are checked to compute the same thing: equal outputs in eval
mode, equal gradients after one training-mode forward + backward (same seed, so dropout draws
alike).

Two measurements per network, on the CPU, with torch's thread count as it is unless
``--threads`` sets it:
  forward   eval mode, under ``torch.no_grad()``
  fwd+bwd   train mode: forward, cross-entropy against fixed labels, backward (gradients reset
            to None between steps, outside the timed region)
Everything is warmed up first (``--warmup`` untimed calls of each model in each mode). Then
rounds: each round times every (network, mode) once for both models, the compiled one first in
odd rounds and second in even ones, so drift (thermal, other processes) hits both alike. Rounds
continue up to ``--repeats``, or until ``--budget`` seconds have passed (at least 3 rounds), so
a run ends in a predictable time even on a busy machine.

Both the wall clock (``time.perf_counter``) and the process's CPU time (``time.process_time``,
all threads) are recorded per call. The table gives the medians of each and the ratio of medians
compiled / hand-written: 1.00 is no overhead, the target is <= 1.02. ``iqr`` is the interquartile
range of the per-round ratios (wall), a measure of the noise: on a machine shared with other jobs
the CPU-time ratio is the steadier of the two (wall time then includes waiting for a core), most of
all with ``--threads 1`` (with more threads, CPU time also counts threads spinning while they wait
for one another).

archdsl's compile stage runs ReLUs and residual sums in place where that is safe, as the
hand-written models do (archdsl/compile.py make_inplace), so both allocate alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import MODELS  # noqa: E402

import archdsl  # noqa: E402

DEFAULT_MODELS = ("resnet50", "vgg16", "densenet121")
MODES = ("forward", "fwd+bwd")
TARGET = 1.02


def build_pair(name: str):
    """(compiled, hand-written) with the same weights."""
    torch.manual_seed(0)
    compiled = archdsl.load(name).compile()
    hand = MODELS[name]()
    hand.load_state_dict(compiled.state_dict())  # strict: the same keys and shapes
    return compiled, hand


def check_equal(compiled, hand, shape, batch=2, classes=1000) -> None:
    """Equal outputs in eval mode; equal gradients after one training-mode forward + backward."""
    x = torch.randn(batch, *shape)
    compiled.eval(), hand.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), hand(x), rtol=1e-4, atol=1e-4)
    compiled.train(), hand.train()
    target = torch.randint(0, classes, (batch,))
    grads = []
    for model in (compiled, hand):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        F.cross_entropy(model(x), target).backward()
        grads.append({k: p.grad for k, p in model.named_parameters()})
        model.zero_grad(set_to_none=True)
    assert grads[0].keys() == grads[1].keys()
    for k in grads[0]:
        torch.testing.assert_close(grads[0][k], grads[1][k], rtol=1e-3, atol=1e-4, msg=lambda m, k=k: f"{k}: {m}")


def step(model, mode: str, x, target) -> tuple[float, float]:
    """One timed call: (wall seconds, CPU seconds)."""
    model.train(mode == "fwd+bwd")
    model.zero_grad(set_to_none=True)
    w, c = time.perf_counter(), time.process_time()
    if mode == "forward":
        with torch.no_grad():
            model(x)
    else:
        F.cross_entropy(model(x), target).backward()
    return time.perf_counter() - w, time.process_time() - c


def summary(a: list, b: list) -> dict:
    wall_a, wall_b = [t[0] for t in a], [t[0] for t in b]
    cpu_a, cpu_b = [t[1] for t in a], [t[1] for t in b]
    ratios = [p / q for p, q in zip(wall_a, wall_b)]
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    med = statistics.median
    return {
        "rounds": len(a),
        "archdsl_ms": med(wall_a) * 1e3,
        "hand_ms": med(wall_b) * 1e3,
        "ratio": med(wall_a) / med(wall_b),
        "iqr": q3 - q1,
        "archdsl_cpu_ms": med(cpu_a) * 1e3,
        "hand_cpu_ms": med(cpu_b) * 1e3,
        "cpu_ratio": med(cpu_a) / med(cpu_b),
    }


def run(models, modes, batch, shape, repeats, warmup, budget, log=print) -> dict:
    cases, pairs = [], {}
    for name in models:
        compiled, hand = build_pair(name)
        check_equal(compiled, hand, shape)
        pairs[name] = compiled, hand
        cases += [(name, mode) for mode in modes]
    log(f"built and checked {', '.join(models)}: equal outputs and gradients")
    torch.manual_seed(2)
    x = torch.randn(batch, *shape)
    target = torch.randint(0, 1000, (batch,))
    for name, mode in cases:
        for _ in range(warmup):  # allocator, thread pools, oneDNN's primitive caches
            for model in pairs[name]:
                step(model, mode, x, target)
    times = {case: ([], []) for case in cases}
    start = time.perf_counter()
    for r in range(repeats):
        for name, mode in cases:
            a, b = times[name, mode]
            compiled, hand = pairs[name]
            if r % 2 == 0:
                a.append(step(compiled, mode, x, target)), b.append(step(hand, mode, x, target))
            else:
                b.append(step(hand, mode, x, target)), a.append(step(compiled, mode, x, target))
        elapsed = time.perf_counter() - start
        log(f"round {r + 1}/{repeats} done, {elapsed:.0f} s")
        if r + 1 >= 3 and elapsed * (r + 2) / (r + 1) > budget:
            break
    return {case: summary(*times[case]) for case in cases}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), choices=sorted(MODELS))
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--input", default="3x224x224", help="CxHxW")
    ap.add_argument("--repeats", type=int, default=9, help="timed rounds at most")
    ap.add_argument("--warmup", type=int, default=1, help="untimed calls per model and mode")
    ap.add_argument("--budget", type=float, default=420, help="seconds of timed rounds at most (at least 3 rounds)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: as it is)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = tuple(int(s) for s in args.input.split("x"))
    start = time.perf_counter()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads on {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f}); batch {args.batch}, input {args.input}",
        flush=True,
    )
    log = lambda s: print(f"  {s}", file=sys.stderr, flush=True)  # noqa: E731
    results = run(args.models, args.modes, args.batch, shape, args.repeats, args.warmup, args.budget, log=log)
    print(
        f"{'model':12} {'mode':8} {'rounds':>6} {'archdsl ms':>11} {'hand ms':>9} {'ratio':>6} {'iqr':>6} "
        f"{'archdsl cpu':>12} {'hand cpu':>9} {'cpu ratio':>9}"
    )
    for (name, mode), r in results.items():
        print(
            f"{name:12} {mode:8} {r['rounds']:6d} {r['archdsl_ms']:11.1f} {r['hand_ms']:9.1f} {r['ratio']:6.3f} "
            f"{r['iqr']:6.3f} {r['archdsl_cpu_ms']:12.1f} {r['hand_cpu_ms']:9.1f} {r['cpu_ratio']:9.3f}"
        )
    worst = max(r["ratio"] for r in results.values())
    worst_cpu = max(r["cpu_ratio"] for r in results.values())
    print(
        f"worst ratio {worst:.3f} wall, {worst_cpu:.3f} CPU time (target <= {TARGET}); "
        f"load average now {os.getloadavg()[0]:.1f}; {time.perf_counter() - start:.0f} s in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
