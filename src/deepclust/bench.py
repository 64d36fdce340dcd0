"""Benchmarks: methods x datasets x seeds, one isolated ``deepclust fit`` per run.

Each run is a child process (a crash or an error is recorded, the rest go on; peak memory is
the run's own) writing one JSON result file; a run whose file exists is not run again. A method
is a name (``dec``) or a name and a preset (``dscdan@convae+mi``: a row of an ablation table).
The summary table gives mean ± std over seeds beside the papers' published numbers.
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

# DSCDAN paper, Tables 3 and 4 (NMI, ACC); method-spec §D. Keys: our method (with its preset
# for Table 4's rows) and dataset names; the paper's columns are MNIST-full, MNIST-test, USPS
# and Fashion (70,000 images).
_COLUMNS = ("mnist", "mnist-test", "usps", "fashion")
_PAPER_ROWS: dict[str, tuple[tuple[float, float] | None, ...]] = {
    "kmeans": ((0.500, 0.532), (0.501, 0.546), (0.601, 0.668), (0.512, 0.474)),
    "spectral": ((0.731, 0.656), (0.704, 0.660), (0.794, 0.649), (0.575, 0.508)),
    "dec": ((0.834, 0.863), (0.830, 0.856), (0.767, 0.762), (0.546, 0.518)),
    "idec": ((0.867, 0.881), (0.802, 0.846), (0.785, 0.761), (0.557, 0.529)),
    "spectralnet": ((0.814, 0.800), (0.821, 0.817), None, None),
    "dscdan": ((0.941, 0.978), (0.946, 0.980), (0.857, 0.869), (0.645, 0.662)),
    "dscdan@convae": ((0.745, 0.776), (0.751, 0.781), (0.652, 0.698), (0.556, 0.546)),
    "dscdan@convae+mi": ((0.800, 0.835), (0.796, 0.844), (0.744, 0.785), (0.609, 0.592)),
    "dscdan@convae+rs": ((0.803, 0.841), (0.801, 0.850), (0.752, 0.798), (0.597, 0.614)),
    "dscdan@convae+mi+rs": ((0.910, 0.957), (0.914, 0.961), (0.827, 0.831), (0.640, 0.656)),
}
PAPER: dict[tuple[str, str], tuple[float, float]] = {
    (method, data): value for method, row in _PAPER_ROWS.items()
    for data, value in zip(_COLUMNS, row, strict=True) if value is not None
}
#: our data sets measured against a paper column of another size: Fashion-test (10,000 of the
#: 70,000 images) against the paper's Fashion
PAPER_PROXY = {"fashion-test": "fashion"}


def paper_score(method: str, data: str) -> tuple[tuple[float, float] | None, bool]:
    """The paper's (NMI, ACC) for a method and data set, and whether it is for the larger
    set of ``PAPER_PROXY``; ``method@full`` is the method itself."""
    method = method.removesuffix("@full")
    if (method, data) in PAPER:
        return PAPER[method, data], False
    proxy = PAPER.get((method, PAPER_PROXY.get(data, "")))
    return proxy, proxy is not None


def split_method(spec: str) -> tuple[str, str | None, list[str]]:
    """A run's method spec, ``NAME[@PRESET][+KEY=VALUE...]``, as (name, preset or None,
    settings): ``"dscdan@convae+mi"`` → ``("dscdan", "convae+mi", [])`` (preset names hold
    "+" but no "="), ``"dscdan+precision=bf16"`` → ``("dscdan", None, ["precision=bf16"])``.
    The whole spec labels the results."""
    parts = spec.split("+")
    first = next((i for i, part in enumerate(parts) if "=" in part), len(parts))
    method, _, preset = "+".join(parts[:first]).partition("@")
    return method, preset or None, parts[first:]


def throughput(result: dict[str, Any]) -> dict[str, float]:
    """Training samples per second of each stage, from the run's per-epoch history."""
    seconds: dict[str, float] = {}
    epochs: dict[str, int] = {}
    for record in result.get("history", []):
        stage = record["stage"]
        seconds[stage] = seconds.get(stage, 0.0) + record.get("seconds", 0.0)
        epochs[stage] = epochs.get(stage, 0) + 1
    return {stage: epochs[stage] * result["n_samples"] / seconds[stage]
            for stage in seconds if seconds[stage] > 0}


def total_seconds(result: dict[str, Any]) -> float:
    """The fit's wall time, plus the pretraining it loaded from a cache (``cached_seconds``)."""
    return result["wall_seconds"] + result.get("cached_seconds", 0.0)


