"""`archdsl report vgg16` against the usual way of getting the same table (build the model in plain PyTorch and
run torchinfo's summary on it), and against archdsl's previous implementation: whole processes (interpreter
start, imports, work), alternating, in the same run; the results are ratios of medians.

    make bench-report            # installs torchinfo into .bench-deps/ (its own folder, not .venv)
    python benchmarks/report_vs_torchinfo.py [--repeats 7] [--deps .bench-deps] [--baseline REV]

archdsl needs no weights and no forward pass: its numbers come from the analysis alone.
torchinfo allocates the 138M parameters and runs a forward pass at 1x3x224x224 to record shapes.

archdsl runs in three forms, each with a warm cache (a folder of its own, after one untimed run: any user's
second run) and a cold one (an empty folder each run: a user's first):

- ``before``: the implementation at ``--baseline`` (by default the commit before the start-up work of issue
  18: pydantic, rich and, on a cold cache, lark's tables and sympy's contract on the way), taken out of git
  into a temporary folder;
- ``checkout``: this checkout, as ``pip install -e`` runs it;
- ``wheel``: this checkout built into a wheel and installed into a temporary folder, with the cache entries a
  wheel ships (archdsl/prebuilt/, hatch_build.py).

All run through the same launcher (the ``archdsl`` console script; PYTHONPATH picks the implementation) from
byte-compiled modules, as pip compiles an installed package (PYTHONDONTWRITEBYTECODE would otherwise make
every run compile them again).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "488257b372a31f1b5d1cec046cdb67a4fb7e6750"  # before issue 18's start-up work (commit 0f72070)

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


def compiled(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)], check=True)
    return folder


def baseline(rev: str, tmp: Path) -> Path | None:
    """The implementation at ``rev`` (its archdsl/, grammar/, specs/) in a folder of its own, or None."""
    out = tmp / "before"
    out.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "archdsl", "grammar", "specs"], capture_output=True
    )
    if archive.returncode != 0:
        print(f"no baseline: git archive {rev} failed ({archive.stderr.decode().strip()[:200]})")
        return None
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return compiled(out / "archdsl").parent


def wheel(tmp: Path) -> Path:
    """This checkout built into a wheel (with its prebuilt cache entries) and installed into a folder."""
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(ROOT)], check=True)
    target = tmp / "wheel"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), *map(str, (tmp / "dist").glob("*.whl"))], check=True
    )
    return compiled(target / "archdsl").parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--deps", default=str(ROOT / ".bench-deps"), help="folder holding torchinfo (pip --target)")
    ap.add_argument("--baseline", default=BASELINE, help="the git revision of the previous implementation")
    args = ap.parse_args()
    archdsl_bin = str(Path(sys.executable).with_name("archdsl"))
    env = dict(os.environ, COLUMNS="200")
    env.pop("ARCHDSL_NO_CACHE", None)
    tenv = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [args.deps, env.get("PYTHONPATH", "")])))
    a_cmd = [archdsl_bin, "report", "vgg16"]
    t_cmd = [sys.executable, "-c", TORCHINFO]
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        compiled(ROOT / "archdsl")
        forms = {"checkout": None, "wheel": wheel(tmp)}
        before = baseline(args.baseline, tmp)
        if before is not None:
            forms = {"before": before, **forms}
        envs: dict[str, dict] = {}
        for form, path in forms.items():
            base = dict(env, PYTHONPATH=str(path)) if path else dict(env)
            envs[f"{form} warm"] = dict(base, ARCHDSL_CACHE_DIR=str(tmp / f"cache-{form}"))
            envs[f"{form} cold"] = base
        for e in envs.values():  # the file cache; each warm form's own archdsl cache
            run(a_cmd, dict(e, ARCHDSL_CACHE_DIR=e.get("ARCHDSL_CACHE_DIR", str(tmp / "scratch"))))
        run(t_cmd, tenv)
        times: dict[str, list[float]] = {k: [] for k in [*envs, "torchinfo"]}
        for r in range(args.repeats):
            keys = list(times)
            for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                if key == "torchinfo":
                    times[key].append(run(t_cmd, tenv))
                    continue
                e = envs[key]
                if key.endswith("cold"):
                    cold = Path(tempfile.mkdtemp(dir=tmp, prefix="cold-"))
                    e = dict(e, ARCHDSL_CACHE_DIR=str(cold / "cache"))
                times[key].append(run(a_cmd, e))
        report(times, args.repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(times: dict[str, list[float]], repeats: int) -> None:
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"median of {repeats} runs each, alternating (ms):")
    for k, v in med.items():
        what = "plain PyTorch + torchinfo.summary" if k == "torchinfo" else f"archdsl report vgg16, {k}"
        print(f"  {what:<40}{v * 1000:8.0f}")
    for form in ("checkout", "wheel"):
        for cache in ("warm", "cold"):
            if f"before {cache}" in med:
                ratio = med[f"{form} {cache}"] / med[f"before {cache}"]
                target = " (target: at most 0.5x)" if cache == "warm" else ""
                print(f"{form} / before, {cache} cache: {ratio:.2f}x{target}")
    print(f"wheel cold / wheel warm: {med['wheel cold'] / med['wheel warm']:.2f}x (target: 1)")
    print(f"torchinfo / checkout warm: {med['torchinfo'] / med['checkout warm']:.1f}x faster (target: at least 10x)")


if __name__ == "__main__":
    main()
