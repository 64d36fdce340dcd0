"""Learnable cluster centres and a soft assignment to them: DEC's Student-t (Xie et al. 2016)
or the posterior of DSCDAN's Gaussian mixture prior (Eq. 19)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..graph import pairwise_sq_dists

KERNELS = ("student-t", "gaussian")


class ClusteringLayer(nn.Module):
    """Centres μ_k (K, d) and a soft assignment of each z to them, rows summing to 1:

    - ``"student-t"``: ``q_ik ∝ (1 + ||z_i - μ_k||²/α)^(-(α+1)/2)`` (DEC Eq. 1; α = 1, DEC
      §3.1.1; DCFAE's Q kernel);
    - ``"gaussian"``: ``q_ik ∝ exp(-½ ||z_i - μ_k||²)``, the posterior p(k|z) of the mixture
      of N(μ_k, I) with equal weights (DSCDAN's prior in the KL "unify" term, Eq. 19).

    Both decrease with the distance, so the most probable cluster is the nearest centre.
    Centres start at zero; set them with ``centres``."""

    def __init__(self, n_clusters: int, dim: int, alpha: float = 1.0,
                 kernel: str = "student-t") -> None:
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
        self.alpha = alpha
        self.kernel = kernel
        self.centres = nn.Parameter(torch.zeros(n_clusters, dim))

    def logits(self, z: Tensor) -> Tensor:
        """The log of the unnormalised assignment (B, K): its softmax is ``forward``."""
        d2 = pairwise_sq_dists(z, self.centres)
        if self.kernel == "gaussian":
            return -0.5 * d2
        return -(self.alpha + 1) / 2 * torch.log1p(d2 / self.alpha)

    def forward(self, z: Tensor) -> Tensor:
        if self.kernel == "gaussian":
            return torch.softmax(self.logits(z), dim=1)
        q = (1 + pairwise_sq_dists(z, self.centres) / self.alpha).pow(-(self.alpha + 1) / 2)
        return q / q.sum(1, keepdim=True)
