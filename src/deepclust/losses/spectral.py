"""The spectral clustering loss of DSCDAN §3.2 / SpectralNet (method-spec §E.6)."""

from __future__ import annotations

from torch import Tensor

from ..graph import pairwise_sq_dists


def spectral_loss(W: Tensor, Y: Tensor) -> Tensor:
    """``L_sp = Σ_ij W_ij ||y_i - y_j||² / (2m)`` for affinity W (m, m) and embedding Y (m, K)
    (SpectralNet; the official code divides by 1024 instead of 2m)."""
    return (W * pairwise_sq_dists(Y)).sum() / (2 * Y.shape[0])
