"""The SpectralNet stage DSCDAN and the SpectralNet baseline share: a spectral network trained
on cached codes (kNN Gaussian affinity per batch, orthonormalised output, spectral loss)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..exceptions import DeepclustError
from ..graph import knn_affinity
from ..losses import spectral_loss
from ..nets import SpectralHead


class SpectralStageMixin:
    """For a ``DeepClusterer`` with ``n_neighbors``, ``affinity_scale`` (both resolved in
    ``auto_params``), ``normalize_rows``, ``spectral_hidden``, ``spectral_epochs``,
    ``spectral_batch_size`` and ``lr``; the network is ``head_``."""

    def _affinity(self, z: Tensor) -> Tensor:
        """The kNN Gaussian affinity W of a batch of codes (no gradient into the codes)."""
        return knn_affinity(z.detach(), self.n_neighbors_, self.affinity_scale_)

    def _check_graph_params(self) -> None:
        if self.n_neighbors != "auto" and (isinstance(self.n_neighbors, str)
                                           or self.n_neighbors < 1):
            raise DeepclustError(f"n_neighbors must be 'auto' or >= 1, got {self.n_neighbors!r}.")
        scale = self.affinity_scale
        if scale not in (None, "auto", "local") and (isinstance(scale, str) or not scale > 0):
            raise DeepclustError(
                f"affinity_scale must be None, 'auto', 'local' or > 0, got {scale!r}.")

    def _spectral_head(self, latent_dim: int) -> SpectralHead:
        return SpectralHead(latent_dim, self.n_clusters_, tuple(self.spectral_hidden))

    def _spectral_stage(self, X_t: Tensor, rng: np.random.Generator, resume: bool,
                        watch: Any) -> None:
        """The stage ``spectral``: no image passes the encoder, the codes are computed once."""
        codes = self._encode(X_t)
        opt = torch.optim.Adam(self.head_.parameters(), lr=self.lr)
        self._stage("spectral", self.spectral_epochs, len(X_t), self.spectral_batch_size, rng,
                    resume, {"head": self.head_, "opt": opt},
                    lambda idx: self._spectral_step(codes[idx], opt), watch, self._head_out)

    def _spectral_step(self, z: Tensor, opt: torch.optim.Optimizer) -> dict[str, Tensor]:
        self.head_.train()
        W = self._affinity(z)  # Gaussian kNN graph
        loss = spectral_loss(W, self.head_(z, ortho_weights="batch").y)  # Σ W_ij ||y_i - y_j||²
        return self._step(opt, {"loss": loss, "spectral": loss})

    def _spectral_embedding(self, codes: Tensor) -> Tensor:
        """The embedding k-means clusters: the orthonormal output Y of the codes, each row
        scaled to unit length when ``normalize_rows`` (the last step of Ng, Jordan & Weiss,
        NIPS 2002: rows of an approximate eigenvector matrix vary in length with the degree
        of their point; on the unit sphere the clusters become directions)."""
        y = self.head_(codes).y
        return F.normalize(y, dim=1) if self.normalize_rows else y

    def _head_out(self, z: Tensor) -> Tensor:
        """Ỹ, the spectral network's output before orthonormalisation."""
        return self.head_(z).y_tilde

    def _store_ortho_weights(self, X_t: Tensor) -> None:
        """W_o from the whole data set, so that Yᵀ Y / n = I on it and ``predict`` embeds new
        samples with the same map."""
        self.head_.eval()
        self.head_.update_ortho_weights(self._encode(X_t))
