"""Pictures of what a model found: 2-D t-SNE maps coloured by class (the DSCDAN paper's Fig. 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.manifold import TSNE

from ._io import atomic_write


def tsne_maps(X: np.ndarray, model: Any, *, n_samples: int = 3000,
              seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """2-D t-SNE of a random subsample of ``X`` as raw pixels, as the model's autoencoder codes
    (when it has them) and as its clustering embedding (``transform``); with the indices of
    the subsample."""
    idx = np.sort(np.random.default_rng(seed).permutation(len(X))[:n_samples])
    spaces = {"raw pixels": X[idx].reshape(len(idx), -1)}
    if hasattr(model, "encode"):
        spaces["autoencoder codes"] = model.encode(X[idx])
    spaces[f"{type(model).__name__} embedding"] = model.transform(X[idx])
    maps = {name: TSNE(2, init="pca", random_state=seed).fit_transform(
        np.asarray(v, np.float64)) for name, v in spaces.items()}
    return maps, idx


def plot_maps(maps: dict[str, np.ndarray], labels: np.ndarray, path: str | Path,
              title: str = "") -> Path:
    """One scatter panel per map, points coloured by ``labels``; written atomically (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 4.4), squeeze=False)
    for ax, (name, xy) in zip(axes[0], maps.items(), strict=True):
        ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=2, linewidths=0)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png",
                                                          metadata={"Software": None}))
    finally:
        plt.close(fig)
