"""DSCDAN's convolutional encoder and decoder (paper Table 2, method-spec §A.2, §E.8)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .layers import LEAKY_SLOPE, downsampled_sizes, image_shape, keras_init_
from .vae import EncoderOutput, VAEHead


class ConvConfig(NamedTuple):
    """Encoder layers: output ``channels`` and ``strides`` per conv, one odd ``kernel_size``."""

    channels: tuple[int, ...]
    strides: tuple[int, ...]
    kernel_size: int


def conv_config(input_shape: Sequence[int], width: int = 1) -> ConvConfig:
    """Paper Table 2's layers for an image shape (C, H, W), channels multiplied by ``width``.

    - min(H, W) <= 16 (USPS): 3×3, channels 16, 32, strides 2, 1;
    - min(H, W) < 32 (MNIST, Fashion 28×28): 3×3, channels 16, 16, 32, 32, strides 2, 1, 2, 1;
    - larger (YTF 3×55×55, 32×32 colour): the same with 5×5 kernels.

    The strides are the official code's (the paper gives none); ``width=2`` gives the official
    code's 32, 32, 64, 64. Pass a ``ConvConfig`` to the nets to use any other layout.
    """
    _, h, w = image_shape(input_shape)
    if width < 1:
        raise ValueError(f"width must be a positive integer, got {width}.")
    if min(h, w) <= 16:  # paper Table 2, USPS
        channels, strides, kernel = (16, 32), (2, 1), 3
    elif min(h, w) < 32:  # paper Table 2, MNIST / Fashion; strides: official code
        channels, strides, kernel = (16, 16, 32, 32), (2, 1, 2, 1), 3
    else:  # paper Table 2, YTF (5×5 kernels); ours: also for other large images
        channels, strides, kernel = (16, 16, 32, 32), (2, 1, 2, 1), 5
    return ConvConfig(tuple(c * width for c in channels), strides, kernel)


def _check(config: ConvConfig) -> ConvConfig:
    if len(config.channels) != len(config.strides) or not config.channels:
        raise ValueError(f"channels and strides must be non-empty and equally long: {config}.")
    if config.kernel_size % 2 == 0 or set(config.strides) - {1, 2}:
        raise ValueError(f"need an odd kernel_size and strides of 1 or 2: {config}.")
    return config


class ConvEncoder(nn.Module):
    """Convs with "same" padding and LeakyReLU(0.2), no batch norm, then ``VAEHead``.

    ``feature_map`` is the output of conv layer ``local_layer`` (default the 2nd: 14×14 on
    MNIST, as the local map commented out in the 2019 official code); ``features`` is the
    flattened last conv output. ``feature_map_shape`` and ``features_dim`` size the critics.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        latent_dim: int = 120,  # paper §4.3, official code
        config: ConvConfig | None = None,
        local_layer: int = 1,
    ) -> None:
        super().__init__()
        c_in, h, w = image_shape(input_shape)
        config = _check(config or conv_config(input_shape))
        if not 0 <= local_layer < len(config.channels):
            raise ValueError(f"local_layer must index one of the {len(config.channels)} convs.")
        k = config.kernel_size
        self.layers = nn.ModuleList()
        for c_out, s in zip(config.channels, config.strides, strict=True):
            conv = nn.Conv2d(c_in, c_out, k, stride=s, padding=k // 2)
            self.layers.append(nn.Sequential(conv, nn.LeakyReLU(LEAKY_SLOPE)))
            c_in = c_out
        sizes = downsampled_sizes((h, w), config.strides)
        self.local_layer = local_layer
        self.feature_map_shape = (config.channels[local_layer], *sizes[local_layer])
        self.features_dim = config.channels[-1] * sizes[-1][0] * sizes[-1][1]
        self.head = VAEHead(self.features_dim, latent_dim)
        keras_init_(self)

    def forward(self, x: Tensor) -> EncoderOutput:
        maps = []
        for layer in self.layers:
            x = layer(x)
            maps.append(x)
        features = x.flatten(1)
        mu, logvar = self.head(features)
        return EncoderOutput(mu, logvar, maps[self.local_layer], features)


class ConvDecoder(nn.Module):
    """Mirror of ``ConvEncoder``: Linear (no activation) → reshape → ConvTranspose layers with
    the encoder's channels and strides reversed, LeakyReLU(0.2) → ConvTranspose to C channels,
    stride 1 → cropped to ``output_shape`` (e.g. 56 → 55) → sigmoid.

    ``forward`` returns images in [0, 1]; ``logits`` the pre-sigmoid values (for BCE losses).
    """

    def __init__(
        self,
        output_shape: Sequence[int],
        latent_dim: int = 120,  # paper §4.3, official code
        config: ConvConfig | None = None,
    ) -> None:
        super().__init__()
        c_out, h, w = self.output_shape = image_shape(output_shape)
        config = _check(config or conv_config(output_shape))
        k = config.kernel_size
        self.start_shape = (config.channels[-1], *downsampled_sizes((h, w), config.strides)[-1])
        self.fc = nn.Linear(latent_dim, math.prod(self.start_shape))
        layers: list[nn.Module] = []
        c_in = config.channels[-1]
        for c, s in zip(reversed(config.channels), reversed(config.strides), strict=True):
            # "same" ConvTranspose: stride 2 doubles the size (method-spec §A.2)
            layers += [
                nn.ConvTranspose2d(c_in, c, k, stride=s, padding=k // 2, output_padding=s - 1),
                nn.LeakyReLU(LEAKY_SLOPE),
            ]
            c_in = c
        layers.append(nn.ConvTranspose2d(c_in, c_out, k, padding=k // 2))
        self.deconv = nn.Sequential(*layers)
        keras_init_(self)

    def logits(self, z: Tensor) -> Tensor:
        x = self.deconv(self.fc(z).view(-1, *self.start_shape))
        return x[..., : self.output_shape[1], : self.output_shape[2]]

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.logits(z))
