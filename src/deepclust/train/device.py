"""Choosing the torch device from a user string, and placing the training data and the
networks on it."""

from __future__ import annotations

import torch

from .._shards import world
from ..exceptions import DeepclustError
from .distributed import local_rank


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Map ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:i"`` to an available torch device;
    under ``torchrun`` ``"auto"`` and ``"cuda"`` are each process's own GPU (``LOCAL_RANK``)."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and world()[1] > 1:
        device = f"cuda:{local_rank()}"
    if device == "cpu":
        return torch.device("cpu")
    if isinstance(device, str) and (device == "cuda" or device.startswith("cuda:")):
        index = device.partition(":")[2]
        if index and not index.isdigit():
            raise DeepclustError(f"device {device!r} is not valid; use 'cuda' or 'cuda:N'.")
        if not torch.cuda.is_available():
            raise DeepclustError(
                f"device {device!r} was asked for but no CUDA GPU is available; "
                "use device='cpu' or 'auto'."
            )
        if index and int(index) >= torch.cuda.device_count():
            raise DeepclustError(
                f"device {device!r} does not exist: {torch.cuda.device_count()} GPU(s) visible."
            )
        return torch.device(device)
    raise DeepclustError(f"device {device!r} is not valid; use 'auto', 'cpu', 'cuda' or 'cuda:N'.")


#: the share of a GPU's free memory that the training data may take to be placed on it once
DEVICE_DATA_SHARE = 0.5  # ours: the other half for the networks, batches and the graph


def place_data(X: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``X`` where the training steps read their batches: on a CUDA device in one copy when it
    takes under ``DEVICE_DATA_SHARE`` of the free memory, so that a batch is an index with no
    copy from the host (issue 12: on an H100 the loop that copied every batch from the host
    and read every loss term at once ran at half the speed of a tight loop); else, and on the
    CPU, unchanged (each batch is copied when it is used)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if X.element_size() * X.nelement() < DEVICE_DATA_SHARE * free:
            return X.to(device)
    return X


def place_module(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` on ``device``; on the CPU its convolution weights in channels-last layout,
    so that its convolutions and their activations run in oneDNN's NHWC kernels (ours:
    DSCDAN's MNIST-test pretraining, 200 steps, 15.4-16.2 s contiguous against 9.9-10.1 s on
    an AMD EPYC with 2 threads; the transposed convolutions of the decoders gain most; the
    same maths, rounded differently). On a GPU the layout is left as built (not measured)."""
    if device.type == "cpu":
        return module.to(device, memory_format=torch.channels_last)
    return module.to(device)
