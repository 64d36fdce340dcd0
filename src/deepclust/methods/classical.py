"""The classical baselines of the DSCDAN paper's Table 3: k-means and spectral clustering."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn import cluster
from sklearn.metrics import euclidean_distances, pairwise_distances_argmin
from sklearn.neighbors import KNeighborsClassifier

from .base import BaseClusterer, EmbeddingMixin


def _flat(X: np.ndarray) -> np.ndarray:
    return X.reshape(len(X), -1)


def knn_vote(fit_X: np.ndarray, labels: np.ndarray, X: np.ndarray, n_neighbors: int) -> np.ndarray:
    """The majority label of each row of ``X`` among its ``n_neighbors`` nearest rows of
    ``fit_X``: ``predict`` for methods without an out-of-sample map."""
    knn = KNeighborsClassifier(min(n_neighbors, len(fit_X)))
    return knn.fit(fit_X, labels).predict(X).astype(np.int64)


class KMeans(EmbeddingMixin, BaseClusterer):
    """k-means on the raw features (scikit-learn's, k-means++ with ``n_init`` restarts).

    ``predict`` assigns each new sample to its nearest fitted centre.
    """

    _fitted_attrs: ClassVar[tuple[str, ...]] = ("labels_", "cluster_centers_")

    def __init__(self, n_clusters: int = 10, *, n_init: int = 10, random_state: int | None = 0,
                 verbose: int = 0) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init  # scikit-learn's classic default; the papers do not say
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, X, y, rng, *, resume):
        km = cluster.KMeans(self.n_clusters_, n_init=self.n_init,
                            random_state=int(rng.integers(2**31 - 1))).fit(_flat(X))
        self.labels_ = km.labels_.astype(np.int64)
        self.cluster_centers_ = km.cluster_centers_.astype(np.float32)

    def _predict(self, X):
        return pairwise_distances_argmin(_flat(X), self.cluster_centers_).astype(np.int64)

    def _transform(self, X):
        return euclidean_distances(_flat(X), self.cluster_centers_)


class SpectralClustering(BaseClusterer):
    """Spectral clustering (normalised cut) on a sparse symmetric kNN graph (SC-Ncut).

    scikit-learn's ``SpectralClustering(affinity="nearest_neighbors")``: no dense n x n
    matrix. Spectral clustering has no out-of-sample map, so ``predict`` gives each new
    sample the majority cluster of its ``n_neighbors`` nearest training samples.
    ``n_clusters="auto"``: K (at most ``k_max``, 20) from the eigengap of the neighbour graph
    of the input (``graph.estimate_n_clusters``); the estimate is ``n_clusters_``, the
    Laplacian's eigenvalues ``eigenvalues_``.
    """

    _fitted_attrs: ClassVar[tuple[str, ...]] = ("labels_", "fit_X_", "eigenvalues_")
    _has_embedding: ClassVar[bool] = False
    _estimates_clusters: ClassVar[bool] = True
    _extra_samples: ClassVar[int] = 1  # scipy's eigsh: K eigenvectors need more than K rows

    def __init__(self, n_clusters: int | str = 10, *, n_neighbors: int = 10, k_max: int = 20,
                 random_state: int | None = 0, verbose: int = 0) -> None:
        self.n_clusters = n_clusters
        self.k_max = k_max
        self.n_neighbors = n_neighbors  # scikit-learn's default graph size
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, X, y, rng, *, resume):
        self._resolve_clusters(lambda: _flat(X), rng)
        n_neighbors = min(self.n_neighbors, len(X) - 1)
        sc = cluster.SpectralClustering(
            self.n_clusters_, affinity="nearest_neighbors", n_neighbors=n_neighbors,
            assign_labels="kmeans", random_state=int(rng.integers(2**31 - 1)),
        )
        self.labels_ = sc.fit_predict(_flat(X)).astype(np.int64)
        self.fit_X_ = _flat(X)

    def _predict(self, X):
        return knn_vote(self.fit_X_, self.labels_, _flat(X), self.n_neighbors)
