"""``docs/BENCHMARKS.md`` from the committed result files: the tables, the speed of each stage,
the figures, the machine and the commands. Same files in, same page out."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ._io import atomic_write, save_text
from .bench import environments, load_results, summary_table, throughput, total_seconds
from .data.registry import BUILTINS, Builtin
from .data.synthetic import GENERATOR_SEED
from .plots import png_bytes, scale_figure

REPORT_COMMAND = "deepclust report --results benchmarks --out docs/BENCHMARKS.md"
NOTES_FILE = "NOTES.md"  # hand-written reading of the tables, in the results folder
VECTOR_FOLDER = "vectors"  # results on the feature-vector sets, reported in their own table
SPEED_FOLDER = "speed"  # runs made one after another for speed ratios: only their own table
SPEEDUP_FOLDER = "speedup"  # each method at an earlier commit and now: the ratio table only
SCALE_FOLDER = "scale"  # one method on growing data: time and memory per phase, and a plot
SCALE_FIGURE = "scale.png"  # written beside the page's other figures
PHASES = ("setup", "pretrain", "graph", "spectral", "cluster", "joint", "assign")


def _sklearn_sets() -> str:
    """The vector sets bundled with scikit-learn, with their sizes from the registry."""
    sets = [f"`{name}` ({b.n_samples} × {b.shape[0]}, {b.n_classes} classes)"
            for name, b in BUILTINS.items() if len(b.shape) == 1 and b.made == Builtin.made]
    return ", ".join(sets[:-1]) + " and " + sets[-1]


def _is_ablation(result: dict[str, Any]) -> bool:
    return "@" in result["method"]


def speed_table(results: list[dict[str, Any]]) -> str:
    """Markdown: mean training throughput (samples/s) of each stage and mean end-to-end fit
    time per method and data set (successful runs with a per-epoch history)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        if "metrics" in r and r.get("history"):
            groups.setdefault((r["data"], r["method"]), []).append(r)
    rows = ["| dataset | method | runs | samples/s per stage | fit s |", "|---|---|---|---|---|"]
    for (data, method), runs in groups.items():
        stages: dict[str, list[float]] = {}
        for r in runs:
            for stage, rate in throughput(r).items():
                stages.setdefault(stage, []).append(rate)
        rates = ", ".join(f"{stage} {np.mean(v):,.0f}" for stage, v in stages.items())
        wall = np.mean([total_seconds(r) for r in runs])
        rows.append(f"| {data} | {method} | {len(runs)} | {rates} | {wall:.1f} |")
    return "\n".join(rows) + "\n"


def speedup_table(results: list[dict[str, Any]]) -> str:
    """Markdown: each method's samples/s per stage at the earlier commit (``against``) and at
    the later one, and their ratio (``benchmarks/speedup/against_commit.py``'s runs)."""
    runs = {(r["data"], r["method"].partition("#")[0], r["commit"] == r["against"]): r
            for r in results if "metrics" in r}
    rows = ["| dataset | method | stage | samples/s then | samples/s now | speed-up |",
            "|---|---|---|---|---|---|"]
    for (data, method, earlier), then in runs.items():
        now = runs.get((data, method, False))
        if not earlier or now is None:
            continue
        old, new = throughput(then), throughput(now)
        for stage in (s for s in new if s in old):
            rows.append(f"| {data} | {method} | {stage} | {old[stage]:,.0f} | {new[stage]:,.0f} "
                        f"| {new[stage] / old[stage]:.2f}× |")
    return "\n".join(rows) + "\n"


