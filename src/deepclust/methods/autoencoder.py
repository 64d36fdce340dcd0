"""The deep baselines' first stage: a plain autoencoder pretrained on reconstruction alone.

DEC, IDEC, SpectralNet and N2D all start from the codes of such an autoencoder (their papers:
d-500-500-2000-10 with ReLU, squared error); what each does with the codes is its own. With
``pretrain_cache`` the pretraining is shared: the first fit on given data, seed and
autoencoder settings stores it, the others load it and go on exactly as if they had trained it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from .._io import load_torch
from ..losses import reconstruction_loss
from ..nets import build_autoencoder, conv_config
from .deep import DeepClusterer

#: the parameters that fix a pretraining (with the data and the seed): the cache key
AE_PARAMS = ("latent_dim", "architecture", "scaling", "mlp_hidden", "pretrain_epochs", "batch_size",
             "lr", "precision")


class AutoencoderClusterer(DeepClusterer):
    """Base of the baselines built on a pretrained plain autoencoder (subclasses add stages).

    Subclasses take ``latent_dim``, ``architecture`` (``"mlp"``, ``"conv"`` = DSCDAN's
    Table-2 convs, ``"auto"``), ``mlp_hidden``, ``pretrain_epochs``, ``batch_size``, ``lr``
    and ``pretrain_cache`` (a directory, or None; used only with an integer ``random_state``)
    and call ``_pretrain`` first in ``_fit``.
    """

    # ours: about 2,000 batches of 256 (50 epochs of MNIST-test; DEC/IDEC: 200 epochs, N2D 1000)
    auto_batches: ClassVar[dict[str, int]] = {"pretrain": 2000}

    def _pretrain(self, X_t: Tensor, rng: np.random.Generator, resume: bool, watch: Any) -> None:
        """Train ``encoder_``/``decoder_`` to reconstruct X (squared error, Adam): the stage
        ``pretrain``, from ``pretrain_cache`` when it holds this pretraining."""
        ae = {"encoder": self.encoder_, "decoder": self.decoder_}
        opt = torch.optim.Adam([p for m in ae.values() for p in m.parameters()], lr=self.lr)
        cache = self._cache_file(X_t)
        self.pretrain_cached_ = cache is not None and _finished(cache)
        self._stage("pretrain", self.pretrain_epochs, len(X_t), self.batch_size, rng,
                    resume or cache is not None, {**ae, "opt": opt},
                    lambda idx: self._ae_terms(X_t[idx]), watch, embed=lambda z: z,
                    checkpoint=cache)

    def _ae_terms(self, x: Tensor) -> dict[str, Tensor]:
        self._set_mode(train=True)
        x = x.to(self.device_)
        rec = reconstruction_loss(x, self._decode(self.encoder_(x).mu))  # ||x - g(f(x))||²
        return {"loss": rec, "rec": rec}

    def _cache_file(self, X_t: Tensor) -> Path | None:
        if self.pretrain_cache is None or self.random_state is None:
            return None  # ours: without a seed a pretraining is not reproducible, so not shared
        key = {name: getattr(self, name) for name in AE_PARAMS}
        data = hashlib.sha256(np.ascontiguousarray(X_t.cpu().numpy())).hexdigest()  # no copy
        key.update(auto_batches=self.auto_batches["pretrain"], seed=int(self.random_state),
                   shape=list(X_t.shape), data=data, format=1)
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode())
        return Path(self.pretrain_cache) / f"ae-{digest.hexdigest()[:20]}.pt"

    def _build_modules(self) -> dict[str, nn.Module]:
        """The autoencoder first (its initial weights depend on the seed only), then the
        subclass's ``_extra_modules``."""
        shape = self.input_shape_
        config = conv_config(shape) if len(shape) == 3 and self.architecture != "mlp" else None
        encoder, decoder = build_autoencoder(shape, self.latent_dim, kind=self.architecture,
                                              config=config, hidden=tuple(self.mlp_hidden))
        return {"encoder_": encoder, "decoder_": decoder, **self._extra_modules()}

    def _extra_modules(self) -> dict[str, nn.Module]:
        return {}

    def _check_params(self) -> None:
        super()._check_params()
        self._check_choices({"architecture": ("auto", "conv", "mlp")})
        self._check_bound(1, "batch_size", "latent_dim")


def _finished(path: Path) -> bool:
    return path.exists() and bool(load_torch(path).get("done"))
