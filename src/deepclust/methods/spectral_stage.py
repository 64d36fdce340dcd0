"""The SpectralNet stage DSCDAN and the SpectralNet baseline share: a spectral network trained
on cached codes, with the spectral loss on a kNN graph per batch (paper) or on the eigenvectors
of one neighbour graph over the whole data set (ours)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor

from .._shards import batch_indices, gather
from ..exceptions import DeepclustError
from ..graph import (
    NeighborGraph,
    batch_affinity,
    knn_affinity,
    neighbor_batches,
    neighbor_graph,
    normalized_cut,
    sparse_affinity,
    spectral_embedding,
)
from ..losses import spectral_loss
from ..nets import SpectralHead

IMAGE_EIGENVECTORS_PER_CLUSTER = 2  # ours: spectral_dim="auto" (DSCDAN's docstring)
SOLVERS = ("exact", "neighbors", "batch")
NCUT_STARTS = 5  # ours: k-means starts per candidate count of eigenvectors
TANH_RANGE = 0.9  # ours: the eigenvector targets fill tanh's near-linear range


def eigenvector_loss(y_tilde: Tensor, target: Tensor) -> Tensor:
    """The "exact" solver's term: mean squared error of Ỹ to the eigenvector targets."""
    return F.mse_loss(y_tilde, target)


def tanh_target(V: np.ndarray) -> np.ndarray:
    """Eigenvectors as targets for the spectral network's tanh output: one factor for all so
    that 99.9 % of the entries lie within ±0.9 (the rest clipped at ±0.99). One factor keeps
    the columns' span and their orthogonality, which is all k-means on Y depends on."""
    scale = TANH_RANGE / max(float(np.quantile(np.abs(V), 0.999)), 1e-12)
    return np.clip(V * scale, -0.99, 0.99).astype(np.float32)


