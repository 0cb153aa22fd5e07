"""A compiled model trains under torch.nn.parallel.DistributedDataParallel.

Two processes (gloo backend, CPU, rendezvous through a file in tmp_path) each build
``archdsl.load("resnet20_cifar").compile()`` from the same seed, wrap it in DDP, and take one
SGD step on their own data. Each writes its gradients and parameters to tmp_path; the test
checks that the gradients are identical across ranks and equal to the mean of the two local
gradients (computed here, in one process, without DDP), that the local gradients themselves
differ (so the first check could fail), and that the parameters are identical after the step
and equal to ``p - lr * mean gradient``.

The ranks run outside pytest's process: ``python tests/test_ddp.py RESULT_DIR`` is rank 0 and
starts rank 1 with torch.multiprocessing's spawn context (a script's ``__main__`` is importable
by a spawned child whatever pytest's import mode); meanwhile this process computes the
single-process reference gradients.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import archdsl

WORLD = 2
SPEC = "resnet20_cifar"
BATCH = 4
LR = 0.1


def build_model():
    torch.manual_seed(0)  # the same initial weights in every process
    return archdsl.load(SPEC).compile()


def rank_data(rank: int):
    g = torch.Generator().manual_seed(100 + rank)  # different data on each rank
    return torch.randn(BATCH, 3, 32, 32, generator=g), torch.randint(0, 10, (BATCH,), generator=g)


def worker(rank: int, world: int, result_dir: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"file://{result_dir}/rendezvous",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=60),
    )  # a lost rank fails the test, not hangs it
    try:
        model = build_model()
        ddp = DDP(model)
        opt = torch.optim.SGD(ddp.parameters(), lr=LR)
        x, y = rank_data(rank)
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        grads = {k: p.grad.clone() for k, p in model.named_parameters()}
        opt.step()
        params = {k: p.detach().clone() for k, p in model.named_parameters()}
        torch.save({"grads": grads, "params": params}, f"{result_dir}/rank{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def local_gradients(rank: int) -> dict[str, torch.Tensor]:
    """One rank's gradients without DDP: its own data only."""
    model = build_model()
    x, y = rank_data(rank)
    F.cross_entropy(model(x), y).backward()
    return {k: p.grad for k, p in model.named_parameters()}


def test_ddp_two_processes_one_step(tmp_path):
    env = {
        **os.environ,
        "GLOO_SOCKET_IFNAME": os.environ.get("GLOO_SOCKET_IFNAME", "lo"),
        "PYTHONPATH": os.pathsep.join(
            [str(Path(archdsl.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.Popen(
        [sys.executable, __file__, str(tmp_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        local = [local_gradients(r) for r in range(WORLD)]  # while the ranks run
        mean = {k: sum(g[k] for g in local) / WORLD for k in local[0]}
        initial = dict(build_model().named_parameters())
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-4000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]

    assert ranks[0]["grads"].keys() == mean.keys()
    # the ranks saw different data: their own gradients differ
    assert any(not torch.allclose(local[0][k], local[1][k]) for k in mean)
    for k in mean:
        # DDP's all-reduce: every rank holds the same gradient, the mean of the local ones
        torch.testing.assert_close(ranks[1]["grads"][k], ranks[0]["grads"][k], rtol=0, atol=0)
        torch.testing.assert_close(ranks[0]["grads"][k], mean[k], rtol=1e-4, atol=1e-6)
        # ...so the step leaves the parameters identical across ranks
        torch.testing.assert_close(ranks[1]["params"][k], ranks[0]["params"][k], rtol=0, atol=0)
        torch.testing.assert_close(ranks[0]["params"][k], initial[k].detach() - LR * mean[k], rtol=1e-4, atol=1e-6)


if __name__ == "__main__":
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    others = [ctx.Process(target=worker, args=(rank, WORLD, sys.argv[1])) for rank in range(1, WORLD)]
    for p in others:
        p.start()
    worker(0, WORLD, sys.argv[1])
    for p in others:
        p.join(timeout=120)
    sys.exit(max(p.exitcode or 0 for p in others) if all(p.exitcode is not None for p in others) else 1)
