"""N2D (McConville et al., ICPR 2020): "(not too) deep" clustering — autoencoder codes, a UMAP
manifold of them, a Gaussian mixture on the manifold. Needs ``umap-learn``
(``pip install "deepclust[n2d]"``).

1. ``pretrain`` — the plain autoencoder (``AutoencoderClusterer``).
2. UMAP of the codes to K dimensions (n_neighbors 20, min_dist 0), then a full-covariance
   Gaussian mixture with K components; ``labels_`` are its components.

UMAP has no exact out-of-sample map, so ``predict`` gives a new sample the majority label of
its nearest training samples in code space (as :class:`SpectralClustering` does on pixels).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.mixture import GaussianMixture
from torch import Tensor

from ..exceptions import DeepclustError
from ..nets.mlp import DEC_HIDDEN
from .autoencoder import AutoencoderClusterer
from .classical import knn_vote
from .deep import DEEP_FITTED

PREDICT_NEIGHBORS = 10  # ours: the vote of ``predict``


class N2D(AutoencoderClusterer):
    """Autoencoder + UMAP + Gaussian mixture (N2D).

    Parameters
    ----------
    n_clusters : number of clusters K.
    latent_dim, architecture, scaling, mlp_hidden : the autoencoder, as :class:`DEC`
        (N2D: 10-dimensional codes of a d-500-500-2000 MLP).
    umap_dim : UMAP output dimensions (None = K, N2D). umap_neighbors: UMAP's n_neighbors (20,
        N2D on MNIST); min_dist 0 (N2D).
    pretrain_epochs : autoencoder epochs or ``"auto"`` (ours: about 2,000 batches; N2D trains
        1,000 epochs). batch_size: 256 (N2D). lr: Adam learning rate (1e-3).
    pretrain_cache, random_state, device, precision, verbose, checkpoint_dir : as
        :class:`DEC`. With a ``random_state`` UMAP runs seeded, hence single-threaded.
    """

    _fitted_attrs: ClassVar[tuple[str, ...]] = (*DEEP_FITTED, "fit_codes_")
    _extra_samples: ClassVar[int] = 2  # UMAP's spectral start: K + 1 eigenvectors, fewer than n

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        latent_dim: int = 10,
        architecture: str = "mlp",
        scaling: str = "auto",
        mlp_hidden: tuple[int, ...] = DEC_HIDDEN,
        umap_dim: int | None = None,
        umap_neighbors: int = 20,
        pretrain_epochs: int | str = "auto",
        batch_size: int = 256,
        lr: float = 1e-3,
        pretrain_cache: str | None = None,
        random_state: int | None = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: int = 1,
        checkpoint_dir: str | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.architecture = architecture
        self.scaling = scaling
        self.mlp_hidden = mlp_hidden
        self.umap_dim = umap_dim
        self.umap_neighbors = umap_neighbors
        self.pretrain_epochs = pretrain_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.pretrain_cache = pretrain_cache
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir

    def _fit(self, X, y, rng, *, resume):
        umap = _import_umap()
        X_t, watch = self._setup(X, y)
        self._pretrain(X_t, rng, resume, watch)
        codes = self._embed(X_t)
        with self._measured("graph"):  # UMAP: its neighbour graph and layout
            manifold = umap.UMAP(  # N2D: the manifold of the codes, K-dimensional
                n_components=self.umap_dim or self.n_clusters_, metric="euclidean",
                min_dist=0.0, n_neighbors=min(self.umap_neighbors, len(X) - 1),
                random_state=int(rng.integers(2**31 - 1)), n_jobs=1,  # seeded: one thread
                verbose=self.verbose > 1,
            ).fit_transform(codes)
        with self._measured("assign"):
            gmm = GaussianMixture(self.n_clusters_, covariance_type="full",  # N2D
                                  random_state=int(rng.integers(2**31 - 1)))
            self.labels_ = gmm.fit_predict(manifold).astype(np.int64)
        self.fit_codes_ = codes
        self.cluster_centers_ = np.stack([  # mean code of each component (empty ones: NaN-free 0)
            codes[self.labels_ == k].mean(0) if (self.labels_ == k).any()
            else np.zeros(codes.shape[1], np.float32) for k in range(self.n_clusters_)])
        self._end_fit(y)

    def _assign(self, X_t: Tensor, embedding: np.ndarray) -> np.ndarray:
        return knn_vote(self.fit_codes_, self.labels_, embedding, PREDICT_NEIGHBORS)

    def _check_params(self) -> None:
        super()._check_params()
        self._check_bound(1, "umap_neighbors")
        if self.umap_dim is not None and self.umap_dim < 1:
            raise DeepclustError(f"umap_dim must be None or >= 1, got {self.umap_dim}.")

    def _embed(self, X_t: Tensor) -> np.ndarray:
        return self._encode(X_t).cpu().numpy()


def _import_umap():
    try:
        import umap
    except ImportError as exc:
        raise DeepclustError(
            'N2D needs umap-learn: pip install "deepclust[n2d]" (or pip install umap-learn).'
        ) from exc
    return umap
