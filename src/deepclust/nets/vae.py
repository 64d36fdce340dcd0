"""The variational head shared by every encoder, the encoders' output type, and ψ."""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from .._shards import batch_random


class EncoderOutput(NamedTuple):
    """What every encoder returns.

    ``mu`` and ``logvar`` (B, d) parametrise q(z|x); ``mu`` is the clustering embedding.
    ``feature_map`` (B, C, h, w) is a middle conv map for the local MI critic (None for MLP
    encoders: without spatial positions local MI is unavailable). ``features`` (B, F) is the
    flattened last hidden representation, for the global MI critic.
    """

    mu: Tensor
    logvar: Tensor
    feature_map: Tensor | None
    features: Tensor


class VAEHead(nn.Module):
    """Two linear heads without activation: ``mu = Linear(h)`` and ``logvar = Linear(h)``
    (method-spec §A.2, §B.2). Used by the DSCDAN and DCFAE encoders alike."""

    def __init__(self, in_features: int, latent_dim: int) -> None:
        super().__init__()
        self.mu = nn.Linear(in_features, latent_dim)
        self.logvar = nn.Linear(in_features, latent_dim)

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        return self.mu(h), self.logvar(h)


def noisy_transform(
    mu: Tensor,
    logvar: Tensor,
    mode: Literal["reparam", "mult"] = "reparam",
    s: float = 0.5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The noisy transformer ψ of DSCDAN §3.1, giving the noisy code z̃ (method-spec §A.3, §E.3).

    ``"reparam"`` (official code, default): ``z̃ = mu + exp(logvar/2)·ε``, ε ~ N(0, I), the VAE
    reparameterisation (also DCFAE's sampling). ``"mult"`` (paper's multiplicative Gaussian
    noise): ``z̃ = mu ⊙ (1 + s·ε)``, ``s = 0.5`` (ours: the paper gives no value); ``logvar`` is
    unused. ε is drawn on ``generator``'s device (any) and moved to ``mu``'s.
    """
    device = mu.device if generator is None else generator.device
    eps = batch_random(torch.randn, tuple(mu.shape), generator=generator, device=device,
                       dtype=mu.dtype).to(mu.device)  # torchrun: the global batch's draws
    if mode == "reparam":
        return mu + torch.exp(0.5 * logvar) * eps
    if mode == "mult":
        return mu * (1 + s * eps)
    raise ValueError(f"mode must be 'reparam' or 'mult', got {mode!r}.")
