"""Run by test_distributed.py under ``torchrun``: each rank checks ``gather`` on shards of
unequal size, takes the gradient of a loss on a batch's block of a global affinity, fits DSCDAN
and DCFAE on the same blobs, and saves what it found to ``<out>/rank<r>.npz``. ``estimators``,
``blobs`` and ``block_gradient`` are imported by the test, which runs the same in one
process. With ``nan`` after ``<out>``: a loss turns NaN on rank 1 only, and each rank writes
the error it stopped with to ``<out>/rank<r>.txt``."""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from sklearn.datasets import make_blobs

from deepclust import DCFAE, DSCDAN
from deepclust._shards import batch_indices, gather, sharded, world
from deepclust.exceptions import TrainingError
from deepclust.graph import batch_affinity
from deepclust.losses import pairwise_cross_entropy, student_t_similarity
from deepclust.nets import DenseGrouper
from deepclust.train import run_epochs
from deepclust.train.distributed import data_parallel, init_from_env, leave_group

# 300 samples in batches of 60: every batch splits evenly over 2 ranks (30 + 30), so the
# per-sample terms weigh each sample as one process does. One epoch a stage, and one joint
# step of DSCDAN (a batch of 300): further on, float32 rounding (a shard's matrix products,
# the averaged gradients) grows until a kNN choice flips, 2e-3 in a weight after 5 joint
# steps, where the same fits in float64 agree to 2e-15 (one-off check). The stages on cached
# codes take one step of all 300 samples: Adam's first steps are about lr·sign(gradient), so a
# weight whose gradient is near 0 moves by ±lr on a rounding difference, and over 10 steps
# their embeddings drift apart by up to 0.7 % (DCFAE's graph stage); block_gradient checks
# that stage's gradient itself
BATCH = 60


def blobs() -> np.ndarray:
    X, _ = make_blobs(300, n_features=8, centers=4, cluster_std=1.0, random_state=0)
    return X.astype(np.float32)


def estimators() -> dict[str, DSCDAN | DCFAE]:
    """Short fits through every part a batch couples: DSCDAN's MI negatives, noise, batch
    orthonormalisation and kNN affinity (the spectral and joint stages, batch solver), the
    global graph's eigenvectors ("exact") and a batch's block of its affinity ("neighbors"),
    the self-labelling stage (its labels read again after the first of two epochs);
    DCFAE's Student-t P and Q, its GAN (two optimisers) and label noise, and its graph stage
    (a batch's block of the global P)."""
    dscdan = {"pretrain_epochs": 1, "spectral_epochs": 1, "joint_epochs": 1,
              "batch_size": BATCH, "spectral_batch_size": 5 * BATCH, "verbose": 0}
    return {
        "dscdan": DSCDAN(4, spectral_solver="batch", **dscdan),
        "dscdan_exact": DSCDAN(4, spectral_solver="exact", **dscdan),
        "dscdan_neighbors": DSCDAN(4, spectral_solver="neighbors", **dscdan),
        "dscdan_self_label": DSCDAN(4, self_label=True, self_label_epochs=2, **dscdan),
        "dcfae": DCFAE(4, p_kernel="student-t", pretrain_epochs=1, cluster_epochs=1,
                       batch_size=BATCH, verbose=0),
        "dcfae_graph": DCFAE(4, p_kernel="graph", pretrain_epochs=1, cluster_epochs=1,
                             batch_size=5 * BATCH, verbose=0),
    }


def block_gradient() -> np.ndarray:
    """In float64, the gradient of a dense network f under DCFAE's graph-stage loss on a batch
    of 57 samples (shards of 29 and 28): P the batch's block of a global sparse affinity
    (``batch_indices``), Q the Student-t of f over the gathered batch, averaged by DDP."""
    torch.manual_seed(0)
    f = DenseGrouper(8, (32, 32)).double()
    codes = torch.randn(300, 8, dtype=torch.float64)
    W = sp.random(300, 300, density=0.05, random_state=0, format="csr")
    idx = np.random.default_rng(0).permutation(300)[:57]

    def terms(rows: np.ndarray) -> torch.Tensor:
        P = batch_affinity((W + W.T).tocsr(), batch_indices(rows)).double()
        return pairwise_cross_entropy(P / P.sum(), student_t_similarity(gather(f(codes[rows])),
                                                                        1.0))

    forward = data_parallel(terms, [torch.optim.SGD(f.parameters())])  # alive for backward
    with sharded(idx) as rows:
        forward(rows).backward()
    return torch.cat([p.grad.reshape(-1) for p in f.parameters()]).numpy()


def flat_parameters(model: DSCDAN | DCFAE) -> np.ndarray:
    """Every weight of the encoder and of the network trained after it."""
    nets = (model.encoder_, getattr(model, "head_", None) or model.grouper_)
    return torch.cat([p.detach().reshape(-1) for net in nets for p in net.parameters()]).numpy()


def nan_on_one_rank(out: str) -> None:
    """Steps with a collective each (as DDP's gradient averaging); rank 1's loss is NaN at its
    second step. Every rank must stop with the NaN error, none wait for the others."""
    rank = world()[0]
    steps = []

    def step(idx: np.ndarray) -> dict[str, torch.Tensor]:
        dist.all_reduce(torch.ones(()))
        steps.append(idx)
        bad = rank == 1 and len(steps) == 2
        return {"loss": torch.tensor(float("nan") if bad else 1.0)}

    try:
        run_epochs(step, n_samples=40, batch_size=10, epochs=3, rng=np.random.default_rng(0),
                   stateful={}, stage="nan-test", verbose=0)
        message = "no error"
    except TrainingError as err:
        message = str(err)
    with open(f"{out}/rank{rank}.txt", "w") as file:
        file.write(message)


def shut_down() -> None:
    """Leave the process group together: a rank that exits with gloo's threads still running
    can abort ("terminate called without an active exception", about 1 run in 10 of the NaN
    test under pytest on 2 cores) and the launcher then kills the other rank."""
    dist.barrier()
    leave_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    init_from_env()
    if sys.argv[2:] == ["nan"]:
        nan_on_one_rank(sys.argv[1])
        shut_down()
        sys.exit()
    rank, size = world()
    found: dict[str, np.ndarray] = {"world": np.array(size)}
    with sharded(np.arange(5)) as rows:  # shards of 3 and 2 rows
        t = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
        gathered = gather(t[:, None] * torch.ones(1, 2, dtype=torch.float64))
        ((rank + 1) * gathered.sum()).backward()  # each row's gradient: Σ_r 2 (r + 1)
    found.update(gathered=gathered.detach().numpy(), grad=t.grad.numpy(),
                 block_gradient=block_gradient())
    X = blobs()
    for name, model in estimators().items():
        model.fit(X)
        found[f"{name}_labels"] = model.labels_
        found[f"{name}_parameters"] = flat_parameters(model)
        found[f"{name}_embedding"] = model.transform(X)
    np.savez(f"{sys.argv[1]}/rank{rank}.npz", **found)
    shut_down()
