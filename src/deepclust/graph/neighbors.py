"""One neighbour graph over the whole data set, in memory linear in the number of samples:
exact neighbours for small data, approximate ones (pynndescent) above a size, the self-tuning
local scales, its sparse kNN affinity and t-SNE similarities (whole, or the block of a batch),
its spectral embedding and eigengap, and batches that hold each point's neighbours."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import LinearOperator, eigsh, lobpcg
from sklearn.cluster import KMeans
from torch import Tensor

from .affinity import perplexity_rows

EXACT_MAX_SAMPLES = 50_000  # ours: above this "auto" takes approximate neighbours if it can
AUTO_K_NEIGHBORS, AUTO_K_SCALE = 10, 7  # self_tuning_affinity's graph (see there)
WORKING_MB = 64  # ours: scikit-learn's chunk of distances (its default: 1 GB)


@dataclass(frozen=True)
class NeighborGraph:
    """The ``k`` nearest other samples of each of ``n``: ``indices`` (n, k) int64 and their
    Euclidean ``distances`` (n, k) float32, nearest first; ``exact`` says how they were found.
    Memory: 12·n·k bytes."""

    indices: np.ndarray
    distances: np.ndarray
    exact: bool

    @property
    def n_neighbors(self) -> int:
        return self.indices.shape[1]

    def scales(self, nbr: int) -> np.ndarray:
        """σ_i, the distance from each sample to its ``nbr``-th nearest other sample (the
        self-tuning width of Zelnik-Manor & Perona), floored at a tiny positive value so
        duplicates keep a usable width."""
        sigma = self.distances[:, min(nbr, self.n_neighbors) - 1]
        return np.maximum(sigma, max(float(sigma.max()), 1e-12) * 1e-6)


def neighbor_graph(Z: np.ndarray | Tensor, n_neighbors: int, *, method: str = "auto",
                   random_state: int = 0) -> NeighborGraph:
    """The ``n_neighbors`` nearest other rows of ``Z`` (n, d) for every row.

    ``method``: ``"exact"`` (scikit-learn's ``NearestNeighbors``, which works in chunks: no
    n×n matrix), ``"approx"`` (pynndescent's NN-descent, ``pip install pynndescent``; it comes
    with ``deepclust[n2d]``), or ``"auto"``: exact up to 50,000 samples, approximate above
    when pynndescent is installed, else exact.
    """
    Z = Z.detach().cpu().numpy() if isinstance(Z, Tensor) else np.asarray(Z)
    Z = np.ascontiguousarray(Z.reshape(len(Z), -1), dtype=np.float32)
    n = len(Z)
    if method not in ("auto", "exact", "approx"):
        raise ValueError(f"method must be 'auto', 'exact' or 'approx', got {method!r}.")
    if n < 2 or n_neighbors < 1:
        raise ValueError(f"need at least 2 samples and n_neighbors >= 1, got {n} and "
                         f"{n_neighbors}.")
    k = min(n_neighbors, n - 1)
    if method == "auto":
        method = "approx" if n > EXACT_MAX_SAMPLES and _has_pynndescent() else "exact"
    if method == "approx":
        if not _has_pynndescent():
            raise ImportError("approximate neighbours need pynndescent: "
                              "pip install pynndescent (or deepclust[n2d]).")
        from pynndescent import NNDescent

        index = NNDescent(Z, n_neighbors=k + 1, random_state=random_state, n_jobs=1)
        idx, dist = index.neighbor_graph
    else:
        from sklearn import config_context
        from sklearn.neighbors import NearestNeighbors

        with config_context(working_memory=WORKING_MB):  # chunks of brute-force distances
            dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z)
    idx, dist = _drop_self(idx, dist)
    return NeighborGraph(idx.astype(np.int64), dist.astype(np.float32), method == "exact")


def _has_pynndescent() -> bool:
    try:
        import pynndescent  # noqa: F401
    except ImportError:
        return False
    return True


def _drop_self(idx: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index from k + 1 found neighbours (it is not always first when
    there are duplicates), keeping k."""
    own = idx == np.arange(len(idx))[:, None]
    own[~own.any(1), -1] = True  # rows whose own index was not returned: drop the farthest
    keep = ~own
    k = idx.shape[1] - 1
    return idx[keep].reshape(-1, k), dist[keep].reshape(-1, k)


