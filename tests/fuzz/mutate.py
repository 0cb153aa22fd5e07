"""Mutations of the library specs (specs/**/*.arch) for the fuzz tests.

A real spec is tokenised roughly (numbers, names, strings, punctuation, line breaks) and
changed in one to three places: a token deleted, duplicated or swapped with its neighbour, a
number turned into 0, a negative, a huge value or a float, a name replaced by another name of
the same file or a typo, a line deleted or duplicated, a bracket dropped, a stray unicode
character inserted. The result is loaded as inline text, one of its networks chosen at random.
"""

from __future__ import annotations

import random
import re
from functools import cache
from pathlib import Path

SPECS = Path(__file__).resolve().parents[2] / "specs"
TOKEN = re.compile(r'"[^"\n]*"|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|->|#[^\n]*|\n|[ \t]+|.', re.S)
NETWORK = re.compile(r"^network\s+([A-Za-z_][A-Za-z0-9_]*)", re.M)
NUMBERS = [
    "0",
    "-1",
    "-64",
    "1",
    "2",
    "3",
    "7",
    "100000",
    "1000000000",
    "9007199254740993",
    "99999999999999999999",
    "0.5",
    "1.5",
    "1e-9",
    "1e400",
    "2.0",
    "-0.0",
]
UNICODE = ["é", "×", "\u0435", "\u00a0", "\ufeff", "\u200b", "→", "\x00", "😀", "\ud800", "\r", "\\", "ß"]
TYPOS = ["maxpol", "covn", "rleu", "bnn", "inputt", "blok", "netwrk", "improt", "shortcutt", "concta"]


def spec_files() -> list[Path]:
    return sorted(SPECS.rglob("*.arch"))


@cache
def tokens_of(path: Path) -> tuple[str, ...]:
    return tuple(TOKEN.findall(path.read_text(encoding="utf-8")))


def _significant(toks: list[str]) -> list[int]:
    return [i for i, t in enumerate(toks) if t.strip() and not t.startswith("#")]


def mutate(path: Path, seed: int) -> tuple[str, str | None]:
    """A mutated copy of the spec's text, and the network to load (None: the file's main one)."""
    r = random.Random(seed)
    toks = list(tokens_of(path))
    names = sorted({t for t in toks if re.fullmatch(r"[A-Za-z_]\w*", t)})
    for _ in range(r.choice([1, 1, 1, 2, 3])):
        sig = _significant(toks)
        if not sig:
            break
        i = r.choice(sig)
        t = toks[i]
        kind = r.randint(0, 11)
        if kind == 0:
            del toks[i]
        elif kind == 1:
            toks.insert(i, t)
        elif kind == 2 and sig.index(i) + 1 < len(sig):
            j = sig[sig.index(i) + 1]
            toks[i], toks[j] = toks[j], toks[i]
        elif kind in (3, 4, 5):  # a number: zero, negative, huge, float
            nums = [k for k in sig if re.fullmatch(r"\d+(\.\d+)?([eE][-+]?\d+)?", toks[k])]
            if nums:
                toks[r.choice(nums)] = r.choice(NUMBERS)
        elif kind == 6:  # another name of the file, or a typo
            words = [k for k in sig if re.fullmatch(r"[A-Za-z_]\w*", toks[k])]
            if words:
                toks[r.choice(words)] = r.choice(names + TYPOS)
        elif kind == 7:  # a whole line deleted or duplicated
            text = "".join(toks)
            lines = text.split("\n")
            k = r.randrange(len(lines))
            if r.random() < 0.5:
                del lines[k]
            else:
                lines.insert(k, lines[k])
            toks = list(TOKEN.findall("\n".join(lines)))
        elif kind == 8:  # a bracket dropped
            brackets = [k for k in sig if toks[k] in "[](){}"]
            if brackets:
                del toks[r.choice(brackets)]
        elif kind == 9:
            toks.insert(i, r.choice(UNICODE))
        elif kind == 10:  # a number operator: x2 -> x0, -64 -> -0, /2 -> /0
            toks.insert(i, r.choice(["-", "x", "*", "/", "@", ":", ",", "=", "-{", "}"]))
        else:  # a repeat count or size blown up
            nums = [k for k in sig if toks[k].isdigit()]
            if nums:
                toks[r.choice(nums)] = r.choice(["100000", "1000000", "10000000000", "65536"])
    text = "".join(toks)
    nets = NETWORK.findall(text)
    network = r.choice(nets) if nets and r.random() < 0.8 else None
    return text, network
