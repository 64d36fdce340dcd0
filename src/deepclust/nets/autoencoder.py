"""Choose the autoencoder from the input shape: conv for images, MLP for vectors."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .conv import ConvConfig, ConvDecoder, ConvEncoder
from .mlp import DEC_HIDDEN, MLPDecoder, MLPEncoder

MIN_CONV_SIZE = 16  # ours: USPS (16×16) is the smallest image the paper's convs are given


def build_autoencoder(
    input_shape: Sequence[int],
    latent_dim: int = 120,  # paper §4.3
    *,
    kind: str = "auto",
    config: ConvConfig | None = None,
    hidden: Sequence[int] = DEC_HIDDEN,
    activation: str = "relu",
) -> tuple[nn.Module, nn.Module]:
    """Return ``(encoder, decoder)`` for samples of ``input_shape``.

    ``kind="auto"``: images (C, H, W) with H, W >= 16 get ``ConvEncoder``/``ConvDecoder``
    (``config`` overrides ``conv_config``); vectors (d,) and smaller images (e.g. 8×8 digits,
    flattened) get ``MLPEncoder``/``MLPDecoder`` with ``hidden`` and ``activation``.
    ``kind="conv"`` or ``"mlp"`` forces one (convs need an image shape).
    """
    shape = tuple(int(n) for n in input_shape)
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise ValueError(f"input_shape must be (d,) or (C, H, W), got {shape}.")
    if kind not in ("auto", "conv", "mlp"):
        raise ValueError(f"kind must be 'auto', 'conv' or 'mlp', got {kind!r}.")
    if kind == "conv" and len(shape) != 3:
        raise ValueError(f"convolutional autoencoders need (C, H, W) images, got {shape}.")
    if kind == "conv" or (kind == "auto" and len(shape) == 3 and min(shape[1:]) >= MIN_CONV_SIZE):
        return (
            ConvEncoder(shape, latent_dim, config),
            ConvDecoder(shape, latent_dim, config),
        )
    return (
        MLPEncoder(shape, latent_dim, hidden, activation),
        MLPDecoder(shape, latent_dim, hidden, activation),
    )
