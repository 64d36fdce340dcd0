"""Graph machinery of spectral clustering: distances, kNN Gaussian affinity, orthonormalisation."""

from .affinity import knn_affinity, median_scale, pairwise_sq_dists
from .orthonorm import orthonorm_weights

__all__ = ["knn_affinity", "median_scale", "orthonorm_weights", "pairwise_sq_dists"]