def sparse_affinity(graph: NeighborGraph, sigma: np.ndarray) -> sp.csr_matrix:
    """The symmetric kNN affinity of the whole data set as a sparse (n, n) matrix with at most
    2·n·k non-zeros: ``W_ij = exp(-d_ij² / (2 σ_i σ_j))`` where ``j`` is one of ``i``'s graph
    neighbours, then ``(W + Wᵀ) / 2`` (as ``knn_affinity`` on a batch); the diagonal is 0."""
    n, k = graph.indices.shape
    rows, cols = np.repeat(np.arange(n), k), graph.indices.ravel()
    w = np.exp(-graph.distances.ravel().astype(np.float64) ** 2 / (2 * sigma[rows] * sigma[cols]))
    W = sp.csr_matrix((w, (rows, cols)), shape=(n, n))
    return ((W + W.T) / 2).tocsr()


def perplexity_affinity(graph: NeighborGraph, perplexity: float, chunk: int = 65_536
                        ) -> sp.csr_matrix:
    """t-SNE's joint similarities of the whole data set on its neighbour graph, as Barnes-Hut
    t-SNE computes them (van der Maaten, JMLR 2014): each sample's Gaussian over its graph
    neighbours calibrated to ``perplexity`` (at most the number of neighbours), then
    ``P = (P_j|i + P_i|j) / 2n``, a sparse symmetric (n, n) matrix summing to 1 with at most
    2·n·k non-zeros, built ``chunk`` rows at a time."""
    n, k = graph.indices.shape
    target = min(perplexity, k)
    cond = np.concatenate([
        perplexity_rows(torch.from_numpy(graph.distances[i:i + chunk]).pow(2), target).numpy()
        for i in range(0, n, chunk)])
    P = sp.csr_matrix((cond.ravel(), (np.repeat(np.arange(n), k), graph.indices.ravel())),
                      shape=(n, n))
    return ((P + P.T) / (2 * n)).tocsr()


def batch_affinity(W: sp.csr_matrix, batch: np.ndarray) -> Tensor:
    """The rows and columns ``batch`` of the global affinity ``W``, dense (B, B) float32."""
    return torch.from_numpy(W[batch][:, batch].toarray().astype(np.float32))


def spectral_embedding(W: sp.csr_matrix, n_components: int, random_state: int = 0
                       ) -> np.ndarray:
    """The top ``n_components`` eigenvectors V of ``D^-1/2 W D^-1/2`` (Ng, Jordan & Weiss
    2002; Lanczos, scipy's ``eigsh``, from a seeded start: the same vectors every run),
    largest eigenvalue first, scaled so that ``Vᵀ V = n I`` like the spectral network's
    orthonormal output. Memory linear in n: only ``W``'s non-zeros and V.

    A graph in c separate pieces (1 < c ≤ ``n_components``) has the eigenvalue 1 c times, and
    Lanczos from one start returned it fewer times (240 points in 3 blobs: twice, so k-means
    on V found 0.85 ACC): those c vectors are set exactly (D^1/2 times each piece's indicator)
    and Lanczos finds the rest with them projected out. LOBPCG, which finds repeated
    eigenvalues, gave worse vectors on MNIST-test's graph (DSCDAN seed 0: 0.830 ACC against
    0.962)."""
    n = W.shape[0]
    if not 0 < n_components < n - 1:
        raise ValueError(f"need 0 < n_components < n - 1, got {n_components} for n = {n}.")
    M = _normalized(W)
    start = np.random.default_rng(random_state).uniform(-1, 1, n)
    pieces, piece = connected_components(W, directed=False)
    if not 1 < pieces <= n_components:
        values, vectors = eigsh(M, k=n_components, which="LA", v0=start)
        return (vectors[:, np.argsort(-values)] * math.sqrt(n)).astype(np.float32)
    root_degree = np.sqrt(np.asarray(W.sum(1)).ravel())
    U = np.zeros((n, pieces))
    U[np.arange(n), piece] = root_degree
    U /= np.linalg.norm(U, axis=0)
    if pieces == n_components:
        return (U * math.sqrt(n)).astype(np.float32)
    deflated = LinearOperator((n, n), matvec=lambda v: M @ v - U @ (U.T @ v), dtype=np.float64)
    values, vectors = eigsh(deflated, k=n_components - pieces, which="LA", v0=start)
    V = np.hstack([U, vectors[:, np.argsort(-values)]])
    return (V * math.sqrt(n)).astype(np.float32)


def _normalized(W: sp.csr_matrix) -> sp.csr_matrix:
    """``D^-1/2 W D^-1/2``, D the degrees of W."""
    d = 1 / np.sqrt(np.maximum(np.asarray(W.sum(1)).ravel(), 1e-12))
    return sp.diags(d) @ W @ sp.diags(d)


