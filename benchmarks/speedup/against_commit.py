"""Each method's training speed at an earlier commit and now, on this machine in one session.

    python benchmarks/speedup/against_commit.py --commit 5447069 --data mnist-test --seed 0 \
        --out benchmarks/speedup

For every method of ``METHODS`` it runs ``deepclust fit`` twice, one run after the other: once
with the package as it was at ``--commit`` (``git archive`` of that commit into a temporary
folder, imported through ``PYTHONPATH``) and once with this checkout's. Both runs get the same
settings: short stages (a few epochs each), since only the samples per second of each stage
are compared (the scores of these runs are those of shortened fits), and the computation of the
earlier commit where a default has changed since (DCFAE's Student-t P; ``SAME_WORK``: DSCDAN's
batch spectral solver, for which commit 5447069 has no option). Each run is written as
``<method>#<commit>__<data>__seed<seed>.json`` in ``deepclust bench``'s schema, ``commit``
naming the code that ran, and ``deepclust report`` makes the ratio table from them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from deepclust._io import save_json
from deepclust.bench import result_path
from deepclust.cli import environment

SHORT = {"pretrain_epochs": 2}  # 2 epochs: 200 batches of DSCDAN's 100, 80 of DCFAE's 256
# method → settings for both commits: the commit's computation, short stages
METHODS: dict[str, dict[str, object]] = {
    "dscdan": {**SHORT, "spectral_epochs": 5, "joint_epochs": 1},
    "dcfae": {**SHORT, "p_kernel": "student-t", "cluster_epochs": 1},
    "n2d": SHORT,
    "dec": {**SHORT, "cluster_epochs": 2},
    "idec": {**SHORT, "cluster_epochs": 2},
    "spectralnet": {**SHORT, "spectral_epochs": 5},
}
# settings that make this checkout compute what the earlier commit did (passed to it only)
SAME_WORK: dict[str, dict[str, object]] = {"dscdan": {"spectral_solver": "batch"}}
ROOT = Path(__file__).resolve().parents[2]


def git(*args: str) -> str:
    run = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"git {' '.join(args)} failed: {run.stderr.strip()}")
    return run.stdout.strip()


def export(commit: str, into: Path) -> Path:
    """The ``src`` folder of ``commit``, unpacked under ``into``."""
    into.mkdir(parents=True)
    archive = into / "tree.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), commit, "src"],
                   check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def fit(src: Path, method: str, settings: dict[str, object], data: str, seed: int,
        run_dir: Path) -> dict:
    """``deepclust fit`` with the package under ``src``; its result.json."""
    cmd = [sys.executable, "-m", "deepclust.cli", "fit", "--method", method, "--data", data,
           "--seed", str(seed), "--out", str(run_dir), "-q",
           *[arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]]
    if "--no-report" in (src / "deepclust" / "cli.py").read_text():  # newer than 5447069
        cmd.append("--no-report")
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads((run_dir / "result.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", required=True, help="the earlier commit")
    parser.add_argument("--data", default="mnist-test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", required=True, help="results folder (one JSON per run)")
    args = parser.parse_args()
    unknown = sorted(set(args.methods.split(",")) - set(METHODS))
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    now = git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain",
                                                                   "src") else "")
    then = git("rev-parse", "--short", args.commit)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python", "benchmarks/speedup/against_commit.py", *sys.argv[1:]])
    with tempfile.TemporaryDirectory() as tmp:
        trees = {then: export(args.commit, Path(tmp) / "then"), now: Path(tmp) / "now"}
        shutil.copytree(ROOT / "src", trees[now])  # edits during the runs do not reach them
        for method in args.methods.split(","):
            for commit, src in trees.items():
                settings = {**METHODS[method], **(SAME_WORK.get(method, {}) if commit == now
                                                   else {})}
                label = f"{method}#{commit}"
                path = result_path(out, label, args.data, args.seed)
                if path.exists():
                    continue
                result = fit(src, method, settings, args.data, args.seed,
                             Path(tmp) / label)
                result.update(method=label, commit=commit, against=then, command=command,
                              environment=environment())
                save_json(result, path)
                print(f"{label}: {result['wall_seconds']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
