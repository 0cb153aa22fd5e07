"""Stage 4 — compile: Graph + Analysis → ``torch.fx.GraphModule``.

Every op adds itself to an fx graph through the :class:`Emitter`; modules are
attached under their hierarchical names, so the ``state_dict`` reads like the
spec (``features.0.weight``, ``layer1.0.downsample.0.weight``). The forward
is fx's generated Python: no interpretation at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import Span
from ..ops import Op

if TYPE_CHECKING:  # for annotations only
    from ..ir.contract import InputContract


import contextlib
import keyword
import operator
import re
import unicodedata

import torch
from torch import fx, nn

from ..errors import ArchError
from ..ir.analysis import Analysis
from ..ir.graph import Graph
from ..ops import ModuleSpec
from .layers import CUSTOM, NEEDS

CONTRACT = "input_contract"  # the input check's module name: model.input_contract

# the functions ops may call by name in their ``emit``
FUNCTIONS = {
    "flatten": torch.flatten,
    "cat": torch.cat,
    "add": operator.add,
    "mul": operator.mul,
    "sub": operator.sub,
    "floordiv": operator.floordiv,
    "relu": torch.relu,
    "relu6": torch.nn.functional.relu6,
    "leaky_relu": torch.nn.functional.leaky_relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "silu": torch.nn.functional.silu,
    "hardswish": torch.nn.functional.hardswish,
    "hardsigmoid": torch.nn.functional.hardsigmoid,
    "gelu": torch.nn.functional.gelu,
    "pad": torch.nn.functional.pad,
    "stack": torch.stack,
    "interpolate": torch.nn.functional.interpolate,
    "normalize": torch.nn.functional.normalize,
}


def module_class(name: str) -> type[nn.Module]:
    """``torch.nn``'s class of that name, or one of archdsl's own (archdsl/backend/layers.py)."""
    return CUSTOM[name] if name in CUSTOM else getattr(nn, name)


def build_module(
    spec: ModuleSpec, skip_init: tuple[type, ...] = (), device: str | torch.device | None = None
) -> nn.Module:
    """The module ``spec`` describes. Classes in ``skip_init`` are made without torch's default
    initialisation (their storage is left as allocated): the caller's init scheme overwrites every
    parameter of theirs at once (archdsl/backend/weights.py REINITIALISED), so drawing it twice is waste."""
    args = [build_module(a, skip_init, device) if isinstance(a, ModuleSpec) else a for a in spec.args]
    cls = module_class(spec.cls)
    if skip_init and issubclass(cls, skip_init):
        return nn.utils.skip_init(cls, *args, device=device, **spec.kwargs)
    return cls(*args, **spec.kwargs)


def _reserved_names() -> frozenset[str]:
    """Names a module may not have: Python's keywords (fx writes ``self.<name>``), and every attribute of
    a GraphModule, class-level (forward, to, graph, state_dict, ...) or set per instance (training, _modules,
    meta, _code, ...), which ``add_module`` refuses or a submodule would shadow."""
    instance = fx.GraphModule(nn.Module(), fx.Graph())
    return frozenset(keyword.kwlist) | frozenset(dir(instance)) | frozenset(vars(instance)) | {CONTRACT}


RESERVED = _reserved_names()


def check_module_path(path: str, span: Span | None) -> None:
    """Refuse (an ArchError at the label) a module path with a part that cannot be a module's name: a part
    the generated forward (fx's, and source()'s) could not write as ``self.<part>`` and read back."""
    for part in path.split("."):
        found = _unusable(part)
        if found:
            what, instead = found
            raise ArchError(f"the label '{part}' cannot name a module: {what}", span, f"rename it, e.g. {instead}")


def _unusable(part: str) -> tuple[str, str] | None:
    """Why ``part`` cannot be a module's name and what would do instead, or None."""
    if part in RESERVED:
        what = (
            "it is a Python keyword" if keyword.iskeyword(part) else "it is the name of a torch module's own attribute"
        )
        return what, f"'{part}_' or '{part}1'"
    if part == "self":
        return "the generated forward calls the network itself 'self'", "'self_' or 'net'"
    normal = unicodedata.normalize("NFKC", part)
    if normal != part:
        return f"Python reads it as '{normal}'", f"'{normal}'"
    if part.startswith("__") and not part.endswith("__"):
        return "Python renames a '__name' written inside a class (name mangling)", f"'{part.lstrip('_') or 'x'}'"
    return None


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

    def __init__(
        self,
        g: Graph | None = None,
        skip_init: tuple[type, ...] = (),
        device=None,
        contract=None,
        analysis: Analysis | None = None,
    ):
        self.root = nn.Module()
        self._analysis = analysis
        self.contract = contract
        self.graph = fx.Graph()
        self.skip_init, self.device = skip_init, device
        self.built: dict[str, nn.Module] = {}  # path → module, for the passes after emitting
        self.modules: list[tuple[str, ModuleSpec]] = []
        self.made: list[tuple] = []  # ("module", path, spec) / ("parameter", path, shape, fill), in order
        self.current = ""
        self.inputs: list[str] = []  # the current node's input names
        self._graph = g
        self._kept: dict[tuple[str, str], object] = {}

    def _span(self):
        """The source span of the node being emitted (None without a graph)."""
        return self._graph.nodes[self.current].span if self._graph else None

    def keep(self, node: str, key: str, value: Any) -> None:
        """A second result of a node for a later op (a max-pool's indices for unpool)."""
        self._kept[node, key] = value

    def kept(self, node: str, key: str) -> Any:
        return self._kept.get((node, key))

    def op_of(self, node: str) -> Op:
        return self._graph.nodes[node].op

    def stride(self, node: str) -> tuple[float, float]:
        """A node's stride in input pixels, (down, across): its receptive field's jump in the analysis."""
        return tuple(self._analysis.layer(node).receptive_field.stride)

    def placeholder(self) -> fx.Node:
        """This input node's argument of the forward (``x``, or its name: ``image``, ``boxes``); the network's
        first input goes through the input contract's check when there is one (``model.input_contract``)."""
        names = self._graph.graph.get("input_names", {}) if self._graph else {}
        x = self.graph.placeholder(names.get(self.current, "x"))
        if self.contract is None or self.current != "input":
            return x
        return self._call_module(CONTRACT, ModuleSpec("InputCheck", self.contract.module_args()), (x,))

    def module(self, spec: ModuleSpec, args: list, child: str | None = None) -> fx.Node:
        """Attach the module at this node's name (or at ``name.child``, for a merge whose name is
        also the scope of its branches) and call it."""
        path = f"{self.current}.{child}" if child else self.current
        check_module_path(path, self._span())
        return self._call_module(path, spec, args)

    def _call_module(self, path: str, spec: ModuleSpec, args):
        self.built[path] = module = build_module(spec, self.skip_init, self.device)
        attach(self.root, path, module)
        self.modules.append((path, spec))
        self.made.append(("module", path, spec))
        return self.graph.call_module(path, tuple(args))

    def function(self, name: str, args: list, kwargs: dict | None = None) -> fx.Node:
        return self.graph.call_function(FUNCTIONS[name], tuple(args), kwargs or {})

    def parameter(self, shape: tuple[int, ...], fill: float) -> fx.Node:
        """A parameter held by the node itself (its state_dict key is the node's name, like
        torchvision SSD's ``backbone.scale_weight``), read with get_attr."""
        check_module_path(self.current, self._span())
        attach_parameter(self.root, self.current, tuple(shape), float(fill))
        self.made.append(("parameter", self.current, tuple(shape), float(fill)))
        return self.graph.get_attr(self.current)

    def method(self, name: str, args: list) -> fx.Node:
        return self.graph.call_method(name, tuple(args))

    def getitem(self, x: fx.Node, index: Any) -> fx.Node:
        return self.graph.call_function(operator.getitem, (x, index))

    # sizes read from tensors at run time: what an op needs of its inputs' sizes beyond its module's
    # settings (a crop's box, a resize's target) comes from here, never from the analysis at the declared size
    def size(self, x: fx.Node, dim: int) -> fx.Node:
        return self.graph.call_method("size", (x, dim))

    def spatial_size(self, x: fx.Node) -> fx.Node:
        """``x.shape[-2:]``: the height and width of a feature map, at run time."""
        return self.getitem(self.graph.call_method("size", (x,)), slice(2, None))

    def arith(self, name: str, a: Any, b: Any) -> fx.Node:
        return self.function(name, [a, b])


