"""Reconstruction losses: DSCDAN Eqs. 11–12 (squared error) and DCFAE's pixel BCE."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def reconstruction_loss(x: Tensor, x_rec: Tensor) -> Tensor:
    """``mean_b ||x - x_rec||²``: squared error summed over each sample, averaged over the batch
    (paper Eq. 11, official code)."""
    return (x - x_rec).pow(2).flatten(1).sum(1).mean()


def relative_reconstruction_loss(x_clean_rec: Tensor, x_noisy_rec: Tensor) -> Tensor:
    """Paper Eq. 12: ``mean_b ||x̄ - x̂||²`` between the reconstructions from mu (x̄ = g(mu))
    and from the noisy code (x̂ = g(z̃)); the same form as ``reconstruction_loss``."""
    return reconstruction_loss(x_clean_rec, x_noisy_rec)


def bce_reconstruction(x: Tensor, x_rec_logits: Tensor) -> Tensor:
    """DCFAE's reconstruction term: pixel binary cross-entropy of ``x`` (in [0, 1]) against the
    decoder's *logits*, summed over each sample and averaged over the batch.

    For images (B, C, H, W) the BCE is averaged over channels before summing over pixels, as
    Keras' ``binary_crossentropy`` on channels-last images does in the author's code.
    """
    bce = F.binary_cross_entropy_with_logits(x_rec_logits, x, reduction="none")
    if bce.ndim == 4:
        bce = bce.mean(1)
    return bce.flatten(1).sum(1).mean()
