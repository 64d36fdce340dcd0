"""DCFAE's clustering loss: Student-t pairwise similarities and their cross-entropy
(method-spec §B.3)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..graph import pairwise_sq_dists

PROB_FLOOR = 1e-10  # author's code: similarities clipped to [1e-10, 1]


def student_t_similarity(H: Tensor, dof: float, include_diagonal: bool = False) -> Tensor:
    """Normalised Student-t kernel ``T_ij = (1 + ||h_i - h_j||²/ν)^(-(ν+1)/2) / Σ T`` over the
    batch H (B, d), clipped to [1e-10, 1]; shape (B, B), symmetric, summing to ≈ 1.

    ``include_diagonal=False`` (ours, as t-SNE: a point is not its own neighbour) sets
    T_ii = 0 before normalising and leaves the diagonal exactly 0; the author's code includes
    the diagonal (``True``). DCFAE uses ν = 100 for P on mu (near-Gaussian) and ν = 1 for Q on
    the grouper's output (Cauchy).
    """
    if not dof > 0:
        raise ValueError(f"dof (degrees of freedom) must be positive, got {dof}.")
    T = (1 + pairwise_sq_dists(H) / dof).pow(-(dof + 1) / 2)
    if include_diagonal:
        return (T / T.sum()).clamp(PROB_FLOOR, 1)
    off_diagonal = 1 - torch.eye(H.shape[0], dtype=T.dtype, device=T.device)
    T = T * off_diagonal
    return (T / T.sum()).clamp(PROB_FLOOR, 1) * off_diagonal


def pairwise_cross_entropy(P: Tensor, Q: Tensor) -> Tensor:
    """DCFAE's L_c = ``-Σ_ij P_ij log Q_ij`` (a sum, not a mean: author's code).

    Q is floored at 1e-10 inside the log, so a zero diagonal gives 0, not NaN. Detach P to
    use it as a fixed target (method-spec §E.10).
    """
    return -(P * Q.clamp_min(PROB_FLOOR).log()).sum()
