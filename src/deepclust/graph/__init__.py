"""Graph machinery of spectral clustering: distances, kNN affinities of a batch or of one
neighbour graph over the whole data set, orthonormalisation."""

from .affinity import knn_affinity, median_scale, pairwise_sq_dists, perplexity_rows
from .neighbors import (
    NeighborGraph,
    batch_affinity,
    eigengap_clusters,
    estimate_n_clusters,
    neighbor_batches,
    neighbor_graph,
    normalized_cut,
    perplexity_affinity,
    self_tuning_affinity,
    sparse_affinity,
    spectral_clusters,
    spectral_embedding,
)
from .orthonorm import orthonorm_weights

__all__ = ["NeighborGraph", "batch_affinity", "eigengap_clusters", "estimate_n_clusters",
           "knn_affinity",
           "median_scale", "neighbor_batches", "neighbor_graph", "normalized_cut",
           "orthonorm_weights", "pairwise_sq_dists", "perplexity_affinity", "perplexity_rows",
           "self_tuning_affinity", "sparse_affinity", "spectral_clusters", "spectral_embedding"]
