"""Run by test_distributed.py under ``torchrun``: each rank checks ``gather`` on shards of
unequal size, fits DSCDAN and DCFAE on the same blobs, and saves what it found to
``<out>/rank<r>.npz``. ``estimators`` and ``blobs`` are imported by the test, which fits the
same in one process."""

from __future__ import annotations

import sys

import numpy as np
import torch
from sklearn.datasets import make_blobs

from deepclust import DCFAE, DSCDAN
from deepclust._shards import gather, sharded, world
from deepclust.train.distributed import init_from_env

# 300 samples in batches of 60: every batch splits evenly over 2 ranks (30 + 30), so the
# per-sample terms weigh each sample as one process does. One epoch a stage, and one joint
# step of DSCDAN (a batch of 300): further on, float32 rounding (a shard's matrix products,
# the averaged gradients) grows until a kNN choice flips, 2e-3 in a weight after 5 joint
# steps, where the same fits in float64 agree to 2e-15 (one-off check)
BATCH = 60


def blobs() -> np.ndarray:
    X, _ = make_blobs(300, n_features=8, centers=4, cluster_std=1.0, random_state=0)
    return X.astype(np.float32)


def estimators() -> dict[str, DSCDAN | DCFAE]:
    """Short fits through every part a batch couples: DSCDAN's MI negatives, noise, batch
    orthonormalisation and kNN affinity (joint stage, batch solver); DCFAE's Student-t P and
    Q, its GAN (two optimisers) and label noise."""
    return {
        "dscdan": DSCDAN(4, spectral_solver="batch", pretrain_epochs=1, spectral_epochs=1,
                         joint_epochs=1, batch_size=BATCH, spectral_batch_size=5 * BATCH,
                         verbose=0),
        "dcfae": DCFAE(4, p_kernel="student-t", pretrain_epochs=1, cluster_epochs=1,
                       batch_size=BATCH, verbose=0),
    }


def flat_parameters(model: DSCDAN | DCFAE) -> np.ndarray:
    return torch.cat([p.detach().reshape(-1) for p in model.encoder_.parameters()]).numpy()


if __name__ == "__main__":
    torch.set_num_threads(1)
    init_from_env()
    rank, size = world()
    found: dict[str, np.ndarray] = {"world": np.array(size)}
    with sharded(np.arange(5)) as rows:  # shards of 3 and 2 rows
        t = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
        gathered = gather(t[:, None] * torch.ones(1, 2, dtype=torch.float64))
        ((rank + 1) * gathered.sum()).backward()  # each row's gradient: Σ_r 2 (r + 1)
    found.update(gathered=gathered.detach().numpy(), grad=t.grad.numpy())
    X = blobs()
    for name, model in estimators().items():
        model.fit(X)
        found[f"{name}_labels"] = model.labels_
        found[f"{name}_parameters"] = flat_parameters(model)
    np.savez(f"{sys.argv[1]}/rank{rank}.npz", **found)
