"""``net.compile(optimize="inference")`` against eager models, timed in the same run (issue 18's first part).

    python benchmarks/optimize.py                          # resnet50 and mobilenet_v2, batch 8 and 1
    python benchmarks/optimize.py --threads 1 --rounds 9
    python benchmarks/optimize.py --backends eager script  # without inductor (minutes of compiling)

Per network, eval mode under ``torch.inference_mode()``: the plain compiled model (archdsl's eager, which
runs at torchvision's eager speed: benchmarks/speed.py), the hand-written torchvision-structured model of
benchmarks/models.py where there is one (resnet50), and the optimised model with each back end (``eager``:
BatchNorm folded into the convs, channels-last weights; ``script``: that, then TorchScript frozen and
optimised for inference; ``inductor``: that, then ``torch.compile`` with inductor, weights frozen). Every
variant is warmed up, then timed once per round, the order rotating from round to round so that drift hits
all alike. The table gives the median seconds per call and the ratio of medians to the plain compiled model's
(and to the hand-written one's), and each variant's first call at that batch (inductor compiles again for a
new batch size: that call holds the compile). The optimised models are checked to compute the eval model's
outputs first (within 1e-4). The time to optimise (``model.optimize_seconds``) and the back end's part of it
(``model.compile_seconds``: scripting; inductor's compile on one sample) are printed beside them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import MODELS  # noqa: E402

import archdsl  # noqa: E402


def timed(model: torch.nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    model(x)
    return time.perf_counter() - start


def variants(name: str, shape: tuple[int, ...], backends: list[str]) -> dict[str, torch.nn.Module]:
    net = archdsl.load(name)
    plain = net.compile(seed=0).eval()
    out = {"archdsl eager": plain}
    if name in MODELS:
        hand = MODELS[name]().eval()
        hand.load_state_dict({k: v for k, v in plain.state_dict().items() if not k.startswith("input_contract")})
        out["hand-written"] = hand
    for backend in backends:
        fast = net.compile(seed=0, optimize="inference", backend=backend)
        print(
            f"  {name}: optimize (backend {backend}) took {fast.optimize_seconds:.2f} s, "
            f"of which the back end's compile {fast.compile_seconds:.2f} s"
        )
        out[f"optimized {backend}"] = fast
    x = torch.randn(2, *shape)
    with torch.inference_mode():
        want = plain(x)
        for key, model in out.items():
            torch.testing.assert_close(model(x), want, atol=1e-4, rtol=1e-5, msg=f"{name} {key}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="*", default=["resnet50", "mobilenet_v2"])
    p.add_argument("--batches", type=int, nargs="*", default=[8, 1])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int)
    p.add_argument("--backends", nargs="*", default=["eager", "script", "inductor"])
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in args.models:
        shape = tuple(archdsl.load(name).analyze().input_shape)
        models = variants(name, shape, args.backends)
        for batch in args.batches:
            x = torch.randn(batch, *shape)
            times: dict[str, list[float]] = {k: [] for k in models}
            keys = list(models)
            with torch.inference_mode():
                first = {k: timed(models[k], x) for k in keys}
                for _ in range(args.warmup):
                    for k in keys:
                        models[k](x)
                for r in range(args.rounds):
                    for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
                        times[k].append(timed(models[k], x))
            base = statistics.median(times["archdsl eager"])
            hand = statistics.median(times["hand-written"]) if "hand-written" in times else None
            print(
                f"{name}, batch {batch} ({args.rounds} rounds, median s/call; ratio to archdsl eager / hand-written; "
                "the first call at this batch)"
            )
            for k in keys:
                med = statistics.median(times[k])
                vs_hand = f"{med / hand:6.3f}x" if hand else "     -"
                print(f"  {k:<20}{med:9.4f}  {med / base:6.3f}x  {vs_hand}  first {first[k]:8.3f}")


if __name__ == "__main__":
    main()
