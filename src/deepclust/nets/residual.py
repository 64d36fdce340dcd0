"""DCFAE's residual networks (method-spec §B.2): encoder, decoder and image discriminator.

The author's code resizes everything to 32×32; these nets take any (C, H, W) as is: each
stage halves the size ("same" padding, ``ceil(n/2)``) and the decoder crops its output back.
The author's widths (encoder 64-128-256-512, discriminator 32-64-512) are heavy on a CPU, so
the defaults are smaller (ours: CPU) and every width is a parameter. ``residual=False`` drops
the residual blocks (the paper's "without residual CNN" ablation): plain strided convs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn

from .layers import downsampled_sizes, image_shape, keras_init_
from .vae import EncoderOutput, VAEHead

# ours: CPU; the author's encoder/decoder use 64-128-256-512, the discriminator 32-64-512
WIDTHS = (32, 64, 128)


class ResBlock(nn.Module):
    """x → Conv3×3 → ReLU → Conv3×3 → + x → ReLU; identity skip, no batch norm (author's code)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        keras_init_(self)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


def _res_or_identity(channels: int, residual: bool) -> nn.Module:
    return ResBlock(channels) if residual else nn.Identity()


def _down_stage(c_in: int, c_out: int, residual: bool = True) -> nn.Sequential:
    """Author's ``conv(c)`` (Conv k3 s2 "same" + ReLU) followed by ``res(c)`` if ``residual``."""
    conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
    return nn.Sequential(conv, nn.ReLU(), _res_or_identity(c_out, residual))


def _up_stage(c_in: int, c_out: int, residual: bool = True) -> nn.Sequential:
    """Author's ``deconv(c)`` (ConvT k3 s2 "same" + ReLU) followed by ``res(c)`` if ``residual``."""
    deconv = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
    return nn.Sequential(deconv, nn.ReLU(), _res_or_identity(c_out, residual))


def _down_stages(c_in: int, widths: Sequence[int], residual: bool = True) -> nn.Sequential:
    if not widths:
        raise ValueError("widths must name at least one stage.")
    return nn.Sequential(*(_down_stage(a, b, residual) for a, b in pairwise((c_in, *widths))))


class ResEncoder(nn.Module):
    """Stages ``conv(w), res(w)`` for each width → flatten → ``VAEHead`` (d = 50, author's code).

    ``feature_map`` is the first stage's output; ``features`` the flattened last one.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        latent_dim: int = 50,  # author's code
        widths: Sequence[int] = WIDTHS,
        residual: bool = True,  # author's code
    ) -> None:
        super().__init__()
        c, h, w = image_shape(input_shape)
        self.stages = _down_stages(c, widths, residual)
        sizes = downsampled_sizes((h, w), [2] * len(widths))
        self.feature_map_shape = (widths[0], *sizes[0])
        self.features_dim = widths[-1] * sizes[-1][0] * sizes[-1][1]
        self.head = VAEHead(self.features_dim, latent_dim)
        keras_init_(self)

    def forward(self, x: Tensor) -> EncoderOutput:
        feature_map = x = self.stages[0](x)
        x = self.stages[1:](x)
        features = x.flatten(1)
        mu, logvar = self.head(features)
        return EncoderOutput(mu, logvar, feature_map, features)


class ResDecoder(nn.Module):
    """Linear → reshape → ReLU → stages ``deconv(w), res(w)`` for the widths reversed →
    ConvT(C, k3, s1) → crop to ``output_shape`` → sigmoid. ``logits`` skips the sigmoid."""

    def __init__(
        self,
        output_shape: Sequence[int],
        latent_dim: int = 50,  # author's code
        widths: Sequence[int] = WIDTHS,
        residual: bool = True,  # author's code
    ) -> None:
        super().__init__()
        c, h, w = self.output_shape = image_shape(output_shape)
        if not widths:
            raise ValueError("widths must name at least one stage.")
        self.start_shape = (widths[-1], *downsampled_sizes((h, w), [2] * len(widths))[-1])
        self.fc = nn.Linear(latent_dim, math.prod(self.start_shape))
        rev = tuple(reversed(widths))
        self.stages = nn.Sequential(*(_up_stage(a, b, residual)
                                      for a, b in pairwise((rev[0], *rev))))
        self.out = nn.ConvTranspose2d(widths[0], c, 3, padding=1)
        keras_init_(self)

    def logits(self, z: Tensor) -> Tensor:
        x = torch.relu(self.fc(z).view(-1, *self.start_shape))
        x = self.out(self.stages(x))
        return x[..., : self.output_shape[1], : self.output_shape[2]]

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.logits(z))


class Discriminator(nn.Module):
    """DCFAE's image discriminator: stages ``conv(w), res(w)`` → flatten → Linear(1) logit (B,)."""

    def __init__(self, input_shape: Sequence[int], widths: Sequence[int] = WIDTHS,
                 residual: bool = True) -> None:
        super().__init__()
        c, h, w = image_shape(input_shape)
        self.stages = _down_stages(c, widths, residual)
        hw = downsampled_sizes((h, w), [2] * len(widths))[-1]
        self.fc = nn.Linear(widths[-1] * hw[0] * hw[1], 1)
        keras_init_(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.stages(x).flatten(1)).squeeze(1)
