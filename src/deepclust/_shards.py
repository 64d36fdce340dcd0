"""The rows of a global batch that this process holds, when ``torchrun`` runs several
(``train.distributed``): inside ``sharded(idx)`` each rank trains on its shard of the batch
``idx``, ``gather`` brings every rank's rows together (with the gradient flowing back to their
own rank) for the parts of a loss that couple a batch's samples, and ``batch_random`` draws a
step's noise for the global batch on every rank and keeps its own rows. Outside a process group,
or outside ``sharded``, all of it is the identity. Below ``nets`` and ``losses``, which use it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

_SHARDS: ContextVar[tuple[int, tuple[int, ...]] | None] = ContextVar("shards", default=None)


def world() -> tuple[int, int]:
    """This process's rank and the number of processes (0 and 1 outside a process group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextlib.contextmanager
def sharded(idx: np.ndarray) -> Iterator[np.ndarray]:
    """This rank's rows of the global batch ``idx`` (``np.array_split``: the shards differ by
    one row at most); inside the block ``gather`` and ``batch_random`` work on that batch."""
    rank, size = world()
    parts = np.array_split(idx, size)
    token = _SHARDS.set((rank, tuple(len(part) for part in parts)))
    try:
        yield parts[rank]
    finally:
        _SHARDS.reset(token)


def _shards() -> tuple[int, tuple[int, ...]] | None:
    shards = _SHARDS.get()
    return shards if shards is not None and len(shards[1]) > 1 else None


class _AllGather(torch.autograd.Function):
    """Every rank's tensor (all of one shape), stacked; the gradient of each rank's part is the
    sum over the ranks of the gradients it got there (what ``torch.distributed.nn.all_gather``,
    deprecated since PyTorch 2.x, does)."""

    @staticmethod
    def forward(ctx: Any, t: Tensor) -> Tensor:
        parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, t)
        return torch.stack(parts)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[dist.get_rank()]


def gather(t: Tensor) -> Tensor:
    """The global batch's rows of ``t`` (B_r, ...), this rank's shard, in rank order: the
    whole batch on every rank, the gradient of each rank's rows summed back to that rank.
    ``t`` itself outside a sharded step."""
    shards = _shards()
    if shards is None:
        return t
    rank, sizes = shards
    if len(t) != sizes[rank]:
        raise ValueError(f"gather expects this rank's {sizes[rank]} rows, got {len(t)}.")
    pad = max(sizes) - len(t)  # all_gather takes tensors of one shape
    padded = torch.cat([t, t.new_zeros((pad, *t.shape[1:]))]) if pad else t
    parts = _AllGather.apply(padded.contiguous())
    return torch.cat([part[:n] for part, n in zip(parts, sizes, strict=True)])


def batch_indices(idx: np.ndarray) -> np.ndarray:
    """The global batch's sample indices, given this rank's shard ``idx`` of them, in rank
    order (``idx`` itself outside a sharded step): for what a batch reads from a global
    matrix, such as its block of a neighbour graph's affinity."""
    if _shards() is None:
        return idx
    return gather(torch.from_numpy(np.asarray(idx, dtype=np.int64))).numpy()


def local_rows(t: Tensor, dim: int = 0) -> Tensor:
    """This rank's rows (along ``dim``) of ``t``, a tensor of the global batch's rows."""
    shards = _shards()
    if shards is None:
        return t
    rank, sizes = shards
    return t.narrow(dim, sum(sizes[:rank]), sizes[rank])


def batch_random(draw: Callable[..., Tensor], shape: tuple[int, ...], dim: int = 0,
                 **kwargs: Any) -> Tensor:
    """``draw(shape, **kwargs)`` (``torch.rand``, ``torch.randn``, ...) for a tensor whose
    axis ``dim`` runs over this rank's samples of the batch: drawn for the global batch on every
    rank, then this rank's rows, so that the ranks' RNGs stay in step and one process draws the
    same numbers."""
    shards = _shards()
    if shards is None:
        return draw(shape, **kwargs)
    full = (*shape[:dim], sum(shards[1]), *shape[dim + 1:])
    return local_rows(draw(full, **kwargs), dim)
