"""Running one fuzz case: a spec must end in an analysis or an ArchError, within a time limit.

Anything else fails the case: another exception (a traceback a user would see), a
RecursionError or MemoryError, or a case that runs longer than ``CASE_SECONDS`` (a hang).
"""

from __future__ import annotations

import ast
import os
import signal
import time
import types
from contextlib import contextmanager

import hypothesis
import torch

import archdsl
from archdsl import ArchError

CASE_SECONDS = float(os.environ.get("ARCHDSL_FUZZ_CASE_SECONDS", "5"))


MAIN_EXAMPLES = 2000  # the CI cases of the main grammar test (test_fuzz.py::test_generated_specs)


def examples(default: int) -> int:
    """How many cases a fuzz test runs: ``default`` in CI; for a long campaign ``ARCHDSL_FUZZ_EXAMPLES``
    sets the main grammar test's number and the others scale with it."""
    total = os.environ.get("ARCHDSL_FUZZ_EXAMPLES")
    return default if not total else max(default, int(total) * default // MAIN_EXAMPLES)


class Hang(BaseException):
    """A case ran past CASE_SECONDS (a BaseException, so that no ``except Exception`` swallows it)."""


@contextmanager
def time_limit(seconds: float = CASE_SECONDS):
    """Raise Hang in the main thread when the block runs longer than ``seconds``."""

    def expire(signum, frame):
        raise Hang(f"ran longer than {seconds:g} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Failure(AssertionError):
    pass


def check_rendering(err: ArchError) -> None:
    """``file:line:col: message``, then the line the parser counted (tabs as spaces), then a caret
    under the column, then the hint."""
    rendered = str(err)
    assert rendered and err.message, "an ArchError without a message"
    if err.span is None:
        return
    span = err.span
    assert rendered.startswith(f"{span.file}:{span.line}:{span.column}: {err.message}"), rendered
    excerpt = span.excerpt()
    if not excerpt:
        return
    shown, caret = excerpt.split("\n")
    line = span.source.split("\n")[span.line - 1].rstrip().expandtabs(4)
    assert shown.startswith("    "), shown
    if len(line) <= 100:
        assert shown[4:] == line, (shown, line)
    else:  # a long line is shown as a window around the spot
        assert shown[4:].removeprefix("...").removesuffix("...") in line, (shown, line)
    assert caret.strip() and set(caret.strip()) == {"^"}, caret
    assert caret.index("^") <= len(shown), (shown, caret)


def outcome(text: str, seconds: float = CASE_SECONDS, **kwargs):
    """Load and analyse ``text``: the Analysis, or the ArchError it raised. Anything else is a Failure
    that shows the spec, so that hypothesis prints a reproducible case."""
    start = time.perf_counter()
    try:
        with time_limit(seconds):
            try:
                return archdsl.load(text, **kwargs).analyze()
            except ArchError as err:
                check_rendering(err)
                return err
    except Hang:
        raise Failure(f"hang: more than {seconds:g} s on\n{text!r}\n{kwargs}") from None
    except (RecursionError, MemoryError) as err:
        raise Failure(f"{type(err).__name__} on\n{text!r}\n{kwargs}") from err
    except Exception as err:  # noqa: BLE001 - the point of the fuzzer
        raise Failure(
            f"{type(err).__name__}: {err}\non\n{text!r}\n{kwargs}\nafter {time.perf_counter() - start:.2f} s"
        ) from err


def module_from_source(source: str, name: str = "archdsl_generated") -> types.ModuleType:
    """Generated source (``Net.source()``), checked with ``ast.parse`` and run as a module of its own."""
    ast.parse(source)
    module = types.ModuleType(name)
    module.__file__ = f"<{name}.py>"
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - archdsl's own generated source
    return module


def built_from_source(source: str, device: str = "meta") -> torch.nn.Module:
    """The model generated source builds (its ``build()``), on ``device``."""
    module = module_from_source(source)
    with torch.device(device):
        return module.build()


def state_shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def same_state(compiled: torch.nn.Module, generated: torch.nn.Module, text: str) -> None:
    """The generated model has the compiled module's state_dict: the same keys, in the same order, the same shapes."""
    want, got = state_shapes(compiled), state_shapes(generated)
    assert list(want) == list(got) and want == got, f"{text!r}\ncompiled  {want}\ngenerated {got}"


def known_bug(kind: str, subject) -> bool:
    """Whether ``subject`` meets the open bug ``grammar.KNOWN_BUGS[kind]`` (then the case stops there, counted as a
    hypothesis event); never with ARCHDSL_FUZZ_KNOWN_BUGS=1."""
    from .grammar import KNOWN_BUGS

    if kind not in KNOWN_BUGS or not KNOWN_BUGS[kind](subject):
        return False
    try:
        hypothesis.event(f"known bug: {kind}")
    except hypothesis.errors.InvalidArgument:  # not in a hypothesis test
        pass
    return True