def eigengap_clusters(W: sp.csr_matrix, k_max: int, random_state: int = 0
                      ) -> tuple[int, np.ndarray]:
    """The number of clusters by the eigengap heuristic (von Luxburg, "A tutorial on spectral
    clustering", 2007, §8.3): the K in 2..``k_max`` after which the gap between consecutive
    smallest eigenvalues of the normalised Laplacian ``I - D^-1/2 W D^-1/2`` is largest.
    Returns K and the ``k_max + 1`` smallest eigenvalues, ascending. It finds K when the
    clusters are nearly disconnected in the graph, and fails (too few, or a spurious larger
    K) when classes overlap so much that no gap stands out.

    The eigenvalues come from LOBPCG, a block solver, from a seeded random block: nearly
    disconnected clusters make the smallest eigenvalue (nearly) K-fold, and single-vector
    Lanczos (``eigsh``) was seen to return it fewer times (6 of 10 blobs)."""
    n = W.shape[0]
    if not 2 <= k_max < n - 2:
        raise ValueError(f"need 2 <= k_max < n - 2, got k_max = {k_max} for n = {n}.")
    block = np.random.default_rng(random_state).normal(size=(n, k_max + 1))
    with warnings.catch_warnings():  # not converged to tol is still accurate enough here
        warnings.simplefilter("ignore", UserWarning)
        values, _ = lobpcg(_normalized(W), block, largest=True, tol=1e-8, maxiter=500)
    laplacian = np.sort(np.clip(1 - values, 0, 2))
    return int(np.argmax(np.diff(laplacian)[1:])) + 2, laplacian


def estimate_n_clusters(Z: np.ndarray | Tensor, k_max: int, random_state: int = 0
                        ) -> tuple[int, np.ndarray]:
    """K for data whose number of clusters is unknown: the eigengap (``eigengap_clusters``)
    of the self-tuning affinity of ``Z``'s 10-nearest-neighbour graph, σ_i the distance to
    the 7th neighbour (Zelnik-Manor & Perona's choice for estimating K, NIPS 2004). Returns
    K and the eigenvalues."""
    return eigengap_clusters(self_tuning_affinity(Z, random_state), k_max, random_state)


def self_tuning_affinity(Z: np.ndarray | Tensor, random_state: int = 0) -> sp.csr_matrix:
    """The sparse affinity of ``Z``'s 10-nearest-neighbour graph with self-tuning scales, σ_i
    the distance to the 7th neighbour (Zelnik-Manor & Perona, NIPS 2004)."""
    graph = neighbor_graph(Z, AUTO_K_NEIGHBORS, random_state=random_state)
    return sparse_affinity(graph, graph.scales(AUTO_K_SCALE))


def spectral_clusters(W: sp.csr_matrix, n_clusters: int, n_init: int = 10,
                      random_state: int = 0) -> np.ndarray:
    """Spectral clustering on the sparse affinity ``W`` of one neighbour graph of all the
    samples (e.g. ``self_tuning_affinity``; Ng, Jordan & Weiss 2002): k-means with ``n_init``
    starts on the row-normalised leading ``n_clusters`` eigenvectors. Memory linear in n. A
    cluster that the graph holds together stays one even when it lies in two clumps, which
    k-means on the samples themselves splits."""
    V = spectral_embedding(W, n_clusters, random_state)
    V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
    return KMeans(n_clusters, n_init=n_init, random_state=random_state).fit_predict(V)


def normalized_cut(W: sp.csr_matrix, labels: np.ndarray) -> float:
    """Shi & Malik's normalised cut of a partition on the affinity ``W``:
    ``Σ_k cut(A_k, Ā_k) / vol(A_k)``, the objective spectral clustering relaxes (lower is
    better; 0 for clusters with no edges between them). Linear in W's non-zeros."""
    k = int(labels.max()) + 1
    H = sp.csr_matrix((np.ones(len(labels)), (np.arange(len(labels)), labels)),
                      shape=(len(labels), k))
    within = (H.T @ W @ H).diagonal()
    volume = H.T @ np.asarray(W.sum(1)).ravel()
    return float(np.sum((volume - within)[volume > 0] / volume[volume > 0]))


def neighbor_batches(graph: NeighborGraph, batch_size: int, per_anchor: int,
                     rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of batches in which points arrive with their neighbours: the samples in a
    shuffled order as anchors, each batch ``batch_size // (1 + per_anchor)`` anchors and the
    ``per_anchor`` nearest neighbours of each (duplicates removed), ``ceil(n / batch_size)``
    batches in all, so that an epoch costs what a plain one does. In a random batch of 1,024
    from 10,000 points a point's 3 "nearest" are mostly strangers; here its own are there."""
    n = len(graph.indices)
    per_anchor = min(per_anchor, graph.n_neighbors)
    n_batches = math.ceil(n / batch_size)
    anchors = min(n, n_batches * max(1, batch_size // (1 + per_anchor)))
    return [np.unique(np.concatenate([a, graph.indices[a, :per_anchor].ravel()]))
            for a in np.array_split(rng.permutation(n)[:anchors], n_batches)]
