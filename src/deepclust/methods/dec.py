"""DEC (Xie et al., ICML 2016) and IDEC (Guo et al., IJCAI 2017): self-training on a pretrained
autoencoder's codes.

1. ``pretrain`` — the plain autoencoder (``AutoencoderClusterer``).
2. ``cluster`` — centres from k-means on the codes; then the encoder and the centres minimise
   KL(P || Q) between the Student-t soft assignment Q and the sharpened target P, recomputed
   on the whole data at the start of every epoch. IDEC keeps the reconstruction loss (γ = 0.1),
   so the codes cannot drift from the data.

Labels: the nearest centre, i.e. the argmax of Q.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ..losses import kl_self_training, reconstruction_loss, target_distribution
from ..nets import ClusteringLayer
from ..nets.mlp import DEC_HIDDEN
from .autoencoder import AutoencoderClusterer
from .base import with_defaults
from .deep import DEEP_FITTED


class DEC(AutoencoderClusterer):
    """Deep embedded clustering (DEC); with ``w_rec > 0`` it is IDEC (see :class:`IDEC`).

    Parameters
    ----------
    n_clusters : number of clusters K.
    latent_dim : code size (10, DEC/IDEC). architecture: ``"mlp"`` (DEC's d-500-500-2000-10),
        ``"conv"`` (DSCDAN's Table-2 convs) or ``"auto"`` (convs for images of at least 16×16).
        scaling: input scaling, as :class:`DSCDAN` (``"auto"``: images in [0, 1], feature
        vectors standardised with a linear decoder).
    mlp_hidden : hidden sizes of the MLP encoder, mirrored by the decoder (500-500-2000, DEC).
    alpha : degrees of freedom of the Student-t soft assignment (1, DEC).
    w_rec : weight γ of the reconstruction loss in the clustering stage (0 = DEC; 0.1, IDEC).
    n_init : k-means starts for the initial centres (20, DEC code).
    pretrain_epochs, cluster_epochs : stage lengths in epochs, or ``"auto"`` (ours, the CPU
        schedule: about 2,000 pretraining and 500 clustering batches whatever the data size;
        DEC/IDEC pretrain about 200 epochs and stop clustering when fewer than 0.1 % of the
        labels change between target updates — ours: a fixed length keeps runs comparable and
        resumable). The target P is recomputed every epoch (DEC/IDEC: every 140 batches of
        256, about half an epoch of MNIST).
    batch_size : 256 (DEC/IDEC). lr: Adam learning rate in both stages (1e-3, IDEC; DEC's
        SGD with momentum trains the same objective).
    pretrain_cache : directory where the pretrained autoencoder is stored and looked up (None
        = off): DEC, IDEC, SpectralNet and N2D with the same data, seed and autoencoder
        settings then pretrain once.
    random_state, device, precision, verbose, checkpoint_dir : as every deep estimator
        (``DeepClusterer``).
    """

    auto_batches: ClassVar[dict[str, int]] = {"pretrain": 2000, "cluster": 500}
    _fitted_attrs: ClassVar[tuple[str, ...]] = (*DEEP_FITTED, "clusterer_")

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        latent_dim: int = 10,
        architecture: str = "mlp",
        scaling: str = "auto",
        mlp_hidden: tuple[int, ...] = DEC_HIDDEN,
        alpha: float = 1.0,
        w_rec: float = 0.0,
        n_init: int = 20,
        pretrain_epochs: int | str = "auto",
        cluster_epochs: int | str = "auto",
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
        self.alpha = alpha
        self.w_rec = w_rec
        self.n_init = n_init
        self.pretrain_epochs = pretrain_epochs
        self.cluster_epochs = cluster_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.pretrain_cache = pretrain_cache
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir

    # --- the method: loss terms of one batch ------------------------------------------------
    def _terms(self, x: Tensor, p: Tensor) -> dict[str, Tensor]:
        z = self.encoder_(x).mu
        q = self.clusterer_(z)                              # Student-t soft assignment, Eq. 1
        t = {"kl": kl_self_training(p, q)}                  # KL(P || Q), Eq. 2
        if self.w_rec:                                      # IDEC: L = L_r + γ L_c
            t["rec"] = reconstruction_loss(x, self._decode(z))
        t["loss"] = t["kl"] + self.w_rec * t.get("rec", 0)
        return t

    # --- fitting ---------------------------------------------------------------------------
    def _fit(self, X, y, rng, *, resume):
        X_t, watch = self._setup(X, y)
        self._pretrain(X_t, rng, resume, watch)
        seed = int(rng.integers(2**31 - 1))
        km = self._kmeans(self._encode(X_t).cpu().numpy(), seed, self.n_init)
        with torch.no_grad():  # DEC §3.2: centres from k-means on the pretrained codes
            self.clusterer_.centres.copy_(torch.from_numpy(km.cluster_centers_))
        nets = {"encoder": self.encoder_, "clusterer": self.clusterer_}
        if self.w_rec:
            nets["decoder"] = self.decoder_
        opt = torch.optim.Adam([p for m in nets.values() for p in m.parameters()], lr=self.lr)
        steps_per_epoch, target = math.ceil(len(X) / self.batch_size), {}

        def terms(idx: np.ndarray) -> dict[str, Tensor]:
            if target.get("step", 0) % steps_per_epoch == 0:  # P from the current model
                target["p"] = target_distribution(self._soft_assignment(X_t))
            target["step"] = target.get("step", 0) + 1
            self._set_mode(train=True)
            return self._terms(X_t[idx].to(self.device_), target["p"][idx])

        self._stage("cluster", self.cluster_epochs, len(X), self.batch_size, rng, resume,
                    {**nets, "opt": opt}, terms, watch, embed=lambda z: z)
        self._finish(X_t, y, rng, n_init=1)

    @torch.no_grad()
    def _soft_assignment(self, X_t: Tensor) -> Tensor:
        return self.clusterer_(self._encode(X_t))

    def _fit_centres(self, embedding: np.ndarray, seed: int, n_init: int) -> np.ndarray:
        return self.clusterer_.centres.detach().cpu().numpy()  # the trained μ_k

    # --- modules ----------------------------------------------------------------------------
    def _extra_modules(self) -> dict[str, nn.Module]:
        return {"clusterer_": ClusteringLayer(self.n_clusters_, self.latent_dim, self.alpha)}

    def _check_params(self) -> None:
        super()._check_params()
        self._check_bound(1, "n_init")
        self._check_bound(0, "w_rec")
        self._check_bound(0, "alpha", "lr", strict=True)

    # --- inference --------------------------------------------------------------------------
    def _embed(self, X_t: Tensor) -> np.ndarray:
        return self._encode(X_t).cpu().numpy()


class IDEC(DEC):
    """Improved DEC (Guo et al., IJCAI 2017): DEC whose clustering stage keeps the
    reconstruction loss with weight γ = ``w_rec`` = 0.1 (IDEC §3.3), preserving the local
    structure of the codes. Parameters as :class:`DEC`."""

    __init__ = with_defaults(DEC.__init__, w_rec=0.1)
