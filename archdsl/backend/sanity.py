"""Two checks to run before training a classifier for real (Karpathy's "recipe for training neural
networks"; CS231n's "sanity checks"):

1. the initial loss: with the weights as initialised, a C-way classifier knows nothing, so its mean
   cross-entropy on random data should be about ln(C) (2.30 for 10 classes); far above, and the
   logits start out large (an init scale, a missing normalisation, residuals that add up). The
   figure checked is the expected loss over uniformly random labels, mean(logsumexp(z) - mean(z))
   over the samples: it is ln(C) exactly when all C logits are equal and grows with their spread,
   and unlike the loss on 20 drawn labels it has no label-sampling noise;
2. overfitting a tiny data set: a few random images with random labels must be learnt to 100%
   training accuracy; a network that cannot memorise 20 samples has a bug (a disconnected layer,
   a frozen part, a learning rate far off).

``archdsl sanity SPEC --classes 10`` runs both with a progress bar and exits 0 on pass, 1 on fail.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArchError
from ..ir.analysis import Analysis
from ..limits import MAX_MEMORY, MAX_PARAMS

TOLERANCE = 0.5  # |initial loss - ln C| in nats
SAMPLES = 20
STEPS = 300
LR = 1e-3  # Adam's


@dataclass
class SanityResult:
    """The figures of a sanity run; ``passed`` when both checks pass."""

    name: str
    classes: int
    samples: int
    input_shape: tuple[int, ...]
    device: str
    initial_loss: float  # the expected cross-entropy over random labels at init
    tolerance: float
    max_steps: int
    steps: int = 0  # optimizer steps taken before the training accuracy reached 100%
    final_loss: float = math.nan  # the loss of the last forward
    accuracy: float = 0.0  # the training accuracy of the last forward
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list, repr=False)  # the loss of every forward (on the labels)

    @property
    def expected_loss(self) -> float:
        return math.log(self.classes)

    @property
    def initial_ok(self) -> bool:
        return abs(self.initial_loss - self.expected_loss) < self.tolerance

    @property
    def overfit_ok(self) -> bool:
        return self.accuracy == 1.0

    @property
    def passed(self) -> bool:
        return self.initial_ok and self.overfit_ok

    def lines(self) -> list[str]:
        mark = {True: "pass", False: "FAIL"}
        shape = "x".join(map(str, self.input_shape))
        diff = self.initial_loss - self.expected_loss
        if self.overfit_ok:
            fit = f"100% training accuracy after {self.steps} steps (loss {self.final_loss:.4f})"
        else:
            fit = (
                f"{self.accuracy:.0%} training accuracy after {self.steps} steps, the budget "
                f"(loss {self.final_loss:.4f}); it should reach 100%"
            )
        return (
            [
                f"sanity {self.name}: {self.classes} classes, {self.samples} random {shape} samples with random "
                f"labels, on {self.device}",
                f"  initial loss  {self.initial_loss:.4f}  vs ln({self.classes}) = {self.expected_loss:.4f}: "
                f"off by {diff:+.4f}, tolerance {self.tolerance}  {mark[self.initial_ok]}",
                f"                (expected over random labels; on the {self.samples} drawn labels "
                f"{self.losses[0] if self.losses else math.nan:.4f})",
                f"  overfit       {fit}  {mark[self.overfit_ok]}",
            ]
            + self.hints()
            + [f"{mark[self.passed]} ({self.seconds:.1f} s)"]
        )

    def hints(self) -> list[str]:
        out = []
        if not self.initial_ok:
            out.append(
                "  hint: the logits start out large: look at the scale of the last layers' init, a missing "
                "normalisation, or residual branches whose sum grows with depth"
            )
        if not self.overfit_ok:
            out.append(
                "  hint: a network that cannot memorise a few samples: a frozen or disconnected part, a "
                "learning rate far off (--lr), or too few steps (--steps)"
            )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def _logits(out: Any, key: str | None):
    return out[key] if key is not None else out


def sanity(
    net: Any,
    classes: int | None = None,
    *,
    samples: int = SAMPLES,
    steps: int = STEPS,
    lr: float = LR,
    device: Any = None,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    model: Any = None,
    init: str | None = None,
    weights: Any = None,
    output: str | None = None,
    progress: bool = False,
    console: Any = None,
    max_params: int | None = MAX_PARAMS,
    max_memory: int | None = MAX_MEMORY,
) -> SanityResult:
    """Check the initial loss and overfit ``samples`` random inputs with random labels.

    ``net`` is a loaded :class:`archdsl.Net` (``archdsl.load(spec)``); ``classes``, if
    given, must equal the size of its output. The model is ``net.compile(device=..., seed=seed,
    init=init, weights=weights)`` unless ``model`` (already compiled) is given. Training: full
    batch, Adam with ``lr``, in train mode (dropout and batch statistics on) until a forward
    classifies every sample right or ``steps`` updates are spent; the initial loss is the first
    forward's. Everything random (data, labels, weights) follows ``seed``. ``output`` picks one of
    several outputs (default: ``output``, else the first). ``max_params`` as in ``Net.compile``;
    ``max_memory`` (bytes) as in ``Net.check_memory``, for a training step on ``samples``."""
    import torch

    if not hasattr(net, "analyze"):
        raise TypeError(f"sanity takes a loaded network (archdsl.load(spec)), not {type(net).__name__}")
    a = net.analyze()
    if samples < 1 or steps < 0:
        raise ArchError(f"sanity needs samples >= 1 and steps >= 0, got samples={samples}, steps={steps}", None)
    _one_image_in_one_row_out(a)
    name, n_classes = _classifier_output(a, output, classes)
    device = str(device) if device is not None else default_device()
    key = name if (len(a.outputs) > 1 or net.graph.graph.get("named_outputs")) else None
    net.check_memory(samples, training=True, max_memory=max_memory)
    if model is None:
        model = net.compile(device=device, seed=seed, init=init, weights=weights, max_params=max_params)
    else:
        model = model.to(device)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, *a.input_shape, generator=gen).to(device)
    y = torch.randint(0, n_classes, (samples,), generator=gen).to(device)
    result = SanityResult(a.name, n_classes, samples, tuple(a.input_shape), device, math.nan, tolerance, steps)
    bar = _progress_bar(console) if progress else None
    start = time.perf_counter()
    try:
        _overfit(model, key, x, y, lr, steps, result, bar)
    finally:
        if bar is not None:
            bar.stop()
    result.seconds = time.perf_counter() - start
    return result


def _classifier_output(a, output: str | None, classes: int | None) -> tuple[str, int]:
    """The output checked (``output``, else ``output``, else the first) and its number of classes."""
    outputs = a.outputs
    name = output if output is not None else "output" if "output" in outputs else next(iter(outputs))
    if name not in outputs:
        from ..errors import UnknownNameError

        raise UnknownNameError("output", name, outputs, None)
    shape = outputs[name]
    if len(shape) != 1:
        raise ArchError(
            f"sanity checks a classifier, but {a.name}'s output '{name}' is "
            f"{'x'.join(map(str, shape))}, not a vector of class scores",
            None,
        )
    n_classes = shape[0]
    if classes is not None and classes != n_classes:
        raise ArchError(
            f"{a.name} has {n_classes} outputs, not {classes} classes",
            None,
            f"load it with classes={classes} (archdsl sanity SPEC --classes {classes})",
        )
    if n_classes < 2:
        raise ArchError(f"{a.name} has a single output: sanity needs at least 2 classes", None)
    return name, n_classes


def _progress_bar(console: Any):
    """A started rich progress bar: steps, loss and accuracy."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  accuracy {task.fields[acc]:>4.0%}"),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=False,
    )
    bar.start()
    return bar


