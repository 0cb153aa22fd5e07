"""Issue 13's reproducers, timed: each ends in a clear error or a correct result within 3 s and 500 MB.

    python benchmarks/hostile.py                 # every case, 3 rounds each
    python benchmarks/hostile.py --cases render-concat-19000 symbolic-odd-strides --rounds 5

Each case is one whole process (the `archdsl` command, or a short Python script), started afresh in a
folder of its own holding the files it needs, with a 2 GB address-space limit and a 60 s kill, like a
user's run. Per case: the median wall-clock seconds, the peak resident memory (the child's own
``ru_maxrss``, from ``os.wait4``), the exit status and the first line it printed to stderr. The
baseline is ``archdsl check lenet5`` timed the same way in the same run (most of a short case is the
interpreter and torch starting): the ratio column is case / baseline, which a busy machine moves
less than the seconds. The tests (tests/test_hostile_*.py) check what each case answers; this file
only measures how long and how much.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARCHDSL = str(Path(sys.executable).with_name("archdsl"))
LIMIT_SECONDS, LIMIT_MB = 3.0, 500  # the acceptance
KILL = 60


def nested(levels: int, width: int, name: str = "a") -> list[str]:
    lines = [f"{name}0 = range(100000)"]
    return lines + [f"{name}{i} = (" + ", ".join([f"{name}{i - 1}"] * width) + ")" for i in range(1, levels + 1)]


TAIL = "input 3x8x8\nrelu\n"
TINY = "network tiny {\n  input 3x8x8\n  conv1: conv3-4 - relu\n  fc-2\n}\n"
INJECTION = 'net""";__import__("os").system("touch PWNED");"""x.arch'
ODD = "conv(4,k=2,s=2,p=1) - conv(4,k=3,s=3,p=1) - conv(4,k=5,s=5,p=1) - conv(4,k=7,s=7,p=1) - conv(4,k=11,s=11,p=1)"

# name: (argv after `archdsl`, or ["-c", script] for Python; the files to write first)
CASES: dict[str, tuple[list[str], dict[str, str]]] = {
    "baseline: check lenet5": (["check", "lenet5"], {}),
    "1 compile an injected file name": (["compile", INJECTION, "-o", "gen.py"], {INJECTION: TINY}),
    "2 imports 2,000 x 2,000": (
        ["check", "a.arch"],
        {
            "a.arch": "".join(f'import "b.arch" as b{i}\n' for i in range(2000)) + TAIL,
            "b.arch": "".join(f"import vgg as v{i}\n" for i in range(2000)) + TAIL,
        },
    ),
    "2 thirty files importing the next twice": (
        ["check", "f0.arch"],
        {
            **{f"f{i}.arch": f'import "f{i + 1}.arch" as x\nimport "f{i + 1}.arch" as y\n' + TAIL for i in range(30)},
            "f30.arch": TAIL,
        },
    ),
    "2 5,000 imports of vgg": (
        ["check", "v.arch"],
        {"v.arch": "".join(f"import vgg as v{i}\n" for i in range(5000)) + TAIL},
    ),
    "3 nested tuples compared": (
        ["check", "t.arch"],
        {
            "t.arch": "\n".join(
                [*nested(4, 20, "a"), *nested(4, 20, "b"), "input 3x8x8", "if a4 == b4 { relu } else { relu }"]
            )
            + "\n"
        },
    ),
    "3 nested tuple to a repeated block": (
        ["check", "t.arch"],
        {
            "t.arch": "\n".join([*nested(4, 20), "block blk(v) { relu }", "input 3x8x8", "[blk(a4) - blk(a4)]x100"])
            + "\n"
        },
    ),
    "5 compile a label 'class'": (
        ["compile", "k.arch", "-o", "k.py"],
        {"k.arch": "input 3x8x8\nclass: conv3-4 - fc(2)\n"},
    ),
    "6 compile conv3-2^53": (["compile", "conv3-9007199254740992", "--input", "64x8x8", "-o", "o.py"], {}),
    "6 compile --classes 2^70": (["compile", "lenet5", "--classes", str(2**70), "-o", "o.py"], {}),
    "6 meta compile of 20G params": (
        ["-c", "import archdsl; archdsl.load('fc-100000 - fc-100000', input='100000').compile(device='meta')"],
        {},
    ),
    "7 render a concat of 4,000 to .dot": (
        ["render", "c.arch", "-o", "c.dot"],
        {"c.arch": "input 3x8x8\nconcat {\n" + "bn\n" * 4000 + "}\n"},
    ),
    "7 render a concat of 19,000 to .dot": (
        ["render", "c.arch", "-o", "c.dot"],
        {"c.arch": "input 3x8x8\nconcat {\n" + "bn\n" * 19000 + "}\n"},
    ),
    "7 render a chain of 6,000 layers to .svg": (
        ["render", "c.arch", "-o", "c.svg"],
        {"c.arch": "input 3x8x8\nconv1-3\n" + "relu\n" * 6000},
    ),
    "7 symbolic report, five odd strides": (["report", ODD, "--input", "3xHxW"], {}),
    "7 symbolic report, 2,000 valid convs": (["report", "[conv(3,k=3,p=0)]x2000", "--input", "3xHxW"], {}),
    "8 --input ²x8x8": (["check", "lenet5", "--input", "²x8x8"], {}),
    "8 --set n=1e400": (["check", "n = 2\ninput 3x8x8\n[relu]x{n}", "--set", "n=1e400"], {}),
    "8 export to a full disk": (["export", "lenet5", "-o", "/dev/full", "--format", "torchscript"], {}),
    "9 compile over its own spec": (["compile", "k.arch", "-o", "k.arch"], {"k.arch": TINY}),
}


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))


def run_once(argv: list[str], files: dict[str, str]) -> tuple[float, float, int, str]:
    """Seconds, peak MB, exit status and first stderr line of one fresh run in a folder of its own."""
    folder = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        for name, text in files.items():
            (folder / name).write_text(text)
        cmd = [sys.executable, *argv] if argv[0] == "-c" else [ARCHDSL, *argv]
        err_path = folder / ".stderr"
        with open(err_path, "wb") as err, open(os.devnull, "wb") as out:
            start = time.perf_counter()
            child = subprocess.Popen(cmd, cwd=folder, stdout=out, stderr=err, preexec_fn=_limits)
            deadline = start + KILL
            while True:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    child.kill()
                    pid, status, usage = os.wait4(child.pid, 0)
                    break
                time.sleep(0.005)
            seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        first = next((ln for ln in err_path.read_text(errors="replace").splitlines() if ln.strip()), "")
        return seconds, usage.ru_maxrss / 1024, child.returncode, first
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="*", help="substrings of the case names (default: all)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    names = [n for n in CASES if n.startswith("baseline") or not args.cases or any(c in n for c in args.cases)]
    runs: dict[str, list[tuple[float, float, int, str]]] = {n: [] for n in names}
    for _ in range(args.rounds):  # rounds alternate over the cases, so that a busy spell touches all of them
        for name in names:
            runs[name].append(run_once(*CASES[name]))
    base = statistics.median(r[0] for r in runs[names[0]])
    print(f"{'case':42} {'seconds':>8} {'ratio':>6} {'MB':>6} {'exit':>4}  first line of stderr")
    worst = 0.0
    for name in names:
        seconds = statistics.median(r[0] for r in runs[name])
        mb = max(r[1] for r in runs[name])
        code, first = runs[name][-1][2:]
        within = seconds <= LIMIT_SECONDS and mb <= LIMIT_MB
        worst = max(worst, seconds)
        print(
            f"{name:42} {seconds:8.2f} {seconds / base:6.2f} {mb:6.0f} {code:4}  "
            f"{'' if within else '[over 3 s / 500 MB] '}{first[:90]}"
        )
    print(f"\n{args.rounds} rounds; baseline {base:.2f} s; slowest case {worst:.2f} s")


if __name__ == "__main__":
    main()
