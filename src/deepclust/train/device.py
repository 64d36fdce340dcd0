"""Choosing the torch device from a user string."""

from __future__ import annotations

import torch

from ..exceptions import DeepclustError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Map ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:i"`` to an available torch device."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
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