# --- in place where it is safe, as hand-written models do (ReLU(inplace=True), `out += identity`) -----
# producers whose output is a fresh tensor that their backward does not read: a later op may overwrite it
_FRESH_MODULES = (
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "Linear",
    "BatchNorm1d",
    "BatchNorm2d",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
)
_FRESH_FUNCTIONS = (torch.cat, operator.add, operator.iadd, operator.mul)
_INPLACE_FUNCTIONS = {torch.relu: torch.relu_, operator.add: operator.iadd}


def _overwritable(em: Emitter, node) -> bool:
    """Whether ``node``'s tensor may be overwritten by its one user: it is made fresh by an op whose
    backward does not need it, nothing else reads it, and it is neither the input nor an output."""
    if not isinstance(node, fx.Node) or len([u for u in node.users if not _reads_size(u)]) != 1:
        return False
    if node.op == "call_module":
        module = em.built[node.target]
        return type(module).__name__ in _FRESH_MODULES and not getattr(module, "return_indices", False)
    return node.op == "call_function" and node.target in _FRESH_FUNCTIONS


def _reads_size(node) -> bool:
    """A ``x.size()`` read: it does not mind ``x`` being overwritten in place (the size stays)."""
    return node.op == "call_method" and node.target == "size"


def _inplace_module(module: nn.Module) -> bool:
    """ReLU, ReLU6 and LeakyReLU with a slope >= 0 (torch's in-place backward needs that) run in place."""
    if isinstance(module, nn.LeakyReLU):
        return module.negative_slope >= 0
    return isinstance(module, (nn.ReLU, nn.ReLU6))