def scale_table(results: list[dict[str, Any]]) -> str:
    """Markdown: for each method and data size, the wall seconds and the process's peak memory
    at the end of each phase of the fit (``costs`` of the result), "other" the rest of the
    fit's wall time (encoding the data between stages, the final orthonormalisation), the
    fit's wall time and peak memory (loading the data is in the peak, not in the time), and
    its ACC."""
    runs = sorted(results, key=lambda r: (r["method"], r["n_samples"], r["seed"]))
    phases = [p for p in PHASES if any(p in r.get("costs", {}) for r in runs)]
    rows = ["| method | samples | " + " | ".join(f"{p} s / MB" for p in phases)
            + " | other s | fit s | peak MB | ACC |", "|---" * (len(phases) + 6) + "|"]
    for r in runs:
        costs = r.get("costs", {})  # none for the classical methods: all in "other"
        cells = [f"{costs[p]['seconds']:.1f} / {costs[p]['peak_mb']:,.0f}" if p in costs
                 else "–" for p in phases]
        other = r["wall_seconds"] - sum(c["seconds"] for c in costs.values())
        acc = r.get("metrics", {}).get("acc")
        rows.append(f"| {r['method']} | {r['n_samples']:,} | " + " | ".join(cells)
                    + f" | {other:.1f} | {r['wall_seconds']:.1f} | {r['peak_memory_mb']:,.0f} | "
                    + ("–" if acc is None else f"{acc:.3f}") + " |")
    return "\n".join(rows) + "\n"


def scale_runs(results: list[dict[str, Any]]) -> dict[str, list[tuple[int, float, float]]]:
    """Method → (samples, fit seconds, peak MB) of each scale run, by size, for
    ``plots.scale_figure``."""
    runs: dict[str, list[tuple[int, float, float]]] = {}
    for r in sorted(results, key=lambda r: (r["method"], r["n_samples"])):
        runs.setdefault(r["method"], []).append(
            (r["n_samples"], r["wall_seconds"], r["peak_memory_mb"]))
    return runs


