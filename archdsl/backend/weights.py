"""The weights of a compiled model: initialisation schemes, loading a state_dict with a clear account
of what does not fit, and freezing the part of a network that feeds a label (transfer learning).

``Net.compile`` uses all three (see docs/training.md)::

    net = archdsl.load("resnet18", classes=10)            # a new 10-way head
    model = net.compile(weights="resnet18-imagenet.pth",  # every tensor but the 1000-way fc
                        skip_mismatched=True,             # fc keeps its own (new) initialisation
                        freeze="avgpool")                 # only fc trains
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ArchError, UnknownNameError, did_you_mean
from ..ir.graph import Graph, ancestors

SCHEMES = ("torch", "he", "xavier")
SHOWN = 5  # keys listed per kind in an error; the rest are counted
WRAPPERS = ("module.", "_orig_mod.", "model.")  # DistributedDataParallel, torch.compile, Lightning


class WeightsError(ArchError):
    """A state_dict that does not fit the network: missing or unexpected keys, or other shapes."""


class WeightsFileError(WeightsError):
    """A weights file that cannot be read as a state_dict at all (missing, empty, cut short, a pickle of other
    objects): the command line's exit 2, like any file it cannot read."""


class WeightsWarning(UserWarning):
    """Weights loaded only in part (``strict=False``, ``skip_mismatched=True``)."""


# ------------------------------------------------------------------ initialisation
def resolve_scheme(init: str | None, variables: Mapping[str, Any]) -> str:
    """The scheme to use: ``init`` if given, else the spec's variable ``init``, else ``"torch"``."""
    from_spec = init is None and "init" in variables
    scheme = variables["init"] if from_spec else init if init is not None else "torch"
    if not isinstance(scheme, str) or scheme.lower() not in SCHEMES:
        where = " (the spec's variable `init`)" if from_spec else ""
        raise UnknownNameError(
            "init scheme",
            str(scheme),
            SCHEMES,
            None,
            None if did_you_mean(str(scheme), SCHEMES) else f"choose one of {', '.join(SCHEMES)}",
            where=where,
        )
    return scheme.lower()


# the module classes whose every parameter a scheme overwrites: compile builds them without torch's default
# initialisation (kept next to initialize(), which must cover all of their parameters)
REINITIALISED: dict[str, tuple[type, ...]] = {
    "he": (nn.modules.conv._ConvNd,),
    "xavier": (nn.modules.conv._ConvNd, nn.Linear),
}


def initialize(model: nn.Module, scheme: str) -> nn.Module:
    """Re-initialise ``model`` in place by ``scheme``.

    - ``"torch"``: leave each module as torch constructed it (torch's own defaults);
    - ``"he"`` (He et al. 2015, as torchvision's ResNet): conv weights ~ N(0, 2/fan_out)
      (``kaiming_normal_(mode="fan_out", nonlinearity="relu")``), fc weights keep torch's default;
    - ``"xavier"`` (Glorot & Bengio 2010): conv and fc weights ~ U(±sqrt(6/(fan_in+fan_out))).

    Both named schemes set every conv and fc bias to 0 and every norm layer's γ to 1 and β to 0.
    Parameters that an op fills with a set value (SSD's L2-norm scale) are left alone."""
    if scheme == "torch":
        return model
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.conv._ConvNd):
                if scheme == "he":
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                else:
                    nn.init.xavier_uniform_(m.weight)
            elif isinstance(m, nn.Linear):
                if scheme == "xavier":
                    nn.init.xavier_uniform_(m.weight)
            elif isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)):
                if getattr(m, "weight", None) is not None:
                    nn.init.ones_(m.weight)
            else:
                continue
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
    return model


