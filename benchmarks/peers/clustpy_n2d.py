"""ClustPy's N2D on a deepclust data set, as one result file beside deepclust's own runs.

ClustPy needs torchvision, which does not install beside the torch that deepclust's CI uses,
so this runs in an environment of its own that has both ClustPy and deepclust:

    python -m venv peers && peers/bin/pip install torch==2.14.1 torchvision==0.29.1 \
        clustpy umap-learn && peers/bin/pip install -e .
    peers/bin/python benchmarks/peers/clustpy_n2d.py --data mnist-test --seed 0 \
        --out benchmarks/speed

It fits ``clustpy.deep.N2D`` with the N2D paper's manifold (UMAP with 20 neighbours, min_dist 0,
n_clusters dimensions; ClustPy's own default is t-SNE) and its defaults otherwise (100
pretraining epochs of batch 256, a 500-500-2000 autoencoder, 10-d codes, GMM), and writes
``clustpy-n2d__<data>__seed<seed>.json`` in the schema of ``deepclust bench`` (no per-epoch
history: ClustPy keeps none), so ``deepclust report`` puts it in the tables.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import clustpy
import umap
from clustpy.deep import N2D

from deepclust._io import save_json
from deepclust.bench import result_path
from deepclust.cli import environment
from deepclust.data import load_dataset
from deepclust.metrics import evaluate
from deepclust.train import peak_memory_mb

METHOD = "clustpy-n2d"
UMAP_PARAMS = {"n_neighbors": 20, "min_dist": 0.0}  # N2D paper (McConville et al., ICPR 2020)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist-test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="results folder (one JSON per run)")
    args = parser.parse_args()
    ds = load_dataset(args.data)
    X = ds.X.reshape(len(ds.X), -1)
    k = ds.n_classes
    model = N2D(k, manifold_class=umap.UMAP, random_state=args.seed, device="cpu",
                manifold_params={"n_components": k, **UMAP_PARAMS, "random_state": args.seed})
    tic = time.perf_counter()
    model.fit(X)
    seconds = time.perf_counter() - tic
    result = {
        "method": METHOD, "data": ds.name, "n_samples": len(X), "n_clusters": k,
        "seed": args.seed, "wall_seconds": seconds, "peak_memory_mb": peak_memory_mb(),
        "metrics": evaluate(ds.y, model.labels_),
        "params": {"manifold": "umap.UMAP", **UMAP_PARAMS, "pretrain_epochs": model.pretrain_epochs,
                   "batch_size": model.batch_size, "embedding_size": model.embedding_size},
        "environment": {**environment(), "clustpy": clustpy.__version__},
        "command": shlex.join(["python", *sys.argv]).replace(args.out, "OUT"),
    }
    path = result_path(Path(args.out), METHOD, ds.name, args.seed)
    save_json(result, path)
    print(f"{METHOD} on {ds.name}: ACC {result['metrics']['acc']:.4f} in {seconds:.1f} s -> {path}")


if __name__ == "__main__":
    main()