def _overfit(model, key: str | None, x, y, lr: float, steps: int, result: SanityResult, bar) -> None:
    """Full-batch Adam in train mode until every sample is classified right or ``steps`` updates are spent,
    recording the losses, the accuracy and (on the first forward) the expected initial loss in ``result``."""
    import torch
    from torch.nn.functional import cross_entropy

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr) if params else None
    model.train()
    task = None if bar is None else bar.add_task(f"overfitting {len(x)} samples", total=steps, loss=math.nan, acc=0.0)
    step = 0
    while True:
        logits = _logits(model(x), key)
        loss = cross_entropy(logits.float(), y)
        acc = (logits.argmax(1) == y).float().mean().item()
        result.losses.append(loss.item())
        result.final_loss, result.accuracy, result.steps = result.losses[-1], acc, step
        if step == 0:
            z = logits.detach().float()
            result.initial_loss = (torch.logsumexp(z, 1) - z.mean(1)).mean().item()
        if bar is not None:
            bar.update(task, completed=step, loss=result.final_loss, acc=acc)
        if acc == 1.0 or step >= steps or opt is None:
            return
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1


def _one_image_in_one_row_out(a: Analysis) -> None:
    """Refuse a network sanity cannot train: one with several inputs or with per-region layers (two-stage
    detectors; no layer turns regions back into images, so their outputs are per region too), whose loss is
    not a classifier's on one label per image."""
    what = a.beyond_one_image()
    if what is not None:
        raise ArchError(
            f"sanity overfits a classifier on one input and one label per image; {a.name} {what}",
            None,
            "train a two-stage detector with its own loss on real boxes; `archdsl check` and `report` check its "
            "shapes and counts",
        )