def make_inplace(em: Emitter) -> None:
    """Rewrite activations and sums to overwrite their first input where :func:`_overwritable` says
    that is safe: the compiled module then allocates and runs like torchvision's hand-written ones.
    The module specs change too, so ``archdsl compile`` prints ``nn.ReLU(inplace=True)``."""
    specs = {path: i for i, (kind, path, *_) in enumerate(em.made) if kind == "module"}
    for node in em.graph.nodes:
        if not node.args or not _overwritable(em, node.args[0]):
            continue
        if node.op == "call_module":
            module = em.built[node.target]
            if _inplace_module(module) and not module.inplace:
                module.inplace = True
                kind, path, spec = em.made[specs[node.target]]
                em.made[specs[node.target]] = (
                    kind,
                    path,
                    ModuleSpec(spec.cls, spec.args, {**spec.kwargs, "inplace": True}),
                )
        elif node.op == "call_function" and node.target in _INPLACE_FUNCTIONS:
            # `a += b` needs a to have the sum's shape: the only sums are add/residual's, whose
            # branches the analysis has checked to be equal (ops/merge.py _equal_shapes)
            node.target = _INPLACE_FUNCTIONS[node.target]


def class_name(name: str) -> str:
    """The class of a network's module, in the GraphModule and in generated source: the network's name in
    CamelCase, prefixed with ``Net`` where it would start with a digit, be a keyword (``None``) or be a name
    the generated source defines itself (``DropPath``, ``InputSizeError``, ``build``)."""
    words = re.split(r"[^A-Za-z0-9]+", name)
    out = "".join(w[:1].upper() + w[1:] for w in words if w) or "Net"
    return out if out[0].isalpha() and not keyword.iskeyword(out) and out not in SOURCE_NAMES else "Net" + out


# the names generated source defines or imports at module level (archdsl/backend/codegen.py)
SOURCE_NAMES = frozenset(
    {
        "torch",
        "nn",
        "attach",
        "attach_parameter",
        "build",
        *CUSTOM,
        *(c.__name__ for needed in NEEDS.values() for c in needed),
    }
)


