"""Pairwise distances and the kNN Gaussian affinity of DSCDAN §3.2 / SpectralNet, on one batch."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def pairwise_sq_dists(A: Tensor, B: Tensor | None = None) -> Tensor:
    """Squared Euclidean distances ``||a_i - b_j||²`` of rows, shape (len(A), len(B)).

    Computed as ``|a|² + |b|² - 2ab`` and clamped at 0: no square root, so the gradient stays
    finite at zero distance (duplicates). ``B=None`` means ``B = A``. Runs in at least float32,
    outside autocast (ours: in bfloat16 the expansion loses the small distances kNN needs).
    """
    B = A if B is None else B
    dtype = torch.promote_types(torch.promote_types(A.dtype, B.dtype), torch.float32)
    with torch.autocast(A.device.type, enabled=False):
        A, B = A.to(dtype), B.to(dtype)
        sq = A.pow(2).sum(1, keepdim=True) + B.pow(2).sum(1) - 2 * A @ B.T
    return sq.clamp_min(0)


def _nonself_nearest(D2: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The k smallest off-diagonal entries of each row of D2 (sorted) and their column indices."""
    self_mask = torch.eye(D2.shape[0], dtype=torch.bool, device=D2.device)
    return D2.masked_fill(self_mask, math.inf).topk(k, dim=1, largest=False, sorted=True)


def _median_scale(D2: Tensor, nbr: int) -> Tensor:
    """σ from a squared-distance matrix, as a 0-dim tensor (no host sync); see ``median_scale``."""
    k = min(nbr, D2.shape[0]) - 1  # ours: a batch smaller than nbr uses its farthest point
    d = _nonself_nearest(D2.detach(), k)[0][:, k - 1].sqrt()
    # ours: zero distances (duplicates) are left out, so they cannot make σ = 0; if every point
    # has a duplicate, any σ gives the same affinities and σ = 1 is used.
    d = d.masked_fill(d == 0, math.nan)
    return torch.nan_to_num(d.nanquantile(0.5), nan=1.0)


def median_scale(Z: Tensor, nbr: int = 2) -> float:
    """SpectralNet's kernel width σ: the median over ``Z``'s rows of the distance to the
    ``nbr``-th nearest neighbour, counting the point itself as the 1st (SpectralNet's
    ``scale_nbr``; method-spec §E.5). The default ``nbr=2`` is the nearest *other* point.

    Cost is O(m²) memory in the number of rows: pass a random sample (e.g. 1024 rows, as
    SpectralNet does) to compute σ once for a large data set. Zero distances are ignored.
    """
    if Z.ndim != 2 or Z.shape[0] < 2:
        raise ValueError(f"median_scale needs a (m, d) batch with m >= 2, got {tuple(Z.shape)}.")
    if nbr < 2:
        raise ValueError(
            f"nbr counts the point itself as the 1st neighbour; need nbr >= 2, got {nbr}."
        )
    return float(_median_scale(pairwise_sq_dists(Z.detach()), nbr))


def knn_affinity(Z: Tensor, n_neighbors: int = 3, scale: float | str | None = None) -> Tensor:
    """Dense symmetric kNN Gaussian affinity of a batch ``Z`` (m, d), shape (m, m).

    ``W_ij = exp(-||z_i - z_j||² / (2σ²))`` if ``j`` is among the ``n_neighbors`` nearest
    *genuine* (non-self) neighbours of ``i`` (paper §4.3: k = 3), else 0; then
    ``W = (W + Wᵀ)/2`` (SpectralNet), so a row may hold more than k non-zeros (a point chosen by
    many others) while the matrix holds at most 2·k·m. The diagonal is 0. ``σ = scale``, or when
    None the per-batch ``median_scale(Z, nbr=2)`` (method-spec §E.5). ``scale="local"``: the
    self-tuning kernel ``exp(-||z_i - z_j||² / (2σ_i σ_j))`` with σ_i the distance from z_i to
    its k-th neighbour (Zelnik-Manor & Perona 2004; SpectralNet's package): sparse regions
    and outliers keep edges of usable weight where one global σ cuts them off, leaving
    near-isolated islands that spectral embeddings pick out instead of the clusters.

    Duplicated points are neighbours like any other (distance 0, weight 1). With m <= k every
    other point is a neighbour. Differentiable in ``Z`` through the weights (not through the
    choice of neighbours, nor σ); detach ``W`` to treat the graph as fixed.
    """
    if Z.ndim != 2 or Z.shape[0] < 2:
        raise ValueError(f"knn_affinity needs a (m, d) batch with m >= 2, got {tuple(Z.shape)}.")
    if n_neighbors < 1:
        raise ValueError(f"n_neighbors must be >= 1, got {n_neighbors}.")
    if scale is not None and scale != "local" and not (
            isinstance(scale, int | float) and scale > 0):
        raise ValueError(f"scale (σ) must be positive, None or 'local', got {scale!r}.")
    D2 = pairwise_sq_dists(Z)
    k = min(n_neighbors, Z.shape[0] - 1)
    d2_knn, idx = _nonself_nearest(D2, k)
    if scale == "local":
        sigma = d2_knn[:, -1].detach().sqrt()
        sigma = sigma.clamp_min(sigma.max() * 1e-6 + 1e-12)  # duplicates: a tiny positive σ_i
        sigma2 = sigma[:, None] * sigma[idx]  # σ_i σ_j for each kept neighbour j of i
    elif scale is None:
        sigma2 = _median_scale(D2, nbr=2).pow(2)
    else:
        sigma2 = torch.tensor(float(scale) ** 2, dtype=Z.dtype, device=Z.device)
    W = torch.zeros_like(D2).scatter(1, idx, torch.exp(-d2_knn / (2 * sigma2)))
    return (W + W.T) / 2


@torch.no_grad()
def perplexity_rows(D: Tensor, perplexity: float, mask: Tensor | None = None,
                    n_iter: int = 50) -> Tensor:
    """t-SNE's conditional similarities ``P_j|i ∝ exp(-β_i D_ij)`` for each row i of squared
    distances ``D`` (n, m), each β_i bisected so that row i has the given perplexity
    (``2^entropy``; van der Maaten & Hinton 2008); entries where ``mask`` is True get 0.
    Rows sum to 1. Each row is first divided by its mean distance, which moves only β_i's
    search range, so the result does not depend on the scale of the distances."""
    D = D.double()
    mask = torch.zeros_like(D, dtype=torch.bool) if mask is None else mask
    kept = (~mask).sum(1, keepdim=True).clamp_min(1)
    D = D / (D.masked_fill(mask, 0).sum(1, keepdim=True) / kept).clamp_min(1e-12)
    target = math.log(perplexity)
    lo = torch.full((len(D), 1), -30.0, dtype=D.dtype, device=D.device)  # log β_i, bisected
    hi = torch.full_like(lo, 30.0)
    for _ in range(n_iter):
        mid = (lo + hi) / 2
        logp = torch.log_softmax((-mid.exp() * D).masked_fill(mask, -math.inf), dim=1)
        entropy = -(logp.exp() * logp.masked_fill(mask, 0)).sum(1, keepdim=True)
        wide = entropy > target  # too many neighbours: sharpen (larger β)
        lo, hi = torch.where(wide, mid, lo), torch.where(wide, hi, mid)
    return torch.softmax((-((lo + hi) / 2).exp() * D).masked_fill(mask, -math.inf), dim=1)
