"""Shared pieces of the networks: activations, MLP stacks, Keras initialisation, conv geometry."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

from torch import nn

LEAKY_SLOPE = 0.2  # official code (Conv.py): LeakyReLU(0.2)


def make_activation(name: str) -> nn.Module:
    """``"relu"`` or ``"leaky_relu"`` (slope 0.2, as DSCDAN's official code)."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(LEAKY_SLOPE)
    raise ValueError(f"activation must be 'relu' or 'leaky_relu', got {name!r}.")


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    *,
    dropout: float = 0.0,
    activate_last: bool = False,
) -> nn.Sequential:
    """Linear layers ``sizes[0] → sizes[1] → …``, each followed by the activation (and dropout
    when > 0) except the last unless ``activate_last``."""
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least input and output sizes, got {list(sizes)}.")
    layers: list[nn.Module] = []
    n_layers = len(sizes) - 1
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < n_layers - 1 or activate_last:
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def keras_init_(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases in every Linear/Conv/ConvTranspose layer.

    Keras' default, used by both official codes (DSCDAN TF1, DCFAE TF2; method-spec §A.2).
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def downsampled_sizes(hw: tuple[int, int], strides: Sequence[int]) -> list[tuple[int, int]]:
    """Spatial size after each "same"-padded conv of the given strides: ``ceil(n / s)``."""
    sizes = [hw]
    for s in strides:
        h, w = sizes[-1]
        sizes.append((math.ceil(h / s), math.ceil(w / s)))
    return sizes[1:]


def image_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    """Check and return a (C, H, W) image shape."""
    dims = tuple(int(n) for n in shape)
    if len(dims) != 3 or min(dims) < 1:
        raise ValueError(f"expected an image shape (channels, height, width), got {dims}.")
    c, h, w = dims
    return c, h, w
