"""Random affine augmentation of image batches, drawn from torch's seeded RNG (for the global
batch under ``torchrun``: ``deepclust._shards.batch_random``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .._shards import batch_random

FILLS = ("zeros", "border")


def random_shift_rotate(x: Tensor, max_shift: float = 1, max_degrees: float = 10.0, *,
                        whole_pixels: bool = True, fill: str = "border") -> Tensor:
    """Each image of ``x`` (B, C, H, W) shifted on each axis by up to ``max_shift`` pixels
    (``whole_pixels``: an integer in [-max_shift, max_shift]; else uniform in that range) and
    rotated by U(-max_degrees, max_degrees) about its centre, bilinearly; what enters from
    outside is the nearest border pixel (``fill="border"``) or 0 (``"zeros"``).

    The defaults are DCFAE's stage-2 augmentation (Keras ``ImageDataGenerator(rotation_range=10,
    width_shift_range=2, height_shift_range=2)``, fill "nearest", the author's code)."""
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, got {fill!r}.")
    b, _, h, w = x.shape
    angle = (batch_random(torch.rand, (b,)) * 2 - 1) * math.radians(max_degrees)
    if whole_pixels:
        s = int(max_shift)
        shift = batch_random(lambda shape: torch.randint(-s, s + 1, shape), (b, 2)).float()
    else:
        shift = (batch_random(torch.rand, (b, 2)) * 2 - 1) * max_shift
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([  # the pixel-space affine map in affine_grid's [-1, 1] coordinates
        torch.stack([cos, -sin * h / w, 2 * shift[:, 0] / w], 1),
        torch.stack([sin * w / h, cos, 2 * shift[:, 1] / h], 1),
    ], 1).to(x)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=fill, align_corners=False)
