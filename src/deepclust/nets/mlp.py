"""Dense networks: the MLP autoencoder for vectors and tiny images, DCFAE's grouper, and the
MLP discriminator DCFAE uses where its image discriminator does not fit."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .layers import keras_init_, mlp
from .vae import EncoderOutput, VAEHead

DEC_HIDDEN = (500, 500, 2000)  # DEC / N2D autoencoder d-500-500-2000-10


class MLPEncoder(nn.Module):
    """Flatten → hidden layers with activation → ``VAEHead``.

    ``features`` is the last hidden layer (for the global MI critic); ``feature_map`` is None,
    so local MI is unavailable on MLPs.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        latent_dim: int = 10,  # DEC / N2D
        hidden: Sequence[int] = DEC_HIDDEN,
        activation: str = "relu",  # DEC / N2D
    ) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("MLPEncoder needs at least one hidden layer.")
        self.trunk = mlp((math.prod(input_shape), *hidden), activation, activate_last=True)
        self.feature_map_shape = None
        self.features_dim = hidden[-1]
        self.head = VAEHead(hidden[-1], latent_dim)
        keras_init_(self)

    def forward(self, x: Tensor) -> EncoderOutput:
        features = self.trunk(x.flatten(1))
        mu, logvar = self.head(features)
        return EncoderOutput(mu, logvar, None, features)


class MLPDecoder(nn.Module):
    """Mirror of ``MLPEncoder`` (``hidden`` given in the encoder's order): latent → hidden
    reversed → output, reshaped to ``output_shape``, sigmoid. ``logits`` skips the sigmoid."""

    def __init__(
        self,
        output_shape: Sequence[int],
        latent_dim: int = 10,  # DEC / N2D
        hidden: Sequence[int] = DEC_HIDDEN,
        activation: str = "relu",  # DEC / N2D
    ) -> None:
        super().__init__()
        self.output_shape = tuple(output_shape)
        sizes = (latent_dim, *reversed(hidden), math.prod(self.output_shape))
        self.net = mlp(sizes, activation)
        keras_init_(self)

    def logits(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.output_shape)

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.logits(z))


class DenseGrouper(nn.Module):
    """DCFAE's deep dense network f (method-spec §B.2): d → 2048 → 512 → 512 → d, ReLU, linear
    output. ``dropout`` defaults to 0: the author's 0.3 (and L2 1e-3) is inert in the code
    as run (method-spec §E.12)."""

    def __init__(
        self,
        dim: int = 50,  # author's code: latent 50
        hidden: Sequence[int] = (2048, 512, 512),  # author's code
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.net = mlp((dim, *hidden, dim), "relu", dropout=dropout)
        keras_init_(self)

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)


class MLPDiscriminator(nn.Module):
    """The dense counterpart of DCFAE's image ``Discriminator``, for vectors and images smaller
    than 16×16 (ours: the author's code only takes 32×32 images): flatten → hidden layers with
    activation → Linear(1), one logit per sample, shape (B,)."""

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),  # ours: CPU
        activation: str = "relu",  # as the author's image discriminator
    ) -> None:
        super().__init__()
        self.net = mlp((math.prod(input_shape), *hidden, 1), activation)
        keras_init_(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).squeeze(1)
