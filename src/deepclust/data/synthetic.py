"""Feature-vector benchmark sets, made on the spot from a fixed generator seed or bundled with
scikit-learn (no files).

``topics``: tf-idf vectors of documents drawn from a topic model; ``blobs``: anisotropic,
unbalanced Gaussian clusters in many dimensions; ``wine``, ``iris`` and ``breast-cancer``:
scikit-learn's wine measurements, iris flowers and breast tumour cell nuclei.
Each reader returns float32 in [0, 1] and int64 labels; the same call gives the same arrays
on every machine (NumPy's PCG64 stream).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

GENERATOR_SEED = 0  # the seed every synthetic set is drawn with (recorded in BENCHMARKS.md)
BLOBS_CHUNK = 50_000  # rows of make_blobs drawn at a time (the same stream as all at once)


def make_topics(n_samples: int = 6000, n_topics: int = 20, n_terms: int = 2000,
                doc_length: int = 50, topic_share: float = 0.2,
                seed: int = GENERATOR_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Documents of a topic model as tf-idf vectors: each topic is a sparse Dirichlet(0.05)
    distribution over ``n_terms`` terms; a document of Poisson(``doc_length``) words takes
    each word from its topic with probability ``topic_share`` and otherwise from a shared
    background distribution (Zipf-like). Topic sizes are unbalanced (Dirichlet(5) shares).
    Term counts → tf-idf (smooth idf, l2-normalised rows) → divided by the largest value."""
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(seed)
    topics = rng.dirichlet(np.full(n_terms, 0.05), n_topics)
    background = 1.0 / np.arange(1, n_terms + 1) ** 1.1
    background = rng.permutation(background / background.sum())
    y = rng.choice(n_topics, n_samples, p=rng.dirichlet(np.full(n_topics, 5.0)))
    lengths = np.maximum(rng.poisson(doc_length, n_samples), 5)
    n_topic_words = rng.binomial(lengths, topic_share)
    counts = np.stack([
        rng.multinomial(k, topics[t]) + rng.multinomial(n - k, background)
        for t, n, k in zip(y, lengths, n_topic_words, strict=True)])
    X = TfidfTransformer().fit_transform(counts).toarray()
    return (X / X.max()).astype(np.float32), y.astype(np.int64)


def make_blobs(n_samples: int = 6000, n_clusters: int = 30, n_features: int = 200,
               intrinsic_dim: int = 20, seed: int = GENERATOR_SEED
               ) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters of unbalanced sizes (Dirichlet(2) shares) living in a random
    ``intrinsic_dim``-dimensional subspace of ``n_features`` dimensions, each with its own
    random covariance (anisotropic: axis scales 0.2-1.5), centres N(0, 2.5²); plus isotropic
    noise of 0.1 in every dimension. Min-max scaled to [0, 1] with one global min and max."""
    rng = np.random.default_rng(seed)
    y = rng.choice(n_clusters, n_samples, p=rng.dirichlet(np.full(n_clusters, 2.0)))
    centres = rng.normal(0, 2.5, (n_clusters, intrinsic_dim))
    shapes = rng.normal(size=(n_clusters, intrinsic_dim, intrinsic_dim))
    shapes *= rng.uniform(0.2, 1.5, (n_clusters, 1, intrinsic_dim)) / np.sqrt(intrinsic_dim)
    noise = rng.normal(size=(n_samples, intrinsic_dim))
    basis = np.linalg.qr(rng.normal(size=(n_features, intrinsic_dim)))[0]
    start = rng.bit_generator.state

    def chunks():  # the samples in blocks of BLOBS_CHUNK rows, float64 (memory: one block)
        rng.bit_generator.state = start
        for i in range(0, n_samples, BLOBS_CHUNK):
            rows = slice(i, i + BLOBS_CHUNK)
            latent = centres[y[rows]] + np.einsum("nd,nde->ne", noise[rows], shapes[y[rows]])
            yield rows, latent @ basis.T + rng.normal(0, 0.1, (len(latent), n_features))

    blocks = [(block.min(), block.max()) for _, block in chunks()]
    lo, hi = min(b[0] for b in blocks), max(b[1] for b in blocks)
    X = np.empty((n_samples, n_features), np.float32)
    for rows, block in chunks():  # the same stream again, min-max scaled with one global scale
        X[rows] = (block - lo) / (hi - lo)
    return X, y.astype(np.int64)


def _read_topics(paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    return make_topics()


def _read_blobs(paths: Sequence[Path], n_samples: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    return make_blobs(n_samples)


def _read_sklearn(paths: Sequence[Path], name: str) -> tuple[np.ndarray, np.ndarray]:
    """A data set bundled with scikit-learn (``sklearn.datasets.load_<name>``), each feature
    min-max scaled (wine's features have units from 0.1 to 1,000, so one global scale would
    keep only proline)."""
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = (X - X.min(0)) / (X.max(0) - X.min(0))
    return X.astype(np.float32), y.astype(np.int64)
