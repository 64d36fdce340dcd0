"""Jensen–Shannon mutual-information estimation with a critic (DSCDAN §3.1, DIM)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._shards import gather, local_rows


def jsd_mi_loss(pos_logits: Tensor, neg_logits: Tensor) -> Tensor:
    """``E_P[softplus(-T)] + E_Q[softplus(T)]``: minus the Jensen–Shannon MI lower bound, in
    binary cross-entropy form (positives labelled 1, negatives 0; paper's L_G and L_L).

    Both the encoder and the critic minimise it (method-spec §A.4). Logits of any shape: the
    mean runs over the batch and, for the local critic's (B, h, w), over positions too.
    """
    return F.softplus(-pos_logits).mean() + F.softplus(neg_logits).mean()


def shuffle_batch(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``x`` with its rows randomly permuted: negative pairs for the MI critics (DIM).

    The permutation is drawn on ``generator``'s device (any) and moved to ``x``'s. Under
    ``torchrun`` the rows are drawn from the whole global batch (``deepclust._shards``).
    """
    rows = gather(x)
    device = x.device if generator is None else generator.device
    perm = local_rows(torch.randperm(rows.shape[0], generator=generator, device=device))
    return rows[perm.to(x.device)]
