"""The deep spectral clustering head of DSCDAN §3.2 (method-spec §A.6, §E.6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from .._shards import gather
from ..graph import orthonorm_weights
from .layers import keras_init_, mlp

SPECTRAL_HIDDEN = (1024, 1024, 512)  # SpectralNet / official code; paper §4.3: 4 FC layers
INFERENCE_CHUNK = 4096  # ours: samples per forward pass of ``embed`` (memory: one chunk's layers)


class SpectralOutput(NamedTuple):
    """``y`` (B, K): the orthonormalised embedding Y = Ỹ W_o (k-means runs on it).
    ``y_tilde`` (B, K): the output before orthonormalisation (tanh or softmax).
    ``p_y`` (B, K): softmax of the logits, the soft assignment p(y|x) of the KL "unify" term."""

    y: Tensor
    y_tilde: Tensor
    p_y: Tensor


class SpectralHead(nn.Module):
    """Fully connected layers with ReLU (``hidden``) → Linear(K) → ``output`` activation →
    orthonormalisation ``Y = Ỹ W_o``.

    ``output="tanh"`` is SpectralNet's and the recommended form (method-spec §E.6);
    ``"softmax"`` is the official code's (§A.6 variant J). W_o is a buffer (saved with the
    weights), the identity until ``update_ortho_weights`` is called.
    """

    def __init__(
        self,
        in_features: int,
        n_clusters: int,
        hidden: Sequence[int] = SPECTRAL_HIDDEN,
        output: Literal["tanh", "softmax"] = "tanh",
        ortho_eps: float = 1e-7,  # SpectralNet / official code
    ) -> None:
        super().__init__()
        if output not in ("tanh", "softmax"):
            raise ValueError(f"output must be 'tanh' or 'softmax', got {output!r}.")
        self.net = mlp((in_features, *hidden, n_clusters), "relu")
        self.output = output
        self.ortho_eps = ortho_eps
        self.register_buffer("ortho_weights", torch.eye(n_clusters))
        keras_init_(self)

    def _pre_ortho(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Ỹ and p(y|x) = softmax(logits)."""
        logits = self.net(x)
        p_y = torch.softmax(logits, dim=1)
        return (p_y if self.output == "softmax" else torch.tanh(logits)), p_y

    def forward(
        self, x: Tensor, ortho_weights: Tensor | Literal["batch"] | None = None
    ) -> SpectralOutput:
        """Embed ``x`` with the stored W_o, a given one, or ``"batch"``: W_o computed from this
        batch with the gradient through the Cholesky step (official code's joint training);
        under ``torchrun`` from the whole global batch (``deepclust._shards.gather``)."""
        y_tilde, p_y = self._pre_ortho(x)
        if ortho_weights is None:
            ortho_weights = self.ortho_weights
        elif isinstance(ortho_weights, str):
            if ortho_weights != "batch":
                raise ValueError(
                    f"ortho_weights must be a tensor, 'batch' or None, got {ortho_weights!r}."
                )
            ortho_weights = orthonorm_weights(gather(y_tilde), self.ortho_eps)  # torchrun: all
        return SpectralOutput(y_tilde @ ortho_weights, y_tilde, p_y)

    @torch.no_grad()
    def embed(self, x: Tensor) -> SpectralOutput:
        """``forward`` with the stored W_o and no gradient, ``INFERENCE_CHUNK`` rows at a time
        (the whole data set after training: no activations of all of it at once)."""
        parts = [self(part) for part in x.split(INFERENCE_CHUNK)]
        return SpectralOutput(*(torch.cat(field) for field in zip(*parts, strict=True)))

    @torch.no_grad()
    def update_ortho_weights(self, x: Tensor) -> Tensor:
        """Recompute and store W_o from batch ``x`` without gradient (SpectralNet's alternating
        orthonormalisation step; Ỹ in chunks, ``embed``); returns it."""
        self.ortho_weights.copy_(orthonorm_weights(self.embed(x).y_tilde, self.ortho_eps))
        return self.ortho_weights
