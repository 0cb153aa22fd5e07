"""The pipeline in one place: text ─parse→ AST ─elaborate→ Graph ─infer→ Analysis ─compile→ torch.

The only module that names every stage (archdsl.lang, archdsl.ir, archdsl.backend, archdsl.views): a
:class:`Net` is a loaded network, and the functions here that take a spec (:func:`load`,
:func:`symbolic_report`, :func:`to_onnx`, :func:`to_torchscript`) load it and hand the Net on."""

from __future__ import annotations

import contextlib
import gc
import math
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ArchError, LimitError, UnknownNameError
from .ir import analysis
from .ir.analysis import Analysis
from .ir.graph import Graph
from .ir.infer import infer
from .ir.memory import available_memory
from .ir.shapes import parse_shape
from .lang import library
from .lang.elaborate import elaborate
from .lang.files import load_file, read_spec
from .limits import MAX_ELEMENTS, MAX_MEMORY, MAX_PARAMS
from .ops import lookup

if TYPE_CHECKING:  # for annotations only
    import graphviz
    import networkx as nx
    from matplotlib.figure import Figure
    from torch import fx

    from .backend.export import Exported
    from .ir.contract import InputContract
    from .ir.symbolic.walk import SymbolicResult
    from .views.plot import Point

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def source_of(spec: str) -> tuple[str, str, str | None]:
    """A path, a library name or inline text → (text, file name, the network a library name stands for)."""
    path = Path(spec)
    if spec.endswith(".arch") and ("\n" not in spec or _is_file(path)):  # a file's name may hold a newline
        if not path.is_file():
            raise ArchError(f"no such spec file: {spec}", None)
        return read_spec(path), str(path), None
    entry = library.lookup(spec)
    if entry is not None:
        return read_spec(entry.path), str(entry.path), entry.network
    if _IDENT.fullmatch(spec) and lookup(spec) is None:
        raise UnknownNameError(
            "spec", spec, library.entries(), None, None if library.library() else "the spec library is empty"
        )
    return spec, "<inline>", None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL
        return False


