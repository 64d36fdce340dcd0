"""The arithmetic of training: float32 throughout, or the forward passes in bfloat16."""

from __future__ import annotations

import torch

from ..exceptions import DeepclustError

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str, device: torch.device) -> None:
    """A clear error for a precision (one of ``PRECISIONS``, checked with the estimator's
    other choices) that ``device`` cannot run."""
    if precision == "bf16" and device.type not in ("cpu", "cuda"):
        raise DeepclustError(f"precision='bf16' runs on the CPU and CUDA GPUs, not on "
                             f"{device.type!r}; use precision='fp32'.")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeepclustError("precision='bf16' needs a GPU with bfloat16 support; use "
                             "precision='fp32'.")


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """torch's autocast for the forward pass of a training step: with ``"bf16"`` the
    convolutions and matrix products run in bfloat16 (the losses torch lists as needing
    float32 stay in it; ``graph.pairwise_sq_dists`` and the orthonormalisation run in float32
    and float64 whatever the precision), with ``"fp32"`` nothing changes."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
