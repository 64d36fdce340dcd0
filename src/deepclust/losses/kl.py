"""KL terms: the N(0, I) prior (DSCDAN Eq. 10, DCFAE), the mixture prior and the KL to a uniform
cluster prior of DSCDAN's "unify" term (Eq. 19; method-spec §A.5, §A.7)."""

from __future__ import annotations

import math

from torch import Tensor

from ..graph import pairwise_sq_dists

ENTROPY_EPS = 1e-7  # official code: y·log(y + 1e-7)


def kl_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """``mean_b KL(N(mu, e^logvar) || N(0, I)) = mean_b Σ_d -½(1 + logvar - mu² - e^logvar)``."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean()


def kl_mixture(mu: Tensor, logvar: Tensor, p_y: Tensor, means: Tensor) -> Tensor:
    """``mean_b Σ_k p(k|x)·KL(N(mu, e^logvar) || N(c_k, I))``, where the KL for cluster k is
    ``½ Σ_d (-1 - logvar + (mu - c_k)² + e^logvar)`` (official code, method-spec §A.5/§A.7).

    ``p_y`` (B, K) is the spectral head's soft assignment, ``means`` (K, d) the cluster means c.
    With ``means = 0`` and rows of ``p_y`` summing to 1 this equals ``kl_normal``.
    """
    per_dim = (-1 - logvar + logvar.exp()).sum(1, keepdim=True)  # (B, 1): the part free of c
    per_cluster = 0.5 * (per_dim + pairwise_sq_dists(mu, means))  # (B, K)
    return (p_y * per_cluster).sum(1).mean()


def kl_to_uniform(p_y: Tensor, eps: float = ENTROPY_EPS) -> Tensor:
    """``mean_b KL(p(y|x) || U(K)) = mean_b Σ_k p_k log(p_k + eps) + log K``.

    The official code's "NE" term is this minus the constant log K (method-spec §A.5).
    """
    return (p_y * (p_y + eps).log()).sum(1).mean() + math.log(p_y.shape[1])
