"""The MI critics T₁ (global) and T₂ (local) of DSCDAN §3.1 (method-spec §A.4, §E.4).

Both score a pair (encoder feature, code z) with one logit; the positive pairs come from the
same sample, the negatives from a shuffled batch (``losses.shuffle_batch``), and both the
encoder and the critic minimise ``losses.jsd_mi_loss``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .layers import keras_init_, mlp

CRITIC_HIDDEN = (120, 120, 120)  # official code and [DIMb]: three ReLU layers of z_dim = 120


class GlobalCritic(nn.Module):
    """T₁: MLP over ``concat[features (B, F), z (B, d)]`` → one logit per sample, shape (B,).

    For the official code's latent-pair mode pass ``features=z̃`` (``features_dim=latent_dim``).
    """

    def __init__(
        self, features_dim: int, latent_dim: int, hidden: Sequence[int] = CRITIC_HIDDEN
    ) -> None:
        super().__init__()
        self.net = mlp((features_dim + latent_dim, *hidden, 1), "relu")
        keras_init_(self)

    def forward(self, features: Tensor, z: Tensor) -> Tensor:
        return self.net(torch.cat([features, z], dim=1)).squeeze(1)


class LocalCritic(nn.Module):
    """T₂: a stack of 1×1 convolutions over ``concat[feature_map (B, C, h, w), z tiled over
    h×w]`` → one logit per position, shape (B, h, w).

    The 1×1 convs are Linear layers applied on the channel axis (the same maps, as [DIMb]'s
    Dense on a 4-D tensor).
    """

    def __init__(
        self, feature_channels: int, latent_dim: int, hidden: Sequence[int] = CRITIC_HIDDEN
    ) -> None:
        super().__init__()
        self.net = mlp((feature_channels + latent_dim, *hidden, 1), "relu")
        keras_init_(self)

    def forward(self, feature_map: Tensor, z: Tensor) -> Tensor:
        b, _, h, w = feature_map.shape
        tiled = z[:, :, None, None].expand(b, z.shape[1], h, w)
        pairs = torch.cat([feature_map, tiled], dim=1).movedim(1, -1)  # (B, h, w, C + d)
        return self.net(pairs).squeeze(-1)
