"""Pictures of what a model found: 2-D t-SNE maps coloured by class (the DSCDAN paper's
Fig. 6), and the figures of a run's HTML report (confusion matrix, cluster sizes, samples per
cluster, training curves)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.manifold import TSNE

from ._io import atomic_write


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig: Any, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (no timestamp: the same figure gives the same bytes); closes
    it."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=dpi, format="png", metadata={"Software": None})
    finally:
        _pyplot().close(fig)
    return buffer.getvalue()


def tsne_maps(X: np.ndarray, model: Any, *, n_samples: int = 3000,
              seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """2-D t-SNE of a random subsample of ``X`` as raw pixels, as the model's autoencoder codes
    (when it has them and they are not its embedding: a self-labelled model clusters its
    codes) and as its clustering embedding (``transform``); with the indices of the
    subsample."""
    idx = subsample(len(X), n_samples, seed)
    spaces = {"raw pixels": X[idx].reshape(len(idx), -1)}
    embedding = model.transform(X[idx])
    codes = model.encode(X[idx]) if hasattr(model, "encode") else embedding
    if codes.shape != embedding.shape or not np.array_equal(codes, embedding):
        spaces["autoencoder codes"] = codes
    spaces[f"{type(model).__name__} embedding"] = embedding
    return {name: tsne_2d(v, seed) for name, v in spaces.items()}, idx


def subsample(n: int, size: int, seed: int) -> np.ndarray:
    """``size`` of ``range(n)`` at random (all when fewer), sorted."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])


def tsne_2d(Z: np.ndarray, seed: int) -> np.ndarray:
    """2-D t-SNE of the rows of ``Z`` (PCA start; perplexity 30, at most (n - 1) / 3 so that
    small samples work)."""
    return TSNE(2, init="pca", perplexity=min(30.0, (len(Z) - 1) / 3),
                random_state=seed).fit_transform(np.asarray(Z, np.float64))


def plot_maps(maps: dict[str, np.ndarray], labels: np.ndarray, path: str | Path,
              title: str = "") -> Path:
    """One scatter panel per map, points coloured by ``labels``; written atomically (PNG)."""
    plt = _pyplot()
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


def confusion_figure(counts: np.ndarray, classes: Sequence[Any], clusters: Sequence[Any]) -> Any:
    """Heat map of a matched confusion matrix (``metrics.matched_confusion``), each cell its
    count, rows normalised for the colour."""
    plt = _pyplot()
    side = max(3.5, 0.45 * max(counts.shape) + 1.5)
    fig, ax = plt.subplots(figsize=(side, side * 0.9))
    ax.imshow(counts / np.maximum(counts.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    if counts.size <= 400:
        for (i, j), v in np.ndenumerate(counts):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 * counts[i].sum() else "black")
    ax.set_xticks(range(counts.shape[1]), [str(c) for c in clusters], fontsize=8)
    ax.set_yticks(range(counts.shape[0]), [str(c) for c in classes], fontsize=8)
    ax.set_xlabel("cluster (matched to the class of its row)")
    ax.set_ylabel("class")
    fig.tight_layout()
    return fig


def sizes_figure(labels: np.ndarray, n_clusters: int) -> Any:
    """Bar chart of the number of samples in each cluster."""
    plt = _pyplot()
    sizes = np.bincount(labels, minlength=n_clusters)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * n_clusters + 1.5), 2.6))
    ax.bar(range(len(sizes)), sizes, color="#4878a8")
    ax.set_xticks(range(len(sizes)), [str(k) for k in range(len(sizes))], fontsize=8)
    ax.set_xlabel("cluster")
    ax.set_ylabel("samples")
    fig.tight_layout()
    return fig


