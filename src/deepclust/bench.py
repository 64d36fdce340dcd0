"""Benchmarks: methods x datasets x seeds, one isolated ``deepclust fit`` per run.

Each run is a child process (a crash or an error is recorded, the rest go on; peak memory is
the run's own) writing one JSON result file; a run whose file exists is not run again. The
summary table gives mean ± std over seeds beside the papers' published numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._io import save_json, save_text

# DSCDAN paper, Table 3 (NMI, ACC); method-spec §D. Keys: our method and dataset names.
PAPER: dict[tuple[str, str], tuple[float, float]] = {
    ("kmeans", "mnist"): (0.500, 0.532), ("kmeans", "mnist-test"): (0.501, 0.546),
    ("kmeans", "usps"): (0.601, 0.668), ("kmeans", "fashion"): (0.512, 0.474),
    ("spectral", "mnist"): (0.731, 0.656), ("spectral", "mnist-test"): (0.704, 0.660),
    ("spectral", "usps"): (0.794, 0.649), ("spectral", "fashion"): (0.575, 0.508),
    ("dscdan", "mnist"): (0.941, 0.978), ("dscdan", "mnist-test"): (0.946, 0.980),
    ("dscdan", "usps"): (0.857, 0.869), ("dscdan", "fashion"): (0.645, 0.662),
}


def result_path(out_dir: Path, method: str, data: str, seed: int) -> Path:
    """Where the result of one run is written."""
    return out_dir / f"{method}__{data}__seed{seed}.json"


def run_one(method: str, data: str, seed: int, out_dir: Path, *,
            extra_args: Sequence[str] = (), data_dir: str | None = None) -> dict[str, Any]:
    """Run ``deepclust fit`` in a child process; write and return its result (or its error)."""
    path = result_path(out_dir, method, data, seed)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "deepclust.cli", "fit", "--method", method, "--data", data,
               "--seed", str(seed), "--out", str(run_dir), "-q", *extra_args]
        if data_dir:
            cmd += ["--data-dir", data_dir]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if proc.returncode == 0:
            result = json.loads((run_dir / "result.json").read_text())
        else:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            result = {"method": method, "data": data, "seed": seed,
                      "error": lines[-1] if lines else f"exit code {proc.returncode}"}
    result["command"] = " ".join(["deepclust", *cmd[3:]]).replace(str(run_dir), "OUT")
    save_json(result, path)
    return result


def run_benchmark(methods: Sequence[str], datasets: Sequence[str], seeds: Sequence[int],
                  out_dir: str | Path, *, extra_args: Sequence[str] = (),
                  data_dir: str | None = None, log: bool = True) -> list[dict[str, Any]]:
    """Run every (method, dataset, seed) whose result file is missing; return all results."""
    out_dir = Path(out_dir)
    results = []
    for data in datasets:
        for method in methods:
            for seed in seeds:
                path = result_path(out_dir, method, data, seed)
                if path.exists():
                    result = json.loads(path.read_text())
                    status = "cached"
                else:
                    result = run_one(method, data, seed, out_dir, extra_args=extra_args,
                                     data_dir=data_dir)
                    status = "error" if "error" in result else "done"
                if log:
                    print(f"[{status}] {method} {data} seed {seed}: {_brief(result)}", flush=True)
                results.append(result)
    return results


def _brief(result: dict[str, Any]) -> str:
    if "error" in result:
        return result["error"]
    m = result.get("metrics", {})
    return (" ".join(f"{k.upper()} {v:.4f}" for k, v in m.items())
            + f"  {result['wall_seconds']:.1f} s  {result['peak_memory_mb']:.0f} MB")


def load_results(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every result file in ``out_dir``, sorted by method, dataset and seed."""
    results = [json.loads(p.read_text()) for p in sorted(Path(out_dir).glob("*__*__seed*.json"))]
    return sorted(results, key=lambda r: (r["data"], r["method"], r["seed"]))


def summary_table(results: Sequence[dict[str, Any]]) -> str:
    """Markdown: mean ± std of ACC/NMI/ARI, wall time and memory per method and dataset,
    with the paper's ACC/NMI and our difference to it."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["data"], r["method"]), []).append(r)
    rows = ["| dataset | method | seeds | ACC | NMI | ARI | fit s | peak MB | paper ACC / NMI "
            "| ΔACC |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (data, method), runs in groups.items():
        ok = [r for r in runs if "metrics" in r]
        failed = len(runs) - len(ok)
        seeds = f"{len(ok)}" + (f" (+{failed} failed)" if failed else "")
        if not ok:
            rows.append(f"| {data} | {method} | {seeds} | – | – | – | – | – | – | – |")
            continue

        def stat(key: str, runs: list[dict[str, Any]] = ok) -> str:
            v = np.array([r["metrics"][key] for r in runs])
            return f"{v.mean():.3f} ± {v.std():.3f}"

        acc = np.mean([r["metrics"]["acc"] for r in ok])
        wall = np.mean([r["wall_seconds"] for r in ok])
        mem = max(r["peak_memory_mb"] for r in ok)
        paper = PAPER.get((method, data))
        ref = f"{paper[1]:.3f} / {paper[0]:.3f}" if paper else "–"
        delta = f"{acc - paper[1]:+.3f}" if paper else "–"
        rows.append(f"| {data} | {method} | {seeds} | {stat('acc')} | {stat('nmi')} | "
                    f"{stat('ari')} | {wall:.1f} | {mem:.0f} | {ref} | {delta} |")
    return "\n".join(rows) + "\n"


def write_summary(out_dir: str | Path) -> Path:
    """Write ``summary.md`` in ``out_dir`` from its result files (same files, same output)."""
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    env = next((r["environment"] for r in results if "environment" in r), {})
    commands = sorted({r["command"] for r in results})
    text = (f"# Benchmark results: {out_dir.name}\n\nGenerated by `deepclust bench` from the "
            f"result files in this folder (mean ± std over seeds; fit s = wall time of `fit`, "
            f"peak MB = the run's peak resident memory).\n\n{summary_table(results)}\n"
            f"Environment: {', '.join(f'{k} {v}' for k, v in env.items())}.\n\nCommands:\n\n"
            + "".join(f"- `{c}`\n" for c in commands))
    return save_text(text, out_dir / "summary.md")
