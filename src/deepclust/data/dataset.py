"""The :class:`Dataset` container returned by every loader."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Dataset:
    """Samples in [0, 1] plus labels when known.

    ``X`` is float32 with its natural shape: ``(n, c, h, w)`` for images, ``(n, d)`` for vectors
    (from a large ``.npy`` file: memory-mapped, and its stored dtype when already in [0, 1]).
    ``y`` is int64 of shape ``(n,)`` or ``None``.
    """

    X: np.ndarray
    y: np.ndarray | None
    name: str

    @property
    def n_classes(self) -> int | None:
        """Number of distinct labels, or ``None`` without labels."""
        return None if self.y is None else int(np.unique(self.y).size)
