"""DEC's clustering layer: learnable centres and the Student-t soft assignment (Xie et al. 2016)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..graph import pairwise_sq_dists


class ClusteringLayer(nn.Module):
    """Centres μ_k (K, d) and ``q_ik ∝ (1 + ||z_i - μ_k||²/α)^(-(α+1)/2)``, each row summing
    to 1 (DEC Eq. 1; α = 1, DEC §3.1.1). Centres start at zero; set them with ``centres``."""

    def __init__(self, n_clusters: int, dim: int, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha
        self.centres = nn.Parameter(torch.zeros(n_clusters, dim))

    def forward(self, z: Tensor) -> Tensor:
        q = (1 + pairwise_sq_dists(z, self.centres) / self.alpha).pow(-(self.alpha + 1) / 2)
        return q / q.sum(1, keepdim=True)
