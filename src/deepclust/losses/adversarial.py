"""DCFAE's GAN losses, in binary cross-entropy with logits (method-spec §B.3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._shards import batch_random


def discriminator_loss(
    real_logits: Tensor,
    fake_logits: Tensor,
    label_noise: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """BCE of the discriminator over the 2B images: targets 1 for real x, 0 for
    reconstructions x̂, each plus ``label_noise``·U(0, 1) (the author uses 0.05).

    The noise is drawn on ``generator``'s device (any) and moved to the logits'.
    """
    logits = torch.cat([real_logits, fake_logits])
    targets = torch.cat([torch.ones_like(real_logits), torch.zeros_like(fake_logits)])
    if label_noise:
        device = targets.device if generator is None else generator.device
        noise = batch_random(torch.rand, (2, *real_logits.shape), dim=1, generator=generator,
                             device=device, dtype=targets.dtype)  # torchrun: the global batch's
        targets = targets + label_noise * noise.reshape(targets.shape).to(targets.device)
    return F.binary_cross_entropy_with_logits(logits, targets)


def generator_loss(fake_logits: Tensor) -> Tensor:
    """BCE of the discriminator's logits on reconstructions against target 1 (fool it)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