def _decimal_bytes(n: int) -> str:
    """Bytes in the limits' units (powers of 1000, as --max-memory 16G reads): 146.8 GB, 100.0 kB."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,} B"


class Net:
    """A loaded spec: its graph now, its analysis and torch module on demand."""

    def __init__(self, graph: Graph):
        self.graph = graph

    @property
    def name(self) -> str:
        return self.graph.graph["name"]

    @cached_property
    def _analysis(self) -> Analysis:
        with gc_paused():
            return infer(self.graph)

    def analyze(self) -> Analysis:
        """Shapes, parameters, MACs, activations and receptive fields; pure Python, no torch."""
        return self._analysis

    def input_contract(self) -> InputContract:
        """The inputs the compiled network takes (:class:`archdsl.ir.contract.InputContract`): its channels,
        and the heights and widths at which the modules compiled at the declared size are still this
        network (``.describe()``: ``3xHxW with H >= 32, W >= 32``). Pure Python, like the analysis."""
        return self._contract

    @cached_property
    def _contract(self):
        from .ir.contract import input_contract

        return input_contract(self.graph, self.analyze())

    def compile(
        self,
        device: Any = "cpu",
        dtype: Any = None,
        max_params: int | None = MAX_PARAMS,
        *,
        seed: int | None = None,
        init: str | None = None,
        weights: Any = None,
        strict: bool = True,
        skip_mismatched: bool = False,
        reinit: str | list[str] | None = None,
        freeze: str | list[str] | None = None,
        check_input: bool = True,
        optimize: str | None = None,
        backend: str = "eager",
    ) -> fx.GraphModule:
        """A ``torch.fx.GraphModule`` built directly on ``device`` (``"meta"`` allocates nothing).

        It reads the sizes it needs from its tensors, so it runs at every input size of
        :meth:`input_contract`, and ``forward`` first checks the input against that contract
        (``model.input_contract``, an :class:`archdsl.backend.layers.InputCheck`): any other input raises an
        ``InputSizeError`` naming the sizes that work. ``check_input=False`` leaves the check out.

        Refuses, before allocating anything, to build more than ``max_params`` parameters
        and buffers on a real device (``max_params=None`` lifts the limit).

        Training options (docs/training.md):

        - ``seed``: the initial weights depend on the seed alone (the same on every device and
          process; torch's global generator is left as it was); None uses torch's global generator;
        - ``init``: ``"torch"`` (torch's defaults), ``"he"`` or ``"xavier"``; None takes the spec's
          variable ``init`` where it defines one, else ``"torch"``;
        - ``weights``: a state_dict (a path, e.g. a torchvision pretrained file, or a dict) to load
          after initialising; ``strict``, ``skip_mismatched`` and ``reinit`` as in
          :func:`archdsl.backend.weights.load_weights`; what was loaded is ``model.weights_report``;
        - ``freeze``: a label (or several): the parameters of everything that computes its output,
          itself included, stop requiring gradients (``freeze="avgpool"`` trains only the head).

        ``optimize="inference"`` gives an eval-only model with BatchNorm folded into the layers before it and
        channels-last weights, run by ``backend`` ``"eager"``, ``"script"`` (TorchScript, frozen) or
        ``"inductor"`` (``torch.compile``, compiled here on :meth:`example_inputs`): :mod:`archdsl.backend.optimize`;
        ``model.compile_seconds`` is the back end's compile time.
        """
        from .backend.compile import compile_graph
        from .backend.weights import freeze as freeze_labels
        from .backend.weights import frozen_nodes, load_weights, resolve_scheme

        a = self.analyze()
        if optimize is not None:
            from .backend.optimize import check

            check(optimize, backend)  # a level or back end it does not know fails before anything is built
        self.check_buildable()
        if str(device) != "meta":
            self.check_params(max_params)
            if str(device) == "cpu":
                self.check_weights_fit(dtype)
        scheme = resolve_scheme(init, self._variables())
        if freeze is not None:
            frozen_nodes(self.graph, freeze)  # an unknown label fails before anything is built
        contract = self.input_contract() if check_input else None
        model = compile_graph(self.graph, a, device=device, dtype=dtype, seed=seed, init=scheme, contract=contract)
        if weights is not None:
            model.weights_report = load_weights(
                model, weights, strict=strict, skip_mismatched=skip_mismatched, reinit=reinit, name=a.name
            )
        elif reinit is not None or skip_mismatched:
            raise ArchError(
                "reinit and skip_mismatched choose what to load from weights, but no weights were given",
                None,
                "pass weights='file.pth'",
            )
        if freeze is not None:
            freeze_labels(model, self.graph, freeze)
        if optimize is not None:
            from .backend.optimize import optimize as optimized

            example = self.example_inputs(device=device, dtype=dtype) if backend == "inductor" else None
            return optimized(model, optimize, backend, example)
        return model

    def check_params(self, max_params: int | None = MAX_PARAMS) -> None:
        """Refuse (a LimitError) a network with more than ``max_params`` parameters and buffers (None: no
        limit), from the analysis, before anything is allocated."""
        t = self.analyze().totals
        size = t.params + t.buffers
        if max_params is not None and size > max_params:
            raise LimitError(
                f"{self.name} has {size:,} parameters and buffers, more than the limit of {max_params:,}",
                None,
                "raise max_params (on the command line: --max-params N, "
                "or none), or compile with device='meta' to inspect it",
            )

    def check_buildable(self) -> None:
        """Refuse (a LimitError at the op) a weight tensor torch cannot even size: more than 2^60 values
        (``conv3-9007199254740992`` at 64 channels). Every path that builds tensors or their source checks this
        first."""
        for layer in self.analyze().layers:
            for kind, shapes in (("weight", layer.param_shapes), ("buffer", layer.buffer_shapes)):
                for name, shape in shapes.items():
                    values = math.prod(shape)
                    if values > MAX_ELEMENTS:
                        raise LimitError(
                            f"the {kind} '{name}' of '{layer.name}' ({'x'.join(map(str, shape))}) "
                            f"has {values:.3g} values, more than torch can build (2^60)",
                            self.graph.nodes[layer.name].span,
                            "sizes this large cannot be built",
                        )

    def check_weights_fit(self, dtype: Any = None) -> None:
        """Refuse (a LimitError), before allocating anything, weights larger than the memory this
        machine has free now: a build the operating system would kill half-way."""
        free = available_memory()
        t = self.analyze().totals
        need = (t.params + t.buffers) * (getattr(dtype, "itemsize", None) or 4)
        if free is not None and need > free:
            raise LimitError(
                f"the weights of {self.name} need {_decimal_bytes(need)}, more than the "
                f"{_decimal_bytes(free)} this machine has free",
                None,
                "compile with device='meta' to inspect it, or on a device with more memory",
            )

    def memory_needed(self, batch: int, training: bool = False, bytes_per_value: int = 4) -> int:
        """An estimate, from the analysis alone, of the bytes a pass over ``batch`` samples needs:
        inference holds the weights and the inference peak of live activations; a training step
        (Adam) the weights, their gradients and two moments, the activations saved for backward
        and the forward's peak on top."""
        t = self.analyze().totals
        weights = (t.params + t.buffers) * (4 if training else 1)
        acts = t.peak_activations + (t.saved_activations if training else 0)
        return (weights + batch * acts) * bytes_per_value

    def check_memory(self, batch: int, training: bool = False, max_memory: int | None = MAX_MEMORY) -> None:
        """Refuse (a LimitError), before anything is allocated, a pass whose :meth:`memory_needed`
        is above ``max_memory`` bytes (None: no limit)."""
        need = self.memory_needed(batch, training)
        if max_memory is not None and need > max_memory:
            a = self.analyze()
            what = "a training step" if training else "a forward pass"
            raise LimitError(
                f"{what} of {a.name} at {'x'.join(map(str, a.input_shape))} on {batch} sample"
                f"{'s' if batch != 1 else ''} needs about {_decimal_bytes(need)}, more than the limit of "
                f"{_decimal_bytes(max_memory)}",
                None,
                "use a smaller input or batch, or raise the limit (on the command line: --max-memory 64G, or none)",
            )

    def example_inputs(self, batch: int = 1, seed: int = 0, device: Any = None, dtype: Any = None) -> dict[str, Any]:
        """Random inputs the compiled model takes, by its forward's argument names: ``model(**net.example_inputs())``.
        Standard normal, but for boxes (``input boxes (R, 4)``), which are valid boxes inside the image."""
        from .backend.compile import example_inputs

        return example_inputs(self.graph, self.analyze(), batch, seed, device, dtype)

    def _variables(self) -> dict[str, Any]:
        """The spec file's variables as loaded (overrides applied); a derived network's are its original's."""
        net = self
        while net is not None:
            if hasattr(net, "variables"):
                return net.variables
            net = getattr(net, "_original", None)
        return {}

    def fully_convolutional(self, input: str | tuple | None = None) -> Net:
        """OverFeat's sliding window: this network with every fc layer as the equivalent conv (same
        names), optionally for another ``input`` size; its ``convert_weights`` reshapes a state_dict
        of this network for it. See :mod:`archdsl.ir.transform`."""
        from .ir.transform import fully_convolutional

        shape = parse_shape(input) if input is not None else None
        net = Net(fully_convolutional(self.graph, self.analyze(), shape))
        net._original = self
        return net

    def convert_weights(self, state_dict: dict) -> dict:
        """A state_dict of the original network, reshaped for this fully convolutional one."""
        from .ir.transform import convert_state_dict

        original = getattr(self, "_original", None)
        if original is None:
            raise ArchError("convert_weights belongs to a network made by fully_convolutional()", None)
        return convert_state_dict(state_dict, original.graph, original.analyze())

    def summary(self) -> str:
        """One line: ``vgg16: 138,357,544 params, 15,470,264,320 MACs, 3x224x224 → output 1000``."""
        return f"{self.name}: {self.analyze().summary()}"

    def __repr__(self) -> str:
        return f"<archdsl.Net {self.summary()}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter shows a loaded network as its diagram, whose title is the summary; where Graphviz's dot is
        missing, as the report's table. The summary is the plain-text form."""
        from .views.html import repr_svg

        bundle = {"text/plain": repr(self)}
        svg = repr_svg(self)
        if svg is not None:
            return {"image/svg+xml": svg, **bundle}
        return {"text/html": _html_table(self.analyze()), **bundle}

    def render(
        self,
        path: str | Path | None = None,
        depth: int | str | None = "auto",
        format: str | None = None,
        **options: Any,
    ) -> graphviz.Digraph:
        """The diagram as a ``graphviz.Digraph`` (it displays itself in a notebook; ``.source`` is its DOT);
        with ``path``, also written there in the format of its suffix (or ``format``: svg, png, pdf, dot,
        tex). ``options``: ``rankdir``, ``hwc``, ``fold``, ``layout`` and ``fit`` ("slide": laid out for a 16:9
        slide, "page") as ``archdsl render`` takes them."""
        from .views import diagram, dot

        fit = options.pop("fit", None)
        rankdir = options.pop("rankdir", None if fit else "TB")
        target = None
        if path is not None:
            target = Path(path) if format is None else Path(path).with_suffix("." + format.lstrip("."))
        if fit is not None and (target is None or target.suffix.lower() != ".tex"):
            f = dot.fitted(self, fit, depth=depth, rankdir=rankdir, **options)
            if target is not None:
                dot.write_fitted(f, target)
            return f.graph
        if target is None:
            return dot.to_graph(diagram.diagram(self, depth=depth, **options), rankdir)
        drawn = dot.render(self, target, depth=depth, rankdir=rankdir, fit=fit, **options)
        return dot.to_graph(drawn, rankdir or "TB")

    def to_networkx(self) -> nx.DiGraph:
        """The network as a ``networkx.DiGraph`` (networkx is imported here only): a node per layer, named as
        its module, with its op, its arguments (``describe``), output shape, parameters, MACs and source
        place; an edge per input, ``role`` "data" or "ref" (an input that only lends its size, ``crop(@x)``);
        the graph's ``outputs`` name the layers each output is (``output=fc8``). Every attribute is a string
        or a number, so ``networkx.write_graphml`` writes it for Gephi or yEd."""
        import networkx as nx

        a = self.analyze()
        g = nx.DiGraph(name=a.name, input_shape="x".join(map(str, a.input_shape)))
        for layer in a.layers:
            g.add_node(
                layer.name,
                op=layer.op,
                describe=layer.describe,
                params=layer.params,
                macs=layer.macs,
                shape="x".join(map(str, layer.output_shape)),
                source=layer.source,
            )
        for layer in a.layers:
            n_data, _ = layer.kind.split_inputs(len(layer.inputs))
            for i, src in enumerate(layer.inputs):
                if not g.has_edge(src, layer.name):  # an input read twice (add { identity; identity }) is one edge
                    g.add_edge(src, layer.name, role="data" if i < n_data else "ref", index=i)
        g.graph["outputs"] = ", ".join(f"{k}={v}" for k, v in self.graph.graph["outputs"].items())
        return g

    def source(self, optimize: str | None = None, weights: str = "NAME.pth") -> str:
        """Standalone PyTorch source for this network (imports torch only). ``optimize="inference"``: the
        network as ``compile(optimize="inference")`` makes it (BatchNorm folded into the layer before it), whose
        ``state_dict`` loads into it; its docstring says to load it from ``weights``."""
        from .backend.codegen import to_source

        self.check_buildable()
        return to_source(self.graph, self.analyze(), self.input_contract(), optimize, weights)


def load(
    spec: str,
    *,
    input: str | tuple | None = None,
    network: str | None = None,
    allow_imports_outside: bool = False,
    **variables: Any,
) -> Net:
    """Load a spec: a ``.arch`` path, a library name (``"vgg16"``) or inline text (``"[CONV-POOL]x2-FC"``).

    ``input`` overrides the input shape (CxHxW); other keywords override the spec's variables.
    A quoted ``import "file.arch"`` may read only files in the spec's own folder (the current one for
    inline text) and the spec library, unless ``allow_imports_outside``.

    >>> net = load("[CONV-POOL]x2-FC", input="3x32x32", classes=10)
    >>> net.analyze().outputs
    {'output': (10,)}
    """
    text, file, default = source_of(spec)
    shape = parse_shape(input) if input is not None else None
    with gc_paused():
        ctx = load_file(text, file, variables, allow_outside=allow_imports_outside)
        ctx.default = default
        net = Net(elaborate(ctx, network, shape))
    net.variables = dict(ctx.env.values)  # the file's variables: compile() reads `init` from them
    return net


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a spec is elaborated or analysed: both make many small objects
    that live as long as the graph, and the collector's passes over them free nothing (a quarter of a
    19,000-layer chain's time: benchmarks/big_specs.py). Its state is restored after, whatever happens."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _spec_net(spec_or_net: Any, input: Any = None, **variables: Any) -> Net:
    """A loaded network as it is (no variables then), or the spec loaded with ``input`` and ``variables``."""
    if isinstance(spec_or_net, Net):
        if variables:
            raise TypeError(f"spec variables ({', '.join(variables)}) need a spec, not a loaded Net")
        return spec_or_net
    if isinstance(spec_or_net, (str, Path)):
        return load(str(spec_or_net), input=input, **variables)
    raise TypeError(f"expected a spec or an archdsl Net, got {type(spec_or_net).__name__}")


def symbolic_report(spec_or_net: Any, input: str | tuple, **variables: Any) -> SymbolicResult:
    """Every node's output shape as formulas in the named sizes of ``input`` (``"3xHxW"``), the sizes
    for which the network is well formed, and the floor divisions its rules make
    (:mod:`archdsl.ir.symbolic`).

    ``spec_or_net``: what :func:`load` takes (library name, path, inline text) or a loaded Net;
    ``variables`` override the spec's variables (``classes=10``)."""
    from .ir.symbolic.walk import parse_input, symbolic_shapes

    if isinstance(spec_or_net, Net) and not variables:
        return symbolic_shapes(spec_or_net.graph, input)
    concrete = tuple(d if isinstance(d, int) else 64 for d in parse_input(input))
    # the graph does not depend on the input size: elaborate at any concrete one
    return symbolic_shapes(_spec_net(spec_or_net, concrete, **variables).graph, input)


def to_onnx(net_or_spec: Any, path: str | Path, input: Any = None, **options: Any) -> Exported:
    """Write a network as an ONNX file: :func:`archdsl.backend.export_onnx.to_onnx`, which also takes a spec
    here (its variables among ``options``: every keyword the exporter does not take sets one)."""
    from .backend import export_onnx

    target = _export_target(export_onnx.to_onnx, net_or_spec, input, options)
    return export_onnx.to_onnx(target, path, input, **options)


def to_torchscript(net_or_spec: Any, path: str | Path, input: Any = None, **options: Any) -> Exported:
    """Write a network as a TorchScript archive: :func:`archdsl.backend.export_torchscript.to_torchscript`, which also
    takes a spec here (as :func:`to_onnx`)."""
    from .backend import export_torchscript

    target = _export_target(export_torchscript.to_torchscript, net_or_spec, input, options)
    return export_torchscript.to_torchscript(target, path, input, **options)


def _export_target(exporter, net_or_spec: Any, input: Any, options: dict) -> Any:
    """The Net or torch module to export, taking the spec's variables out of ``options``."""
    import inspect

    takes = inspect.signature(exporter).parameters
    variables = {k: options.pop(k) for k in list(options) if k not in takes}
    if isinstance(net_or_spec, (str, Path, Net)):
        return _spec_net(net_or_spec, input, **variables)
    if variables:
        raise TypeError(f"spec variables ({', '.join(variables)}) need a spec, not a torch module")
    return net_or_spec


def plot_points(names: list[str]) -> list[Point]:
    """Each network's point of the complexity chart: its exact parameters and MACs (the analysis, at the spec's
    input size) and the published top-1 its spec states (``# top-1:``, :func:`archdsl.lang.library.published_top1`),
    None where it states none. ``names``: what :func:`load` takes (library names, .arch paths, inline text)."""
    from .views.plot import Point

    points = []
    for name in names:
        net = load(name)
        totals = net.analyze().totals
        entry = library.lookup(name)
        if entry is not None:
            published = entry.top1
        elif name.endswith(".arch") and Path(name).is_file():
            path = Path(name)
            published = library.published_top1(path, net.name) or library.published_top1(path)
        else:
            published = None
        label = name if entry is not None else net.name
        top1, source = (published.top1, published.source) if published else (None, None)
        points.append(Point(label, totals.params, totals.macs, top1, source))
    return points


def plot(
    names: list[str],
    path: str | Path | None = None,
    x: str = "macs",
    y: str = "top1",
    xscale: str = "auto",
    yscale: str = "auto",
    title: str | None = None,
) -> Figure:
    """The lectures' complexity chart (Canziani et al. 2017) of the networks ``names``: published ImageNet top-1
    (``y="top1"``) against MACs (``x="macs"``) or parameters, bubble area in proportion to the parameters; or
    parameters against MACs (``y="params"``, also what is drawn when no network has a published top-1). A
    network without a published top-1 is named in a note under the chart. Returns the matplotlib Figure (needs
    the ``plot`` extra); writes it to ``path`` too when given (.png, .svg, .pdf). See :mod:`archdsl.views.plot`.
    """
    from .views import plot as view

    view.require()
    points = plot_points(list(names))
    x, y = view.axes(points, x, y)
    fig = view.chart(points, x, y, xscale=xscale, yscale=yscale, title=title)
    if path is not None:
        view.save(fig, path)
    return fig


def _html_table(a: Analysis) -> str:
    from .views.html import html_table

    return html_table(a)


analysis.html_view = _html_table  # a notebook shows any Analysis as the report's table
