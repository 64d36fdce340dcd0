"""Graph machinery of spectral clustering: distances, kNN affinities of a batch or of one
neighbour graph over the whole data set, orthonormalisation."""

from .affinity import knn_affinity, median_scale, pairwise_sq_dists
from .neighbors import (
    NeighborGraph,
    batch_affinity,
    neighbor_batches,
    neighbor_graph,
    normalized_cut,
    sparse_affinity,
    spectral_embedding,
)
from .orthonorm import orthonorm_weights

__all__ = ["NeighborGraph", "batch_affinity", "knn_affinity", "median_scale", "neighbor_batches",
           "neighbor_graph", "normalized_cut", "orthonorm_weights", "pairwise_sq_dists",
           "sparse_affinity", "spectral_embedding"]
