"""DCFAE's clustering loss: Student-t pairwise similarities and their cross-entropy
(method-spec §B.3)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..graph import pairwise_sq_dists, perplexity_rows

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


@torch.no_grad()
def perplexity_similarity(H: Tensor, perplexity: float, n_iter: int = 50) -> Tensor:
    """t-SNE's input similarities on the batch H (B, d), as parametric t-SNE (van der Maaten,
    AISTATS 2009) computes them per batch: ``P_j|i ∝ exp(-β_i ||h_i - h_j||²)`` with each β_i
    found by bisection so that P_·|i has the given perplexity (``2^entropy``), capped at
    (B - 1) / 3 (at least 2) so that each point's neighbourhood stays a minority of the batch
    (scikit-learn's t-SNE looks at 3·perplexity neighbours; ours), then
    ``P = (P_j|i + P_i|j) / 2B``; shape (B, B), symmetric, zero diagonal, summing to 1.

    Calibrated per point, P does not depend on the scale of H, where a Student-t kernel of
    fixed width does (DCFAE's P). No gradient flows through it.
    """
    B = H.shape[0]
    if B < 3:
        raise ValueError(f"perplexity_similarity needs a batch of at least 3, got {B}.")
    if not perplexity > 1:
        raise ValueError(f"perplexity must be > 1, got {perplexity}.")
    self_mask = torch.eye(B, dtype=torch.bool, device=H.device)
    cond = perplexity_rows(pairwise_sq_dists(H.detach()),
                           min(perplexity, max((B - 1) / 3, 2.0)), self_mask)
    return ((cond + cond.T) / (2 * B)).to(H.dtype)


def pairwise_cross_entropy(P: Tensor, Q: Tensor) -> Tensor:
    """DCFAE's L_c = ``-Σ_ij P_ij log Q_ij`` (a sum, not a mean: author's code).

    Q is floored at 1e-10 inside the log, so a zero diagonal gives 0, not NaN. Detach P to
    use it as a fixed target (method-spec §E.10).
    """
    return -(P * Q.clamp_min(PROB_FLOOR).log()).sum()
