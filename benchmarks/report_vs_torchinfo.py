"""`archdsl report vgg16` against the usual way of getting the same table: build the model in plain
PyTorch and run torchinfo's summary on it. Both are timed as whole processes (interpreter start,
imports, work), alternating, in the same run; the result is the ratio of medians.

    make bench-report            # installs torchinfo into .bench-deps/ (its own folder, not .venv)
    python benchmarks/report_vs_torchinfo.py [--repeats 7] [--deps .bench-deps]

archdsl needs no weights and no forward pass: its numbers come from the analysis alone.
torchinfo allocates the 138M parameters and runs a forward pass at 1x3x224x224 to record shapes.

Both sides run as installed packages do: from byte-compiled modules (pip compiles torch and
torchinfo when it installs them; archdsl, installed editable, is compiled here first, since an
environment with PYTHONDONTWRITEBYTECODE would otherwise recompile it on every run), and after
one untimed run each (the file cache; for archdsl also its per-user cache of parsed library
specs and parser tables, archdsl/cache.py, which any second run of a user finds warm).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# plain, conventional PyTorch VGG-16 (configuration D), the model torchinfo is asked to summarise
TORCHINFO = r"""
import torch
from torch import nn
import torchinfo

def vgg16():
    layers, c = [], 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
            c = v
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(7), nn.Flatten(), nn.Linear(512 * 49, 4096), nn.ReLU(True),
                         nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 1000))

stats = torchinfo.summary(vgg16(), input_size=(1, 3, 224, 224), verbose=0)
assert stats.total_params == 138_357_544, stats.total_params
print(stats)
"""


def run(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{done.stderr[-2000:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--deps", default=str(ROOT / ".bench-deps"), help="folder holding torchinfo (pip --target)")
    args = ap.parse_args()
    archdsl_bin = str(Path(sys.executable).with_name("archdsl"))
    env = dict(os.environ, COLUMNS="200")
    tenv = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [args.deps, env.get("PYTHONPATH", "")])))
    a_cmd = [archdsl_bin, "report", "vgg16"]
    t_cmd = [sys.executable, "-c", TORCHINFO]
    import archdsl

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(archdsl.__file__).parent)], check=True)
    run(a_cmd, env), run(t_cmd, tenv)  # warm the file cache (and archdsl's own)
    a_times, t_times = [], []
    for _ in range(args.repeats):
        a_times.append(run(a_cmd, env))
        t_times.append(run(t_cmd, tenv))
    a, t = statistics.median(a_times), statistics.median(t_times)
    print(f"archdsl report vgg16:             median {a * 1000:8.0f} ms over {args.repeats} runs")
    print(f"plain PyTorch + torchinfo.summary: median {t * 1000:8.0f} ms over {args.repeats} runs")
    print(f"ratio (torchinfo / archdsl): {t / a:.1f}x faster (target: at least 10x)")


if __name__ == "__main__":
    main()
