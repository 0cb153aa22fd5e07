"""Why the diagram's skip detection walks its own graph (archdsl/views/skips.py) rather than networkx's.

    python benchmarks/graphs.py                  # resnet152 and residual chains of 250 / 1,000 blocks
    python benchmarks/graphs.py --blocks 2000 --rounds 5

For every merge of the network, the diagram asks which layers lie on a path from the merge's fork to
the merge (``LayerGraph.on_paths``). archdsl's walk stops at the merge's position in the topological
order, so each question costs what lies between the fork and the merge; the networkx form of the same
question, ``nx.descendants(G, fork) & nx.ancestors(G, merge)``, walks everything downstream of the fork
and upstream of the merge, so a chain of n blocks costs n² in all. Both are timed on the same analysis in
the same run (the median of ``--rounds``); the ratio column is networkx / archdsl. The networkx side does
not count ``import networkx`` (86-88 ms here) or building its graph, which are timed apart.
"""

from __future__ import annotations

import argparse
import statistics
import time

import archdsl
from archdsl.views.skips import LayerGraph


def residual_chain(blocks: int) -> str:
    return "input 16x8x8\n" + "residual { conv3-16 - bn - relu - conv3-16 - bn }\n" * blocks + "gap - fc-10\n"


def questions(a) -> list[tuple[str, str]]:
    """(fork, merge) for every merge: the merge's first data input's nearest common start, taken as the
    layer its shortcut reads."""
    g = LayerGraph(a)
    out = []
    for x in g.layers():
        if x.kind.merge and len(g.data[x.name]) >= 2:
            out.append((g.data[x.name][-1], x.name))
    return out


def ours(a, qs) -> float:
    start = time.perf_counter()
    g = LayerGraph(a)
    for fork, merge in qs:
        g.on_paths(fork, merge)
    return time.perf_counter() - start


def with_networkx(G, qs) -> float:
    import networkx as nx

    start = time.perf_counter()
    for fork, merge in qs:
        (nx.descendants(G, fork) & nx.ancestors(G, merge)) - {fork, merge}
    return time.perf_counter() - start


def nx_graph(a):
    import networkx as nx

    G = nx.DiGraph()
    G.add_nodes_from(x.name for x in a.layers)
    G.add_edges_from((i, x.name) for x in a.layers for i in x.inputs)
    return G


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--blocks", type=int, nargs="*", default=[250, 1000])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    start = time.perf_counter()
    import networkx  # noqa: F401

    print(f"import networkx: {1000 * (time.perf_counter() - start):.0f} ms")
    cases = [("resnet152", archdsl.load("resnet152"))]
    cases += [(f"residual chain x{n}", archdsl.load(residual_chain(n))) for n in args.blocks]
    print(f"{'network':<24}{'merges':>8}{'archdsl s':>12}{'networkx s':>12}{'ratio':>8}{'nx graph s':>12}")
    for name, net in cases:
        a = net.analyze()
        qs = questions(a)
        t0 = time.perf_counter()
        G = nx_graph(a)
        build = time.perf_counter() - t0
        mine = statistics.median(ours(a, qs) for _ in range(args.rounds))
        theirs = statistics.median(with_networkx(G, qs) for _ in range(args.rounds))
        print(f"{name:<24}{len(qs):>8}{mine:>12.4f}{theirs:>12.4f}{theirs / mine:>8.1f}{build:>12.4f}")


if __name__ == "__main__":
    main()