def result_path(out_dir: Path, method: str, data: str, seed: int) -> Path:
    """Where the result of one run is written."""
    return out_dir / f"{method}__{data}__seed{seed}.json"


def run_one(method: str, data: str, seed: int, out_dir: Path, *,
            extra_args: Sequence[str] = (), data_dir: str | None = None) -> dict[str, Any]:
    """Run ``deepclust fit`` in a child process; write and return its result (or its error).
    ``method`` may name a preset and settings (``split_method``)."""
    path = result_path(out_dir, method, data, seed)
    name, preset, settings = split_method(method)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "deepclust.cli", "fit", "--method", name, "--data", data,
               "--seed", str(seed), "--out", str(run_dir), "-q", "--no-report",
               *(["--preset", preset] if preset else []),
               *[arg for item in settings for arg in ("--set", item)], *extra_args]
        if data_dir:
            cmd += ["--data-dir", data_dir]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if proc.returncode == 0:
            result = json.loads((run_dir / "result.json").read_text())
            result["method"] = method
        else:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            result = {"method": method, "data": data, "seed": seed,
                      "error": lines[-1] if lines else f"exit code {proc.returncode}"}
    result["command"] = " ".join(["deepclust", *cmd[3:]]).replace(str(run_dir), "OUT")
    save_json(result, path)
    return result


def run_benchmark(methods: Sequence[str], datasets: Sequence[str], seeds: Sequence[int],
                  out_dir: str | Path, *, extra_args: Sequence[str] = (),
                  data_dir: str | None = None, pretrain_cache: str | None = None,
                  log: bool = True) -> list[dict[str, Any]]:
    """Run every (method, dataset, seed) whose result file is missing; return all results.

    ``pretrain_cache``: a directory given to the methods that can share a pretrained
    autoencoder (their ``pretrain_cache`` parameter); their results then count the loaded
    pretraining's time as their own.
    """
    from .methods import get_method

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
                    extra = list(extra_args)
                    if pretrain_cache and "pretrain_cache" in get_method(
                            split_method(method)[0])().get_params():
                        extra += ["--set", f"pretrain_cache={pretrain_cache}"]
                    result = run_one(method, data, seed, out_dir, extra_args=extra,
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
            + f"  {total_seconds(result):.1f} s  {result['peak_memory_mb']:.0f} MB")


def load_results(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every result file in ``out_dir``, sorted by method, dataset and seed."""
    results = [json.loads(p.read_text()) for p in sorted(Path(out_dir).glob("*__*__seed*.json"))]
    return sorted(results, key=lambda r: (r["data"], r["method"], r["seed"]))


def summary_table(results: Sequence[dict[str, Any]]) -> str:
    """Markdown: mean ± std of ACC/NMI/ARI, wall time and memory per method and dataset,
    with the paper's ACC/NMI and our difference to it (†: the paper's number is for the larger
    set of ``PAPER_PROXY``)."""
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
        wall = np.mean([total_seconds(r) for r in ok])
        mem = max(r["peak_memory_mb"] for r in ok)
        paper, proxy = paper_score(method, data)
        ref = f"{paper[1]:.3f} / {paper[0]:.3f}" + (" †" if proxy else "") if paper else "–"
        delta = f"{acc - paper[1]:+.3f}" if paper else "–"
        rows.append(f"| {data} | {method} | {seeds} | {stat('acc')} | {stat('nmi')} | "
                    f"{stat('ari')} | {wall:.1f} | {mem:.0f} | {ref} | {delta} |")
    return "\n".join(rows) + "\n"


def environments(results: Sequence[dict[str, Any]]) -> str:
    """Markdown bullets: each distinct environment the results were run in (a peer run in an
    environment of its own adds one)."""
    seen = sorted({json.dumps(r["environment"], sort_keys=True) for r in results
                   if "environment" in r})
    return "".join(f"- {', '.join(f'{k} {v}' for k, v in json.loads(e).items())}\n"
                   for e in seen)


def write_summary(out_dir: str | Path) -> Path:
    """Write ``summary.md`` in ``out_dir`` from its result files (same files, same output)."""
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    commands = sorted({r["command"] for r in results})
    text = (f"# Benchmark results: {out_dir.name}\n\nGenerated by `deepclust bench` from the "
            f"result files in this folder (mean ± std over seeds; fit s = wall time of `fit`, with "
            f"the time of a pretraining it loaded from the shared cache; peak MB = the run's "
            f"peak resident memory).\n\n{summary_table(results)}\n"
            f"Environments:\n\n{environments(results)}\nCommands:\n\n"
            + "".join(f"- `{c}`\n" for c in commands))
    return save_text(text, out_dir / "summary.md")
