"""Stage 4 — compile: Graph + Analysis → ``torch.fx.GraphModule``.

Every op adds itself to an fx graph through the :class:`Emitter`; modules are
attached under their hierarchical names, so the ``state_dict`` reads like the
spec (``features.0.weight``, ``layer1.0.downsample.0.weight``). The forward
is fx's generated Python: no interpretation at run time.
"""
from __future__ import annotations

import operator
import re

from .graph import Graph
import torch
from torch import fx, nn

from .analysis import Analysis
from .layers import CUSTOM
from .ops import ModuleSpec

# the functions ops may call by name in their ``emit``
FUNCTIONS = {"flatten": torch.flatten, "cat": torch.cat, "add": operator.add, "mul": operator.mul,
             "relu": torch.relu, "pad": torch.nn.functional.pad, "stack": torch.stack,
             "interpolate": torch.nn.functional.interpolate, "normalize": torch.nn.functional.normalize}


def module_class(name: str) -> type[nn.Module]:
    """``torch.nn``'s class of that name, or one of archdsl's own (archdsl/layers.py)."""
    return CUSTOM[name] if name in CUSTOM else getattr(nn, name)


def build_module(spec: ModuleSpec) -> nn.Module:
    args = [build_module(a) if isinstance(a, ModuleSpec) else a for a in spec.args]
    return module_class(spec.cls)(*args, **spec.kwargs)


def attach(root: nn.Module, path: str, module: nn.Module) -> None:
    """Register ``module`` at a dotted path, creating plain containers on the way."""
    *parents, leaf = path.split(".")
    for part in parents:
        if part not in root._modules:
            root.add_module(part, nn.Module())
        root = root._modules[part]
    root.add_module(leaf, module)


def attach_parameter(root: nn.Module, path: str, shape: tuple, fill: float) -> None:
    """Register a parameter filled with ``fill`` at a dotted path, creating plain containers on the way."""
    *parents, leaf = path.split(".")
    for part in parents:
        if part not in root._modules:
            root.add_module(part, nn.Module())
        root = root._modules[part]
    root.register_parameter(leaf, nn.Parameter(torch.full(shape, fill)))


class Emitter:
    """What an op's ``emit`` may do: add modules, call functions and methods, index."""

    def __init__(self, g: Graph | None = None):
        self.root = nn.Module()
        self.graph = fx.Graph()
        self.modules: list[tuple[str, ModuleSpec]] = []
        self.made: list[tuple] = []  # ("module", path, spec) / ("parameter", path, shape, fill), in order
        self.current = ""
        self.inputs: list[str] = []  # the current node's input names
        self._graph = g
        self._kept: dict[tuple[str, str], object] = {}

    def keep(self, node: str, key: str, value) -> None:
        """A second result of a node for a later op (a max-pool's indices for unpool)."""
        self._kept[node, key] = value

    def kept(self, node: str, key: str):
        return self._kept.get((node, key))

    def op_of(self, node: str):
        return self._graph.nodes[node]["op"]

    def placeholder(self):
        return self.graph.placeholder("x")

    def module(self, spec: ModuleSpec, args, child: str | None = None):
        """Attach the module at this node's name (or at ``name.child``, for a merge whose name is
        also the scope of its branches) and call it."""
        path = f"{self.current}.{child}" if child else self.current
        attach(self.root, path, build_module(spec))
        self.modules.append((path, spec))
        self.made.append(("module", path, spec))
        return self.graph.call_module(path, tuple(args))

    def function(self, name: str, args, kwargs: dict | None = None):
        return self.graph.call_function(FUNCTIONS[name], tuple(args), kwargs or {})

    def parameter(self, shape: tuple[int, ...], fill: float):
        """A parameter held by the node itself (its state_dict key is the node's name, like
        torchvision SSD's ``backbone.scale_weight``), read with get_attr."""
        attach_parameter(self.root, self.current, tuple(shape), float(fill))
        self.made.append(("parameter", self.current, tuple(shape), float(fill)))
        return self.graph.get_attr(self.current)

    def method(self, name: str, args):
        return self.graph.call_method(name, tuple(args))

    def getitem(self, x, index):
        return self.graph.call_function(operator.getitem, (x, index))


def class_name(name: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", name)
    out = "".join(w[:1].upper() + w[1:] for w in words if w) or "Net"
    return out if out[0].isalpha() else "Net" + out


def emit(g: Graph, analysis: Analysis) -> Emitter:
    em = Emitter(g)
    shapes = {layer.name: layer.output_shape for layer in analysis.layers}
    env = {}
    for name in g:
        data = g.nodes[name]
        em.current, em.inputs = name, data["inputs"]
        ins = [shapes[i] for i in data["inputs"]]
        env[name] = data["op"].emit(em, [env[i] for i in data["inputs"]], ins, shapes[name])
    outputs = g.graph["outputs"]
    if len(outputs) == 1 and not g.graph.get("named_outputs"):
        em.graph.output(env[next(iter(outputs.values()))])
    else:
        em.graph.output({k: env[v] for k, v in outputs.items()})
    return em


def compile_graph(g: Graph, analysis: Analysis, device="cpu", dtype=None, seed: int | None = None,
                  init: str = "torch") -> fx.GraphModule:
    """Build the module on ``device`` and initialise it by ``init`` (archdsl/weights.py's schemes).

    With a ``seed`` the initial weights are a function of the seed alone: the module is built and
    initialised on the CPU under its own random generator (torch's global one is left as it was),
    then moved to ``device``, so every process and every device gets the same weights. Without
    one, torch's global generator is used, as by any ``nn.Module``."""
    from .weights import initialize
    if seed is not None and str(device) != "meta":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gm = compile_graph(g, analysis, "cpu", None, None, init)
        return gm.to(device=device, dtype=dtype)
    with torch.device(device):
        em = emit(g, analysis)
        gm = fx.GraphModule(em.root, em.graph, class_name=class_name(analysis.name))
    if str(device) != "meta":
        initialize(gm, init)
    if dtype is not None:
        gm = gm.to(dtype)
    return gm
