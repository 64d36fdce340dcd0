"""SpectralNet (Shaham et al., ICLR 2018) on autoencoder codes: the baseline DSCDAN builds on.

1. ``pretrain`` — the plain autoencoder (``AutoencoderClusterer``).
2. ``spectral`` — the spectral network on the cached codes (kNN Gaussian affinity, orthonormal
   output, spectral loss): the same stage as DSCDAN's (``SpectralStageMixin``).

Labels: k-means on the orthonormal embedding Y. SpectralNet's optional Siamese-network
affinity is not built: its paper's MNIST result uses the codes of an autoencoder with a
Euclidean kNN graph as here.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ..nets.mlp import DEC_HIDDEN
from ..nets.spectral import SPECTRAL_HIDDEN
from .autoencoder import AutoencoderClusterer
from .deep import DEEP_FITTED
from .spectral_stage import SpectralStageMixin


class SpectralNet(SpectralStageMixin, AutoencoderClusterer):
    """Spectral clustering with a network on autoencoder codes (SpectralNet).

    Parameters
    ----------
    n_clusters : number of clusters K, or ``"auto"``: K estimated from the eigengap of the
        neighbour graph of the codes after pretraining (``graph.estimate_n_clusters``), at
        most ``k_max``; the estimate is ``n_clusters_``, the Laplacian's eigenvalues
        ``eigenvalues_``.
    k_max : the largest K that ``n_clusters="auto"`` considers (20, ours).
    latent_dim, architecture, scaling, mlp_hidden : the autoencoder, as :class:`DEC`
        (10-dimensional codes of a d-500-500-2000 MLP, SpectralNet's MNIST setting).
    n_neighbors : kNN neighbours of the affinity (3, SpectralNet's MNIST setting).
    affinity_scale : Gaussian width σ; None = the median distance to the nearest other point
        in each batch (SpectralNet's ``scale_nbr`` rule).
    normalize_rows : k-means on the rows of Y scaled to unit length (False, SpectralNet: on
        Y itself; True is DSCDAN's default, see there).
    spectral_solver, spectral_dim : how the spectral network learns the eigenvectors and how
        many it outputs, as :class:`DSCDAN` (defaults "batch" and "n_clusters": SpectralNet's
        spectral loss on each batch's kNN graph, K outputs).
    spectral_hidden : hidden sizes of the spectral network (1024-1024-512, SpectralNet).
    pretrain_epochs, spectral_epochs : stage lengths in epochs or ``"auto"`` (ours: about
        2,000 autoencoder batches and 300 spectral batches whatever the data size).
    batch_size : autoencoder batch (256); spectral_batch_size: spectral batch (1024,
        SpectralNet). lr: Adam learning rate (1e-3, SpectralNet).
    pretrain_cache, random_state, device, precision, verbose, checkpoint_dir : as :class:`DEC`.
    """

    auto_batches: ClassVar[dict[str, int]] = {"pretrain": 2000, "spectral": 300}
    _estimates_clusters: ClassVar[bool] = True
    _fitted_attrs: ClassVar[tuple[str, ...]] = (*DEEP_FITTED, "head_", "n_neighbors_",
                                                "affinity_scale_", "spectral_solver_",
                                                "spectral_dim_", "n_eigenvectors_", "eigenvalues_")
    # the graph of SpectralNet's MNIST setting for every input ("auto" = these values)
    auto_params: ClassVar[dict[str, dict[str, Any]]] = {
        kind: {"n_neighbors": 3, "affinity_scale": None, "spectral_solver": "batch"}
        for kind in ("unit", "standard")}

    def __init__(
        self,
        n_clusters: int | str = 10,
        *,
        k_max: int = 20,
        latent_dim: int = 10,
        architecture: str = "mlp",
        scaling: str = "auto",
        mlp_hidden: tuple[int, ...] = DEC_HIDDEN,
        n_neighbors: int = 3,
        affinity_scale: float | None = None,
        spectral_solver: str = "batch",
        spectral_dim: int | str = "n_clusters",
        normalize_rows: bool = False,
        spectral_hidden: tuple[int, ...] = SPECTRAL_HIDDEN,
        pretrain_epochs: int | str = "auto",
        spectral_epochs: int | str = "auto",
        batch_size: int = 256,
        spectral_batch_size: int = 1024,
        lr: float = 1e-3,
        pretrain_cache: str | None = None,
        random_state: int | None = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: int = 1,
        checkpoint_dir: str | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.k_max = k_max
        self.latent_dim = latent_dim
        self.architecture = architecture
        self.scaling = scaling
        self.mlp_hidden = mlp_hidden
        self.n_neighbors = n_neighbors
        self.affinity_scale = affinity_scale
        self.spectral_solver = spectral_solver
        self.spectral_dim = spectral_dim
        self.normalize_rows = normalize_rows
        self.spectral_hidden = spectral_hidden
        self.pretrain_epochs = pretrain_epochs
        self.spectral_epochs = spectral_epochs
        self.batch_size = batch_size
        self.spectral_batch_size = spectral_batch_size
        self.lr = lr
        self.pretrain_cache = pretrain_cache
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir

    def _fit(self, X, y, rng, *, resume):
        X_t, watch = self._setup(X, y)
        self._pretrain(X_t, rng, resume, watch)
        self._clusters_from_codes(X_t, rng)
        W, _ = self._spectral_stage(X_t, rng, resume, watch)
        self._store_ortho_weights(X_t, W, rng)
        self._finish(X_t, y, rng, n_init=10)

    def _extra_modules(self) -> dict[str, nn.Module]:
        if self.n_clusters_ is None:  # built once K is estimated
            return {}
        return {"head_": self._spectral_head(self.latent_dim)}

    def _check_params(self) -> None:
        super()._check_params()
        self._check_bound(1, "spectral_batch_size")
        self._check_graph_params()

    @torch.no_grad()
    def _embed(self, X_t: Tensor) -> np.ndarray:
        return self._spectral_embedding(self._encode(X_t)).cpu().numpy()
