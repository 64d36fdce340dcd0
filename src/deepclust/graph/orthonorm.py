"""Orthonormalisation of the spectral embedding: find W_o with (Y W_o)ᵀ(Y W_o)/m = I.

Lives in ``graph`` because it is the constraint of spectral clustering (paper §3.2,
``YᵀY/m = I``), not a layer: ``nets.SpectralHead`` applies the weights it returns.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_JITTER_TRIES = 7  # ours: eps, 10·eps, ..., 1e6·eps before giving up on Cholesky


def orthonorm_weights(Y: Tensor, eps: float = 1e-7) -> Tensor:
    """Return W_o (K, K) such that ``(Y W_o)ᵀ(Y W_o)/m ≈ I`` for a batch ``Y`` (m, K).

    Paper §3.2 / SpectralNet: Cholesky ``YᵀY + jitter·I = LLᵀ`` and ``W_o = √m·L⁻ᵀ``. The
    jitter is ``eps`` relative to the mean of diag(YᵀY) (ours: scale-free; SpectralNet adds an
    absolute 1e-7) and grows tenfold on each failure (``cholesky_ex``, no exception). If
    Cholesky still fails, W_o comes from the eigendecomposition ``YᵀY = VΛVᵀ`` with eigenvalues
    clamped at the first jitter, ``W_o = √m·VΛ^(-1/2)``, and carries no gradient.

    The factorisation runs in float64 (float32 on MPS) and W_o is returned in ``Y``'s dtype.
    It is differentiable on the Cholesky path (the official code's joint training); call it
    under ``torch.no_grad()`` for SpectralNet's fixed-weights form (method-spec §E.6).

    Rank-deficient ``Y`` (rank r < K: a collapsed output, or m < K) cannot be orthonormalised:
    the result is then as close as possible, ``(Y W_o)ᵀ(Y W_o)/m`` ≈ a rank-r projector (r unit
    eigenvalues, the rest ≈ 0), and ``Y W_o`` stays bounded. W_o itself has entries of order
    ``1/√eps`` along the missing directions, so applying it to *another* batch amplifies them;
    a larger ``eps`` tames that.
    """
    if Y.ndim != 2 or Y.shape[0] < 1 or Y.shape[1] < 1:
        raise ValueError(f"orthonorm_weights needs a non-empty (m, K) batch, got {tuple(Y.shape)}.")
    if not torch.isfinite(Y).all():
        raise ValueError("orthonorm_weights got NaN or infinite outputs; training has diverged.")
    m, K = Y.shape
    work = torch.float32 if Y.device.type == "mps" else torch.float64  # MPS has no float64
    Yw = Y.to(work)
    A = Yw.T @ Yw
    eye = torch.eye(K, dtype=work, device=Y.device)
    mean_diag = A.diagonal().mean().detach()
    scale = torch.where(mean_diag > 0, mean_diag, torch.ones_like(mean_diag))  # Y = 0: any
    for i in range(_JITTER_TRIES):
        L, info = torch.linalg.cholesky_ex(A + eps * 10**i * scale * eye)
        if info.item() == 0:
            L_inv = torch.linalg.solve_triangular(L, eye, upper=False)
            return (math.sqrt(m) * L_inv.T).to(Y.dtype)
    with torch.no_grad():
        evals, V = torch.linalg.eigh(A)
        evals = evals.clamp_min(eps * scale)
        return (math.sqrt(m) * V * evals.rsqrt()).to(Y.dtype)
