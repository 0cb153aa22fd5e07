"""The few torch modules that ``torch.nn`` lacks; compiled models use them and generated
source (``archdsl compile -o``) inlines them, so that source still needs only torch."""
import torch
from torch import nn


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a whole sample's input with probability p and scale the
    survivors by 1/(1-p); at eval the identity."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)

    def extra_repr(self):
        return f"p={self.p}"


class MeanJoin(nn.Module):
    """FractalNet's join: the element-wise mean of its inputs. In training each input is dropped
    with probability ``drop`` (local drop-path), keeping at least one; at eval all are averaged."""

    def __init__(self, drop: float = 0.0):
        super().__init__()
        self.drop = drop

    def forward(self, *xs):
        if not self.training or self.drop == 0.0:
            return torch.stack(xs).mean(0)
        # tensor ops only (no data-dependent Python branches), so torch.compile(fullgraph=True) traces it
        n = len(xs)
        keep = torch.rand(n, device=xs[0].device) >= self.drop
        pick = torch.nn.functional.one_hot(torch.randint(n, (), device=xs[0].device), n).bool()
        keep = keep | (pick & ~keep.any())  # none kept: keep one at random
        weights = keep.to(xs[0].dtype) / keep.sum()
        return (torch.stack(xs) * weights.view(n, *[1] * xs[0].dim())).sum(0)

    def extra_repr(self):
        return f"drop={self.drop}"


CUSTOM = {"DropPath": DropPath, "MeanJoin": MeanJoin}
