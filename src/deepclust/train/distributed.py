"""Data-parallel training under ``torchrun``, with PyTorch's DistributedDataParallel.

Every process (rank) holds the data and the same seed, so all draw the same global batches;
each runs the networks on its shard of every batch (``deepclust._shards.sharded``), and the
parts of a loss that couple a batch's samples are taken over the whole global batch:
``_shards.gather`` brings every rank's rows together with the gradient flowing back to their
own rank (the orthonormalisation's Gram matrix, the kNN affinity, the Student-t similarities,
the MI critics' negatives), ``_shards.batch_indices`` gives the global batch's samples (for
its block of a global affinity), and ``_shards.batch_random`` draws a step's noise for the
global batch on every rank and keeps its rows.
``data_parallel`` averages each optimiser's gradients over the ranks (one
``DistributedDataParallel`` per optimiser), so each rank's loss, the mean over its shard of the
per-sample terms plus the batch-wide terms (the same on every rank), gives the one-process
gradient: exactly when the batch divides evenly over the ranks, else with each shard's samples
weighing 1/N of the batch together. A fit is then that of one process on the same batches, up
to float32 rounding (and dropout, drawn per rank); rank 0 writes the files. Outside a process
group all of this is the identity.
"""

from __future__ import annotations

import atexit
import functools
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .._shards import world


def is_main() -> bool:
    """Whether this process writes the files and shows the progress (rank 0)."""
    return world()[0] == 0


def init_from_env() -> None:
    """Join ``torchrun``'s process group when launched by it with more than one process
    (``WORLD_SIZE`` > 1 in the environment): gloo for CPU tensors, NCCL for CUDA ones, each
    rank on GPU ``LOCAL_RANK`` where there are GPUs; a no-op when the group exists already.
    The group is left at exit (``leave_group``)."""
    if (int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available()
            or dist.is_initialized()):
        return
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank())
    dist.init_process_group("cpu:gloo,cuda:nccl" if cuda else "gloo")
    atexit.register(leave_group)


def leave_group() -> None:
    """Destroy the process group, if one is open, so that its communication threads end
    before the interpreter does (without it a gloo rank could abort at exit, "terminate
    called without an active exception", after its files were written)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def local_rank() -> int:
    """This process's index on its machine (``torchrun``'s ``LOCAL_RANK``; 0 without it)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def mean_over_ranks(values: np.ndarray) -> np.ndarray:
    """``values`` averaged over the ranks (float64; ``values`` itself in one process)."""
    if world()[1] == 1:
        return values
    total = torch.from_numpy(np.ascontiguousarray(values, np.float64))
    dist.all_reduce(total)
    return total.numpy() / world()[1]


class _Parameters(nn.Module):
    """An optimiser's parameters as one module, for DistributedDataParallel; its forward runs
    the step it is given, which uses them through the method's own modules."""

    def __init__(self, params: Iterable[nn.Parameter]) -> None:
        super().__init__()
        self.params = nn.ParameterList(params)

    def forward(self, step: Callable[..., Any], *args: Any) -> Any:
        return step(*args)


def data_parallel(step: Callable[..., Any],
                  optimisers: Iterable[torch.optim.Optimizer]) -> Callable[..., Any]:
    """``step`` (the forward pass of a training step, returning its loss terms) run through
    one ``DistributedDataParallel`` per optimiser, so that every backward pass averages the
    gradients of that optimiser's parameters over the ranks. Parameters a step does not use
    are allowed (``find_unused_parameters``). ``step`` itself in one process."""
    if world()[1] == 1:
        return step
    from torch.nn.parallel import DistributedDataParallel

    for opt in optimisers:
        params = [p for group in opt.param_groups for p in group["params"] if p.requires_grad]
        step = functools.partial(
            DistributedDataParallel(_Parameters(params), find_unused_parameters=True), step)
    return step