def cluster_grid(images: np.ndarray, rows: Sequence[np.ndarray]) -> Any:
    """One row of sample images per cluster: ``rows[k]`` the indices into ``images``
    (n, C, H, W) in [0, 1] to show for cluster k, left to right."""
    plt = _pyplot()
    _, c, h, w = images.shape
    width = max((len(r) for r in rows), default=1)
    # white gaps: 0 on the inverted grey scale of single-channel images, 1 in colour
    mosaic = np.full((len(rows) * (h + 2), width * (w + 2), c), float(c != 1), np.float32)
    for k, idx in enumerate(rows):
        for j, i in enumerate(idx):
            mosaic[k * (h + 2) + 1:k * (h + 2) + 1 + h,
                   j * (w + 2) + 1:j * (w + 2) + 1 + w] = images[i].transpose(1, 2, 0)
    scale = max(1.0, 28 / h) * 0.028
    fig, ax = plt.subplots(figsize=(width * (w + 2) * scale + 0.6,
                                    len(rows) * (h + 2) * scale + 0.3))
    ax.imshow(mosaic[..., 0] if c == 1 else np.clip(mosaic, 0, 1), cmap="gray_r" if c == 1
              else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks([k * (h + 2) + h / 2 for k in range(len(rows))],
                  [str(k) for k in range(len(rows))], fontsize=8)
    ax.set_xticks([])
    ax.set_ylabel("cluster")
    fig.tight_layout()
    return fig


def curve_names(history: Sequence[dict[str, Any]]) -> list[str]:
    """The loss terms and monitor scores of a history recorded in more than one epoch (the
    curves; not the final scores)."""
    counts: dict[str, int] = {}
    for h in history:
        for k, v in h.items():
            if k not in ("stage", "epoch", "seconds") and isinstance(v, int | float):
                counts[k] = counts.get(k, 0) + 1
    return [k for k, c in counts.items() if c > 1]


def curves_figure(history: Sequence[dict[str, Any]]) -> Any:
    """Training curves: one panel per name of ``curve_names`` (at least one), epochs of all
    stages end to end, each stage its own colour."""
    plt = _pyplot()
    names = curve_names(history)
    stages = list(dict.fromkeys(h["stage"] for h in history))
    cols = min(4, max(1, len(names)))
    n_rows = -(-len(names) // cols)
    fig, axes = plt.subplots(n_rows, cols, figsize=(3.3 * cols, 2.4 * n_rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        for colour, stage in enumerate(stages):
            points = [(i + 1, h[name]) for i, h in enumerate(history)
                      if h["stage"] == stage and name in h]
            if points:
                x, v = zip(*points, strict=True)
                ax.plot(x, v, marker="." if len(x) < 30 else None, color=f"C{colour}",
                        label=stage)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.supxlabel("epoch (all stages)", fontsize=8)
    fig.tight_layout()
    return fig


def map_figure(xy: np.ndarray, colourings: dict[str, np.ndarray]) -> Any:
    """A 2-D map of the embedding, one panel per colouring (clusters, classes)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(colourings), figsize=(4.6 * len(colourings), 4.4),
                             squeeze=False)
    for ax, (title, c) in zip(axes[0], colourings.items(), strict=True):
        ax.scatter(xy[:, 0], xy[:, 1], c=c, cmap="tab10" if c.max() < 10 else "tab20", s=3,
                   linewidths=0)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def eigenvalues_figure(eigenvalues: np.ndarray, k: int) -> Any:
    """The smallest eigenvalues of the normalised Laplacian, the estimated K marked at the
    largest gap (``graph.eigengap_clusters``)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 2.8))
    ax.plot(range(1, len(eigenvalues) + 1), eigenvalues, marker="o", ms=3, color="#4878a8")
    ax.axvline(k + 0.5, color="C3", ls="--", label=f"largest gap: K = {k}")
    ax.set_xlabel("index")
    ax.set_ylabel("eigenvalue")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def scale_figure(runs: dict[str, list[tuple[int, float, float]]]) -> Any:
    """Fit time and peak memory against the number of samples, log-log, one line per method
    (``runs``: method → (samples, seconds, peak MB) in order of size)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.2))
    for colour, (method, points) in enumerate(runs.items()):
        n, seconds, mb = zip(*points, strict=True)
        axes[0].plot(n, seconds, marker="o", color=f"C{colour}", label=method)
        axes[1].plot(n, mb, marker="o", color=f"C{colour}", label=method)
    for ax, title in zip(axes, ("fit time (s)", "peak memory (MB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("samples", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
