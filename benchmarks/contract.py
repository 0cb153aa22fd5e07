"""The input contract's check costs nothing measurable: the same compiled model with and without it.

    python benchmarks/contract.py                       # lenet5, resnet18 at 64x64, resnet50; batch 1, 1 thread
    python benchmarks/contract.py --models resnet50 --rounds 41

For each network, ``net.compile()`` (the check at the start of ``forward``) and
``net.compile(check_input=False)`` share one state_dict and are timed in alternating rounds (which
goes first alternates too), forward in eval mode under ``torch.no_grad()`` on a batch of 1: the
smallest work per call, where a fixed cost shows most. Per network: the median time per call of
each, their ratio (1.000: no cost), the interquartile range of the per-round ratios (the noise), and
the check's own time per call, measured alone on the same input (``model.input_contract(x)``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import archdsl

CASES = {"lenet5": None, "resnet18": "3x64x64", "resnet50": None}


def per_call(fn, x, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn(x)
    return (time.perf_counter() - start) / calls


def measure(name: str, input: str | None, rounds: int, calls: int) -> dict:
    net = archdsl.load(name, input=input)
    checked = net.compile(seed=0).eval()
    bare = net.compile(seed=0, check_input=False).eval()
    bare.load_state_dict(checked.state_dict())
    x = torch.randn(1, *net.analyze().input_shape)
    ratios, with_check, without = [], [], []
    with torch.no_grad():
        for model in (checked, bare):  # warm-up
            per_call(model, x, calls)
        for i in range(rounds):
            pair = (checked, bare) if i % 2 == 0 else (bare, checked)
            times = {id(m): per_call(m, x, calls) for m in pair}
            with_check.append(times[id(checked)])
            without.append(times[id(bare)])
            ratios.append(times[id(checked)] / times[id(bare)])
        check_alone = statistics.median(per_call(checked.input_contract, x, 2000) for _ in range(5))
    q = statistics.quantiles(ratios, n=4)
    return {
        "network": name,
        "input": "x".join(map(str, net.analyze().input_shape)),
        "checked_ms": 1e3 * statistics.median(with_check),
        "bare_ms": 1e3 * statistics.median(without),
        "ratio": statistics.median(ratios),
        "iqr": q[2] - q[0],
        "check_us": 1e6 * check_alone,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=list(CASES))
    p.add_argument("--rounds", type=int, default=21)
    p.add_argument("--calls", type=int, default=20, help="forward calls per model per round")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'network':10} {'input':10} {'checked ms':>11} {'bare ms':>9} {'ratio':>7} {'iqr':>7} {'check µs':>9}")
    for name in args.models:
        r = measure(name, CASES.get(name), args.rounds, args.calls)
        print(
            f"{r['network']:10} {r['input']:10} {r['checked_ms']:11.3f} {r['bare_ms']:9.3f} {r['ratio']:7.3f} "
            f"{r['iqr']:7.3f} {r['check_us']:9.1f}"
        )


if __name__ == "__main__":
    main()