def emit(
    g: Graph,
    analysis: Analysis,
    skip_init: tuple[type, ...] = (),
    device: str | torch.device | None = None,
    contract: InputContract | None = None,
) -> Emitter:
    """The fx graph and modules of ``g``; with a ``contract`` (archdsl/ir/contract.py) the input is checked
    against it first."""
    em = Emitter(g, skip_init, device, contract, analysis)
    shapes = {layer.name: layer.output_shape for layer in analysis.layers}
    env = {}
    for name in g:
        data = g.nodes[name]
        em.current, em.inputs = name, data.inputs
        ins = [shapes[i] for i in data.inputs]
        env[name] = data.op.emit(em, [env[i] for i in data.inputs], ins, shapes[name])
    outputs = g.graph["outputs"]
    if len(outputs) == 1 and not g.graph.get("named_outputs"):
        em.graph.output(env[next(iter(outputs.values()))])
    else:
        em.graph.output({k: env[v] for k, v in outputs.items()})
    make_inplace(em)
    return em


def compile_graph(
    g: Graph,
    analysis: Analysis,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    seed: int | None = None,
    init: str = "torch",
    contract: InputContract | None = None,
) -> fx.GraphModule:
    """Build the module on ``device`` and initialise it by ``init`` (archdsl/backend/weights.py's schemes).

    With a ``seed`` the initial weights are a function of the seed alone: the module is built and
    initialised on the CPU under its own random generator (torch's global one is left as it was),
    then moved to ``device``, so every process and every device gets the same weights. Without
    one, torch's global generator is used, as by any ``nn.Module``."""
    from .weights import REINITIALISED, initialize

    if seed is not None and str(device) != "meta":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gm = compile_graph(g, analysis, "cpu", None, None, init, contract)
        return gm.to(device=device, dtype=dtype)
    device = torch.device(device)
    skip = REINITIALISED.get(init, ()) if device.type != "meta" else ()
    # torch.device() as a context costs every tensor op a Python call: only where it changes something
    where = device if device != torch.get_default_device() else contextlib.nullcontext()
    with where:
        em = emit(g, analysis, skip, device, contract)
        gm = fx.GraphModule(em.root, em.graph, class_name=class_name(analysis.name))
    if str(device) != "meta":
        initialize(gm, init)
    if dtype is not None:
        gm = gm.to(dtype)
    return gm


def example_inputs(
    g: Graph, analysis: Analysis, batch: int = 1, seed: int = 0, device: Any = None, dtype: Any = None
) -> dict[str, torch.Tensor]:
    """Random inputs for the compiled forward, by its argument names, drawn from a generator seeded with ``seed``:
    standard normal values, but for boxes (an input a RoI op pools over, R x 4), which are R valid boxes per
    image (x1 < x2 within the first input's width, y1 < y2 within its height)."""
    gen = torch.Generator().manual_seed(seed)
    height, width = analysis.input_shape[-2:] if len(analysis.input_shape) == 3 else (1, 1)
    out = {}
    for node, arg in g.graph.get("input_names", {"input": "x"}).items():
        shape = (batch, *analysis.layer(node).output_shape)
        if _holds_boxes(g, node) and shape[-1] == 4:
            corners = torch.rand((*shape[:-1], 2, 2), generator=gen) * torch.tensor([width, height])
            low, high = corners.min(dim=-2).values, corners.max(dim=-2).values
            out[arg] = torch.cat((low, high), dim=-1)
        else:
            out[arg] = torch.randn(shape, generator=gen)
    return {k: v.to(device=device, dtype=dtype) for k, v in out.items()}


def _holds_boxes(g: Graph, node: str) -> bool:
    """Whether a RoI op takes ``node`` as its boxes."""
    for user in g.successors(node):
        op = g.nodes[user].op
        if op.boxes_field is not None and g.nodes[user].inputs[1 + op.refs.index(op.boxes_field)] == node:
            return True
    return False