class SpectralStageMixin:
    """For a ``DeepClusterer`` with ``n_neighbors``, ``affinity_scale`` (both resolved in
    ``auto_params``), ``spectral_solver``, ``spectral_dim``, ``normalize_rows``,
    ``spectral_hidden``, ``spectral_epochs``, ``spectral_batch_size`` and ``lr``; the network
    is ``head_``. How it learns the eigenvectors (``spectral_solver``):

    - ``"batch"`` (paper, SpectralNet): the spectral loss on the kNN graph of each random
      batch, orthonormalised per batch.
    - ``"neighbors"`` (ours): the same loss on batches that hold each anchor's
      ``n_neighbors`` neighbours (``graph.neighbor_batches``), with the edges of one
      ``graph.neighbor_graph`` of all the codes and σ per point from the whole data set.
    - ``"exact"`` (ours): the top ``spectral_dim_`` eigenvectors of that global graph's
      normalised affinity (``graph.spectral_embedding``, Lanczos), which the network learns by
      squared error; it then embeds new samples as before (the out-of-sample extension).
    """

    def _affinity(self, z: Tensor) -> Tensor:
        """The kNN Gaussian affinity W of a batch of codes (no gradient into the codes)."""
        return knn_affinity(z.detach(), self.n_neighbors_, self.affinity_scale_)

    def _check_graph_params(self) -> None:
        self._check_choices({"spectral_solver": ("auto", *SOLVERS)})
        m = self.spectral_dim
        if m not in ("auto", "n_clusters") and (isinstance(m, str) or m < (self.n_clusters_ or 2)):
            raise DeepclustError(f"spectral_dim must be 'auto', 'n_clusters' or an integer >= "
                                 f"n_clusters={self.n_clusters_}, got {m!r}.")
        if self.n_neighbors != "auto" and (isinstance(self.n_neighbors, str)
                                           or self.n_neighbors < 1):
            raise DeepclustError(f"n_neighbors must be 'auto' or >= 1, got {self.n_neighbors!r}.")
        scale = self.affinity_scale
        if scale not in (None, "auto", "local") and (isinstance(scale, str) or not scale > 0):
            raise DeepclustError(
                f"affinity_scale must be None, 'auto', 'local' or > 0, got {scale!r}.")

    def _clusters_from_codes(self, X_t: Tensor, rng: np.random.Generator) -> None:
        """``n_clusters="auto"``: K estimated on the codes after pretraining, and the spectral
        network built for it."""
        estimated = self._resolve_clusters(lambda: self._encode(X_t), rng)
        if estimated and getattr(self, "spectral", True):  # DSCDAN's presets may have none
            latent_dim = getattr(self, "latent_dim_", self.latent_dim)  # DSCDAN's is resolved
            self.head_ = self._spectral_head(latent_dim).to(self.device_)

    def _spectral_head(self, latent_dim: int) -> SpectralHead:
        """The spectral network, with ``spectral_dim_`` outputs: ``spectral_dim`` itself,
        K for ``"n_clusters"`` (paper, SpectralNet), and for ``"auto"`` (ours) 2K with the
        "exact" solver on images (``n_eigenvectors_`` then picks how many k-means uses), else
        K (DSCDAN's docstring); always K for DSCDAN's ``assign="argmax"``."""
        m, k = self.spectral_dim, self.n_clusters_
        argmax = getattr(self, "assign", "kmeans") == "argmax"  # DSCDAN: labels from p(y|x)
        if m == "auto":
            exact_images = self.scaling_ == "unit" and self.spectral_solver_ == "exact"
            m = math.ceil(IMAGE_EIGENVECTORS_PER_CLUSTER * k) if exact_images and not argmax else k
        if argmax and m not in (k, "n_clusters"):
            raise DeepclustError(f"assign='argmax' takes one cluster per output of the spectral "
                                 f"network; spectral_dim={m!r} must be {k} or 'n_clusters'.")
        self.spectral_dim_ = k if m == "n_clusters" else int(m)
        if self.spectral_dim_ < k:  # an estimated K above the given spectral_dim
            raise DeepclustError(f"spectral_dim={m} is below the {k} clusters estimated; "
                                 "leave spectral_dim at 'auto' with n_clusters='auto'.")
        return SpectralHead(latent_dim, self.spectral_dim_, tuple(self.spectral_hidden))

    def _spectral_stage(self, X_t: Tensor, rng: np.random.Generator, resume: bool,
                        watch: Any) -> tuple[sp.csr_matrix | None, Tensor | None]:
        """The stage ``spectral``: no image passes the encoder, the codes are computed once.
        Returns the global affinity (None for ``"batch"``) and, for ``"exact"``, the
        eigenvector targets of every sample."""
        codes = self._encode(X_t)
        opt = torch.optim.Adam(self.head_.parameters(), lr=self.lr)
        batches, W, target = None, None, None
        if self.spectral_solver_ == "exact" and len(X_t) < self.spectral_dim_ + 2:
            if self.spectral_solver != "auto":
                raise DeepclustError(
                    f"spectral_solver='exact' finds {self.spectral_dim_} eigenvectors and needs "
                    f"at least {self.spectral_dim_ + 2} samples, got {len(X_t)}; use "
                    "spectral_solver='batch' or a smaller spectral_dim.")
            self.spectral_solver_ = "batch"  # ours: too few samples, the paper's solver
        if self.spectral_solver_ == "batch":
            def terms(idx: np.ndarray) -> dict[str, Tensor]:
                return self._spectral_terms(codes[idx], self._affinity(gather(codes[idx])))
        else:
            seed = int(rng.integers(2**31 - 1))
            with self._measured("graph"):
                graph = neighbor_graph(codes, self.n_neighbors_, random_state=seed)
                W = sparse_affinity(graph, self._global_scales(graph))
                if self.spectral_solver_ == "exact":
                    target = torch.from_numpy(tanh_target(spectral_embedding(
                        W, self.spectral_dim_, seed))).to(codes.device)
            if self.spectral_solver_ == "neighbors":
                def batches(r: np.random.Generator) -> list[np.ndarray]:
                    return neighbor_batches(graph, self.spectral_batch_size, self.n_neighbors_, r)

                def terms(idx: np.ndarray) -> dict[str, Tensor]:
                    W_b = batch_affinity(W, batch_indices(idx)).to(codes.device)  # torchrun
                    return self._spectral_terms(codes[idx], W_b)
            else:
                def terms(idx: np.ndarray) -> dict[str, Tensor]:
                    return self._eigenvector_terms(codes[idx], target[idx])
        self._stage("spectral", self.spectral_epochs, len(X_t), self.spectral_batch_size, rng,
                    resume, {"head": self.head_, "opt": opt}, terms, watch, self._head_out,
                    batches=batches)
        return W, target

    def _global_scales(self, graph: NeighborGraph) -> np.ndarray:
        """σ_i of every sample for the global graph: its ``n_neighbors``-th neighbour's
        distance ("local"), the median nearest-neighbour distance (None), or the given σ."""
        n = len(graph.indices)
        if self.affinity_scale_ == "local":
            return graph.scales(self.n_neighbors_)
        if self.affinity_scale_ is None:
            return np.full(n, float(np.median(graph.scales(1))), np.float32)
        return np.full(n, float(self.affinity_scale_), np.float32)

    def _spectral_terms(self, z: Tensor, W: Tensor) -> dict[str, Tensor]:
        self.head_.train()
        y = gather(self.head_(z, ortho_weights="batch").y)  # torchrun: the global batch's rows
        loss = spectral_loss(W, y)  # Σ W_ij ||y_i - y_j||²
        return {"loss": loss, "spectral": loss}

    def _eigenvector_terms(self, z: Tensor, target: Tensor) -> dict[str, Tensor]:
        """The "exact" solver: Ỹ learns the graph's eigenvectors by squared error."""
        self.head_.train()
        loss = eigenvector_loss(self.head_(z).y_tilde, target)
        return {"loss": loss, "eigenvectors": loss}

    def _spectral_embedding(self, codes: Tensor) -> Tensor:
        """The embedding k-means clusters: the first ``n_eigenvectors_`` columns of the
        orthonormal output Y of the codes (``_leading``)."""
        return self._leading(self.head_.embed(codes).y, self.n_eigenvectors_)

    def _leading(self, y: Tensor, m: int) -> Tensor:
        """Y's first ``m`` columns, each row scaled to unit length when ``normalize_rows``
        (the last step of Ng, Jordan & Weiss, NIPS 2002: rows of an approximate eigenvector
        matrix vary in length with the degree of their point; on the unit sphere the clusters
        become directions)."""
        y = y[:, :m]
        return F.normalize(y, dim=1) if self.normalize_rows else y

    def _head_out(self, z: Tensor) -> Tensor:
        """Ỹ, the spectral network's output before orthonormalisation."""
        return self.head_(z).y_tilde

    @torch.no_grad()
    def _store_ortho_weights(self, X_t: Tensor, W: sp.csr_matrix | None,
                             rng: np.random.Generator) -> None:
        """W_o from the whole data set, so that Yᵀ Y / n = I on it and ``predict`` embeds new
        samples with the same map; then ``n_eigenvectors_``, how many of Y's columns k-means
        clusters: all of them, or with the global affinity ``W`` each count from K to
        ``spectral_dim_`` in turn, keeping the one whose k-means partition has the lowest
        normalised cut on ``W`` (ours: the objective spectral clustering relaxes, no labels
        needed). The orthonormalisation is a Cholesky (Gram-Schmidt) step, so Y's first m
        columns span the network's first m outputs, the graph's m leading eigenvectors."""
        self.head_.eval()
        codes = self._encode(X_t)
        self.head_.update_ortho_weights(codes)
        self.n_eigenvectors_, self.normalized_cuts_ = self.spectral_dim_, {}
        if W is None or self.spectral_dim_ == self.n_clusters_:
            return
        seed = int(rng.integers(2**31 - 1))
        y = self.head_.embed(codes).y  # once; each candidate count takes its leading columns
        for m in range(self.n_clusters_, self.spectral_dim_ + 1):
            Y = self._leading(y, m).cpu().numpy()
            labels = self._kmeans(Y, seed, NCUT_STARTS).labels_
            self.normalized_cuts_[m] = normalized_cut(W, labels)
        self.n_eigenvectors_ = min(self.normalized_cuts_, key=self.normalized_cuts_.get)