# ------------------------------------------------------------------ loading
@dataclass
class LoadReport:
    """What ``load_weights`` did with each key of the state_dict."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # the model's, absent from the weights
    unexpected: list[str] = field(default_factory=list)  # the weights', absent from the model
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # key, model's shape, weights'
    skipped: list[str] = field(default_factory=list)  # not loaded: mismatched (skip_mismatched) or reinit
    defaulted: list[str] = field(default_factory=list)  # BN's num_batches_tracked absent: left at 0
    stripped: str = ""  # a wrapper prefix removed from every key

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        parts = [f"loaded {len(self.loaded)} tensors"]
        if self.skipped:
            parts.append(f"kept the model's own initialisation for {len(self.skipped)}")
        for kind in ("missing", "unexpected", "mismatched"):
            if getattr(self, kind):
                parts.append(f"{len(getattr(self, kind))} {kind}")
        return ", ".join(parts)


def read_state_dict(weights: Any, _error: type[WeightsError] | None = None) -> dict[str, torch.Tensor]:
    """A state_dict from a path (``torch.save``'d, e.g. torchvision's pretrained files) or a dict;
    a checkpoint that wraps one under ``state_dict`` / ``model`` / ``model_state_dict`` is unwrapped.
    A file that holds no state_dict is a WeightsFileError."""
    error = _error or WeightsError
    if isinstance(weights, (str, Path)):
        weights, error = _load_file(Path(weights)), WeightsFileError
    if isinstance(weights, nn.Module):
        weights = weights.state_dict()
    if not isinstance(weights, Mapping):
        raise error(f"weights must be a state_dict (a dict of tensors), got {type(weights).__name__}", None)
    if not all(isinstance(v, torch.Tensor) for v in weights.values()):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(weights.get(key), Mapping):
                return read_state_dict(weights[key], error)
        bad = next(k for k, v in weights.items() if not isinstance(v, torch.Tensor))
        raise error(
            f"weights must be a state_dict of tensors; '{_key(bad)}' holds a {type(weights[bad]).__name__}",
            None,
            "a training checkpoint? pass its state_dict: checkpoint['state_dict']",
        )
    return dict(weights)


def _key(key: Any) -> str:
    """A state_dict key as a message shows it: printable, at most 80 characters."""
    text = repr(key)[1:-1] if isinstance(key, str) else repr(key)
    return text if len(text) <= 80 else text[:77] + "..."


def _load_file(path: Path) -> Any:
    """``torch.load(path, weights_only=True)``, with every way a file can fail to be weights as a
    WeightsFileError of one line (torch's own messages run to paragraphs)."""
    if not path.is_file():
        raise WeightsFileError(
            f"no such weights file: {path}" if not path.exists() else f"the weights file is not a regular file: {path}",
            None,
        )
    hint = "save the weights with torch.save(model.state_dict(), path)"
    if path.stat().st_size == 0:
        raise WeightsFileError(f"cannot read {path.name} as a state_dict: the file is empty", None, hint)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols on the way
            return torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except pickle.UnpicklingError as err:
        why = (
            "it holds Python objects other than tensors, and loading those could run code (refused)"
            if "weights only load failed" in str(err).lower()
            else "not a file torch.save wrote"
        )
        raise WeightsFileError(f"cannot read {path.name} as a state_dict: {why}", None, hint) from None
    except Exception as err:  # EOFError, a zip cut short (RuntimeError), bytes that are no pickle, ...
        why = (
            "it is cut short or damaged" if isinstance(err, (EOFError, RuntimeError)) else "not a file torch.save wrote"
        )
        raise WeightsFileError(f"cannot read {path.name} as a state_dict: {why}", None, hint) from None


def _shape(t: torch.Tensor | tuple) -> tuple:
    return tuple(t.shape) if isinstance(t, torch.Tensor) else tuple(t)


def _fmt(shape: tuple) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _under(key: str, scopes: Iterable[str]) -> bool:
    return any(key == s or key.startswith(s + ".") for s in scopes)


def _strip_wrapper(sd: dict, own: Mapping) -> tuple[dict, str]:
    """``module.conv1.weight`` (saved from DistributedDataParallel) → ``conv1.weight``."""
    for prefix in WRAPPERS:
        if sd and all(k.startswith(prefix) for k in sd) and not any(k.startswith(prefix) for k in own):
            stripped = {k[len(prefix) :]: v for k, v in sd.items()}
            if len(stripped.keys() & own.keys()) > len(sd.keys() & own.keys()):
                return stripped, prefix
    return sd, ""


def _listing(title: str, rows: list[str]) -> list[str]:
    out = [f"  {title} ({len(rows)}):"] + [f"    {r}" for r in rows[:SHOWN]]
    if len(rows) > SHOWN:
        out.append(f"    ... and {len(rows) - SHOWN} more")
    return out


def _near(key: str, shape: tuple, pool: dict[str, tuple]) -> str | None:
    """The key of ``pool`` most like ``key``, preferring one of the same shape."""
    same = [k for k, s in pool.items() if s == shape]
    return did_you_mean(key, same) or did_you_mean(key, pool)


def _scope_of(keys: list[str]) -> str | None:
    """The common label of some keys (``fc.weight``, ``fc.bias`` → ``fc``), if they share one."""
    parts = [k.split(".")[:-1] for k in keys]
    common = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return ".".join(common) or None


def describe(
    report: LoadReport, own: Mapping[str, tuple], given: Mapping[str, tuple], name: str, skip_mismatched: bool
) -> tuple[str, str | None, list[str]]:
    """The message, hint and detail lines for a report with missing, unexpected or mismatched keys."""
    counts = []
    for n, word in (
        (len(report.missing), "missing"),
        (len(report.unexpected), "unexpected"),
        (len(report.mismatched), "with another shape"),
    ):
        if n:
            counts.append(f"{n} {word}")
    message = f"the weights do not fit {name}: {', '.join(counts)} (of the model's {len(own)} tensors)"
    missing_pool = {k: own[k] for k in report.missing}
    unexpected_pool = {k: given[k] for k in report.unexpected}
    rows_m = []
    for k in report.missing:
        guess = _near(k, own[k], unexpected_pool)
        rows_m.append(f"{k} {_fmt(own[k])}" + (f" — did you mean '{guess}' ({_fmt(given[guess])})?" if guess else ""))
    rows_u = []
    for k in report.unexpected:
        guess = _near(k, given[k], missing_pool)
        rows_u.append(f"{k} {_fmt(given[k])}" + (f" — did you mean '{guess}' ({_fmt(own[guess])})?" if guess else ""))
    rows_s = [f"{k}: the model has {_fmt(a)}, the weights {_fmt(b)}" for k, a, b in report.mismatched]
    lines = []
    if rows_m:
        lines += _listing("missing from the weights", rows_m)
    if rows_u:
        lines += _listing("in the weights but not in the model", rows_u)
    if rows_s:
        lines += _listing("shape mismatch", rows_s)
    matched = len(own) - len(report.missing)
    hint = None
    if matched < len(own) / 2:
        hint = (
            f"only {matched} of the model's {len(own)} tensors have a key in the weights: are they another network's?"
        )
    elif report.mismatched and not skip_mismatched and not (report.missing or report.unexpected):
        scope = _scope_of([k for k, _, _ in report.mismatched])
        hint = (
            "a different head (the spec's `classes`)? pass skip_mismatched=True to keep the model's own "
            "initialisation for these" + (f", or reinit='{scope}'" if scope else "")
        )
    elif report.missing or report.unexpected:
        hint = "a renamed label in the spec? or pass strict=False to load what fits"
    return message, hint, lines


def load_weights(
    model: nn.Module,
    weights: Any,
    *,
    strict: bool = True,
    skip_mismatched: bool = False,
    reinit: str | Iterable[str] | None = None,
    name: str = "the model",
) -> LoadReport:
    """Copy a state_dict into ``model``: a file path, a dict or a module.

    Every key must fit (same names, same shapes) unless:
    - ``reinit``: labels (``"fc"``) whose tensors keep the model's own initialisation, whatever
      the weights hold for them;
    - ``skip_mismatched=True``: a tensor whose shape differs keeps the model's initialisation
      (a head for other ``classes``); reported by a :class:`WeightsWarning`;
    - ``strict=False``: load what fits, and warn about the rest instead of raising.

    Raises :class:`WeightsError` listing the missing and unexpected keys (with the nearest
    name), and shape mismatches with both shapes. A ``module.`` prefix (DistributedDataParallel)
    or ``_orig_mod.`` (torch.compile) on every key is removed. BatchNorm's ``num_batches_tracked``
    may be absent where its running statistics are present (files of older torch): it stays 0."""
    sd = read_state_dict(weights)
    own_state = model.state_dict()
    own = {k: _shape(v) for k, v in own_state.items()}
    sd, stripped = _strip_wrapper(sd, own)
    given = {k: _shape(v) for k, v in sd.items()}
    scopes = [reinit] if isinstance(reinit, str) else list(reinit or [])
    for scope in scopes:
        if not any(_under(k, [scope]) for k in own):
            labels = {".".join(k.split(".")[:i]) for k in own for i in range(1, k.count(".") + 1)}
            raise UnknownNameError("label", scope, labels, None, where=f" in reinit (no tensor of {name} is under it)")
    report = _compare(own, given, scopes, skip_mismatched)
    report.stripped = stripped
    load = {k: sd[k] for k in report.loaded}
    problems = report.missing or report.unexpected or (report.mismatched and not skip_mismatched)
    if problems:
        message, hint, lines = describe(report, own, given, name, skip_mismatched)
        if strict:
            raise WeightsError(message + "\n" + "\n".join(lines), None, hint)
        warnings.warn(WeightsWarning(f"{message}; loaded the {len(load)} that fit\n" + "\n".join(lines)), stacklevel=3)
    elif skip_mismatched and report.mismatched:
        rows = [f"{k}: the model has {_fmt(a)}, the weights {_fmt(b)}" for k, a, b in report.mismatched]
        warnings.warn(
            WeightsWarning(
                f"kept {name}'s own initialisation for {len(rows)} tensors of another shape; "
                f"loaded the other {len(load)}\n" + "\n".join(_listing("skipped", rows))
            ),
            stacklevel=3,
        )
    missing_ok = model.load_state_dict(load, strict=False)
    assert not missing_ok.unexpected_keys, missing_ok.unexpected_keys  # only the model's own keys are passed
    return report


def _compare(
    own: Mapping[str, tuple], given: Mapping[str, tuple], scopes: Iterable[str] = (), skip_mismatched: bool = False
) -> LoadReport:
    """How a state_dict's shapes (``given``) fit a model's (``own``): loaded, skipped, missing, unexpected,
    mismatched keys."""
    report = LoadReport()
    for k, shape in own.items():
        if _under(k, scopes):
            report.skipped.append(k)
        elif k not in given:
            older = k.endswith(".num_batches_tracked") and k[: -len("num_batches_tracked")] + "running_mean" in given
            (report.defaulted if older else report.missing).append(k)
        elif given[k] != shape:
            if skip_mismatched:
                report.skipped.append(k)
            report.mismatched.append((k, shape, given[k]))
        else:
            report.loaded.append(k)
    report.unexpected = [k for k in given if k not in own and not _under(k, scopes)]
    return report


def fitting(weights: Any, own: Mapping[str, tuple], name: str = "the model") -> dict[str, torch.Tensor]:
    """The state_dict ``weights`` (a path or a dict), checked against the tensor shapes ``own`` as
    :func:`load_weights` checks it (every key, the same shapes), without a model to load into:
    ``archdsl convert --weights`` reshapes what it returns. WeightsError when it does not fit."""
    sd, _ = _strip_wrapper(read_state_dict(weights), own)
    given = {k: _shape(v) for k, v in sd.items()}
    report = _compare(own, given)
    if report.missing or report.unexpected or report.mismatched:
        message, hint, lines = describe(report, own, given, name, False)
        raise WeightsError(message + "\n" + "\n".join(lines), None, hint)
    return sd


# ------------------------------------------------------------------ freezing
def labels_of(g: Graph) -> set[str]:
    """Every name a label can be given as: each node's name and each scope above it."""
    out = set()
    for node in g:
        parts = node.split(".")
        out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return out


def frozen_nodes(g: Graph, labels: str | Iterable[str]) -> set[str]:
    """The nodes under each label and every node they depend on: the part of the network that
    computes the label's output (in a chain, everything up to and including it)."""
    labels = [labels] if isinstance(labels, str) else list(labels)
    out: set[str] = set()
    for label in labels:
        nodes = [n for n in g if _under(n, [label])]
        if not nodes:
            raise UnknownNameError("label", label, labels_of(g), None, where=" in freeze")
        for n in nodes:
            out.add(n)
            out |= ancestors(g, n)
    return out


def owner(key: str, g: Graph) -> str | None:
    """The node a state_dict key belongs to (``layer1.0.conv1.weight`` → ``layer1.0.conv1``; a merge's
    ``inc.join.weight`` → ``inc``; a node-held parameter's key is the node's name)."""
    parts = key.split(".")
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        if name in g.nodes:
            return name
    return None


def freeze(model: nn.Module, g: Graph, labels: str | Iterable[str]) -> list[str]:
    """Turn off ``requires_grad`` for every parameter of the nodes :func:`frozen_nodes` finds;
    returns the frozen parameters' names."""
    nodes = frozen_nodes(g, labels)
    frozen = []
    for key, p in model.named_parameters():
        if owner(key, g) in nodes:
            p.requires_grad_(False)
            frozen.append(key)
    return frozen