def _figures(figures: Path, page_dir: Path) -> str:
    text = ""
    for meta_path in sorted(figures.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        image = meta_path.with_suffix(".png")
        if image.exists():
            rel = os.path.relpath(image, page_dir)
            made = (f" The model came from `{meta['model_command']}`."
                    if meta.get("model_command") else "")
            text += (f"![{meta['title']}]({rel})\n\n{meta['caption']}\n\nCommand: "
                     f"`{meta['command']}` ({meta['seconds']:.0f} s).{made}\n\n")
    return text


def build_report(results_dir: str | Path, page: str | Path,
                 figures_dir: str | Path | None = None) -> str:
    """The page's Markdown: every results sub-folder of ``results_dir`` (one per data set),
    the figures in ``figures_dir`` (``<name>.png`` with ``<name>.json``) and the notes."""
    results_dir, page_dir = Path(results_dir), Path(page).parent
    folders = sorted(p for p in results_dir.iterdir() if p.is_dir())
    speed = [r for d in folders if d.name == SPEED_FOLDER for r in load_results(d)]
    speedup = [r for d in folders if d.name == SPEEDUP_FOLDER for r in load_results(d)]
    results = [r for d in folders if d.name not in (SPEED_FOLDER, SPEEDUP_FOLDER)
               for r in load_results(d)]
    vectors = [r for d in folders if d.name == VECTOR_FOLDER for r in load_results(d)]
    scale = [r for d in folders if d.name == SCALE_FOLDER for r in load_results(d)]
    main = [r for r in results if not _is_ablation(r) and r not in vectors + scale]
    ablation = [r for r in results if _is_ablation(r)]  # the paper's rows, "dscdan@full" too
    parts = [
        "# Benchmarks\n\n",
        f"Generated by `{REPORT_COMMAND}` from the result files under `{results_dir}/` (one "
        "JSON file per run: metrics, wall time, peak memory, device, threads, versions, the "
        "full configuration and the per-epoch history). Do not edit by hand: rerun the "
        "command. ACC/NMI/ARI are mean ± std over the seeds listed; fit s is the wall time "
        "of `fit` (with the time of an autoencoder pretraining loaded from the shared "
        "cache); the paper columns are the DSCDAN paper's Tables 3 and 4 (method-spec §D; "
        "† = the paper's number is for the 70,000-image set).\n\n",
        "## Clustering quality (Table 3)\n\n", summary_table(main), "\n",
    ]
    if ablation:
        parts += ["## DSCDAN ablation (Table 4)\n\n", summary_table(ablation), "\n"]
    if vectors:
        topics, blobs = BUILTINS["topics"], BUILTINS["blobs"]
        parts += ["## Feature vectors\n\n", "The built-in vector sets (`deepclust datasets`): "
                  f"`topics` (tf-idf of {topics.n_samples:,} documents × {topics.shape[0]:,} "
                  f"terms from {topics.n_classes} topics), `blobs` ({blobs.n_samples:,} samples "
                  f"of {blobs.n_classes} anisotropic, unbalanced Gaussian clusters in "
                  f"{blobs.shape[0]} dimensions), both drawn by `deepclust.data.synthetic` with "
                  f"generator seed {GENERATOR_SEED}, and scikit-learn's {_sklearn_sets()}, each "
                  "feature min-max scaled. Every method at its defaults.\n\n",
                  summary_table(vectors), "\n"]
    parts += ["## Speed\n\nTraining throughput of each stage (samples per second, from the "
              "per-epoch history; monitoring excluded) and the end-to-end `fit` time.\n\n",
              speed_table(results), "\n"]
    if speed:
        parts += ["## Speed, one session\n\nRuns made one after another on one machine with "
                  f"nothing else running (`benchmarks/{SPEED_FOLDER}/`), so that their times "
                  "compare: settings in the method's name (`+precision=bf16`). Their scores "
                  "are single runs, not in the quality tables.\n\n", summary_table(speed),
                  "\n", speed_table(speed), "\n"]
    if speedup:
        commits = ", ".join(sorted({r["against"] for r in speedup}))
        later = ", ".join(sorted({r["commit"] for r in speedup if r["commit"] != r["against"]}))
        parts += [f"## Speed-up over commit {commits}\n\nEach method's training throughput "
                  f"at that commit (then) and at {later} (now), the two runs one after the "
                  "other on one "
                  f"machine with nothing else running (`benchmarks/{SPEEDUP_FOLDER}/`, made by "
                  "its `against_commit.py`): the same settings and the same computation in "
                  "both, stages shortened to a few epochs, so their scores are not results."
                  "\n\n", speedup_table(speedup), "\n"]
    if scale:
        figure = (f"![fit time and peak memory against samples]"
                  f"({os.path.relpath(Path(figures_dir) / SCALE_FIGURE, page_dir)})\n\n"
                  if figures_dir is not None else "")
        parts += ["## Scale\n\n`blobs` drawn at growing sizes (`blobs-10k`, `blobs-100k`, "
                  f"`blobs-1m`: the same mixture, generator seed {GENERATOR_SEED}), one run "
                  f"each, one after another (`benchmarks/{SCALE_FOLDER}/`). Each phase: its "
                  "wall seconds / the process's peak resident memory when it ended (MB); "
                  "other: the rest of the fit (encoding between stages, the final "
                  "orthonormalisation).\n\n",
                  scale_table(scale), "\n", figure]
    if figures_dir is not None and Path(figures_dir).is_dir():
        parts += ["## Figures\n\n", _figures(Path(figures_dir), page_dir)]
    notes = results_dir / NOTES_FILE
    if notes.exists():
        parts += [notes.read_text().rstrip() + "\n\n"]
    timed = results + speed + speedup
    parts += ["## Machine\n\n", environments(timed), "\n## Commands\n\nEach result file "
              "came from one of these, with `S` the seed (`deepclust bench` runs them, one "
              "child process per seed):\n\n", _commands(timed)]
    return "".join(parts)


def _commands(results: list[dict[str, Any]]) -> str:
    """One line per command, its ``--seed N`` written ``--seed S`` and the seeds listed."""
    seeds: dict[str, set[int]] = {}
    for r in results:
        command = re.sub(r"--seed \d+", "--seed S", r["command"])
        seeds.setdefault(command, set()).add(r["seed"])
    return "".join(f"- `{c}` for S in {', '.join(map(str, sorted(seeds[c])))}\n"
                   for c in sorted(seeds))


def write_report(results_dir: str | Path = "benchmarks", page: str | Path = "docs/BENCHMARKS.md",
                 figures_dir: str | Path | None = "docs/figures") -> Path:
    """Write ``page`` from the results, and the scale figure into ``figures_dir`` when there
    are scale runs (atomically; rerunning on the same files changes nothing)."""
    scale = Path(results_dir) / SCALE_FOLDER
    runs = scale_runs(load_results(scale)) if scale.is_dir() else {}
    if figures_dir is not None and runs:
        image = png_bytes(scale_figure(runs))
        atomic_write(Path(figures_dir) / SCALE_FIGURE, lambda tmp: tmp.write_bytes(image))
    return save_text(build_report(results_dir, page, figures_dir), page)
