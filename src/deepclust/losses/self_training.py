"""DEC's self-training loss: the sharpened target distribution P and KL(P || Q) (Xie et al. 2016,
§3.1.2; IDEC adds the reconstruction loss to it)."""

from __future__ import annotations

from torch import Tensor


def target_distribution(q: Tensor) -> Tensor:
    """``p_ik = (q_ik² / f_k) / Σ_k' (q_ik'² / f_k')`` with ``f_k = Σ_i q_ik`` (DEC Eq. 3):
    squaring sharpens confident assignments, dividing by f_k keeps large clusters in check."""
    weight = q.pow(2) / q.sum(0)
    return weight / weight.sum(1, keepdim=True)


def kl_self_training(p: Tensor, q: Tensor, eps: float = 1e-10) -> Tensor:
    """``KL(P || Q) = Σ_i Σ_k p_ik log(p_ik / q_ik)``, averaged over the batch (DEC Eq. 2;
    Keras ``kld`` as in the DEC/IDEC code). P is a fixed target (pass it detached)."""
    return (p * ((p + eps).log() - (q + eps).log())).sum(1).mean()
