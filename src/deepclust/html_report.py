"""One self-contained HTML page per fit: what was run, how well it clustered, which samples went
together, a 2-D map of the embedding and the training curves. Pictures are embedded PNGs,
so the page needs no network and no other file."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._io import save_text
from .exceptions import DataError
from .metrics import evaluate, matched_confusion
from .plots import (
    cluster_grid,
    confusion_figure,
    curve_names,
    curves_figure,
    eigenvalues_figure,
    map_figure,
    png_bytes,
    sizes_figure,
    subsample,
    tsne_2d,
)

PER_CLUSTER = 12  # sample images shown per cluster
TOP_FEATURES = 5  # features listed per cluster for vectors
MAP_SAMPLES = 1500  # points of the 2-D map (ours: t-SNE of 1,500 takes about 10 s on 2 cores)

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:left}img{max-width:100%}code{background:#f4f4f4;padding:0 .3em}.note{color:#666;
font-size:.9em}"""


def write_html_report(model: Any, X: np.ndarray, path: str | Path, *,
                      y: np.ndarray | None = None, result: Mapping[str, Any] | None = None,
                      map_samples: int = MAP_SAMPLES, seed: int = 0) -> Path:
    """Write the report of a fitted ``model`` on the data ``X`` it was fitted on (labels
    ``model.labels_``) to ``path``, atomically. ``y``: the true classes, for the metrics,
    the confusion matrix and the map coloured by class. ``result``: the run's record
    (``result.json`` of ``deepclust fit``: command, time, memory, environment)."""
    labels = np.asarray(model.labels_)
    if len(labels) != len(X):
        raise DataError(f"the model was fitted on {len(labels)} samples but X has {len(X)}; "
                        "pass the data it was fitted on (`deepclust report --run`: --data).")
    result = dict(result or {})
    k = int(getattr(model, "n_clusters_", labels.max() + 1))
    embedding = _embedding(model, X)
    order = _confidence_order(model, embedding, labels)
    name = result.get("method", type(model).__name__)
    data = result.get("data", "data")
    parts = [f"<h1>{_e(name)} on {_e(data)}</h1>", _run_table(model, X, k, result)]
    eigenvalues = getattr(model, "eigenvalues_", None)
    if eigenvalues is None and result.get("eigenvalues"):
        eigenvalues = np.asarray(result["eigenvalues"])
    if eigenvalues is not None:
        parts += ["<h2>Number of clusters</h2>",
                  f"<p class=note>K = {k} estimated from the eigengap of the normalised "
                  "Laplacian of the neighbour graph (n_clusters='auto').</p>",
                  _img(eigenvalues_figure(np.asarray(eigenvalues), k), "eigenvalues")]
    if y is not None:
        parts.append(_metrics_section(np.asarray(y), labels))
    parts += ["<h2>Cluster sizes</h2>", _img(sizes_figure(labels, k), "cluster sizes")]
    if X.ndim == 4:
        rows = [order[labels[order] == c][:PER_CLUSTER] for c in range(k)]
        parts += ["<h2>Samples per cluster</h2>",
                  f"<p class=note>{_order_note(model, embedding)}</p>",
                  _img(cluster_grid(X, rows), "sample images per cluster")]
    else:
        parts += ["<h2>Top features per cluster</h2>", _features_table(X, labels, k)]
    parts += _map_section(embedding, labels, y, map_samples, seed)
    history = getattr(model, "history_", None) or result.get("history")
    if history and curve_names(history):
        parts += ["<h2>Training curves</h2>",
                  "<p class=note>Mean of each loss term per epoch; monitor_* are the scores "
                  "of k-means on the embedding during training (labels given).</p>",
                  _img(curves_figure(history), "training curves")]
    page = ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{_e(name)} on {_e(data)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    return save_text(page, path)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _img(fig: Any, alt: str) -> str:
    data = base64.b64encode(png_bytes(fig)).decode("ascii")
    return f'<p><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></p>'


def _embedding(model: Any, X: np.ndarray) -> np.ndarray:
    """The space the clusters live in: ``transform`` where the model has one, else the input."""
    if hasattr(model, "transform"):
        return np.asarray(model.transform(X), np.float64)
    return X.reshape(len(X), -1).astype(np.float64)


def _has_centres(model: Any, embedding: np.ndarray) -> bool:
    centres = getattr(model, "cluster_centers_", None)
    return centres is not None and np.ndim(centres) == 2 and centres.shape[1] == embedding.shape[1]


def _confidence_order(model: Any, embedding: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Sample indices, most confident first: nearest to its cluster's centre in the
    embedding when the model has centres there, else in data order."""
    if not _has_centres(model, embedding):
        return np.arange(len(labels))
    centres = np.asarray(model.cluster_centers_)[labels]
    return np.argsort(((embedding - centres) ** 2).sum(1), kind="stable")


def _order_note(model: Any, embedding: np.ndarray) -> str:
    if _has_centres(model, embedding):
        return ("Each row a cluster; its samples nearest to the cluster's centre in the "
                "embedding (the most confident) first.")
    return "Each row a cluster; its first samples in data order (the model has no centres)."


def _run_table(model: Any, X: np.ndarray, k: int, result: Mapping[str, Any]) -> str:
    rows = {"command": f"<code>{_e(result['command'])}</code>" if result.get("command") else None,
            "samples": f"{len(X):,} of shape {_e('×'.join(map(str, X.shape[1:])))}",
            "clusters": k, "seed": result.get("seed", getattr(model, "random_state", None))}
    if "wall_seconds" in result:
        rows["wall time"] = f"{result['wall_seconds']:.1f} s"
    if "peak_memory_mb" in result:
        rows["peak memory"] = f"{result['peak_memory_mb']:,.0f} MB"
    if result.get("environment"):
        rows["environment"] = _e(", ".join(f"{a} {b}" for a, b in result["environment"].items()))
    params = result.get("params") or model.get_params(deep=False)
    fitted = {a: getattr(model, a) for a in sorted(vars(model)) if a.endswith("_")
              and not a.startswith("_") and isinstance(getattr(model, a), int | float | str)}
    rows["settings"] = ("<details><summary>parameters and fitted choices</summary><code>"
                        + _e(json.dumps({**params, **fitted}, default=str)) + "</code></details>")
    return "<table>" + "".join(f"<tr><th>{_e(a)}</th><td>{b}</td></tr>"
                               for a, b in rows.items() if b is not None) + "</table>"


def _metrics_section(y: np.ndarray, labels: np.ndarray) -> str:
    scores = evaluate(y, labels)
    table = ("<table><tr>" + "".join(f"<th>{m.upper()}</th>" for m in scores) + "</tr><tr>"
             + "".join(f"<td>{v:.4f}</td>" for v in scores.values()) + "</tr></table>")
    counts, classes, clusters = matched_confusion(y, labels)
    return ("<h2>Metrics</h2>" + table + "<h2>Confusion matrix</h2><p class=note>Clusters "
            "matched to classes by the Hungarian method (the matching ACC uses); matched pairs "
            "on the diagonal.</p>" + _img(confusion_figure(counts, classes, clusters),
                                           "confusion matrix"))


def _features_table(X: np.ndarray, labels: np.ndarray, k: int) -> str:
    """Per cluster, the features whose cluster mean lies most standard deviations above the
    mean of all samples."""
    flat = X.reshape(len(X), -1).astype(np.float64)
    mean, std = flat.mean(0), flat.std(0) + 1e-12
    rows = []
    for c in range(k):
        members = flat[labels == c]
        if not len(members):
            rows.append(f"<tr><td>{c}</td><td>0</td><td>(empty)</td></tr>")
            continue
        z = (members.mean(0) - mean) / std
        top = np.argsort(-z, kind="stable")[:TOP_FEATURES]
        rows.append(f"<tr><td>{c}</td><td>{len(members):,}</td><td>"
                    + ", ".join(f"feature {j} ({z[j]:+.2f} sd)" for j in top) + "</td></tr>")
    return ("<table><tr><th>cluster</th><th>samples</th><th>features above the overall mean "
            "(in standard deviations)</th></tr>" + "".join(rows) + "</table>")


def _map_section(embedding: np.ndarray, labels: np.ndarray, y: np.ndarray | None,
                 map_samples: int, seed: int) -> list[str]:
    idx = subsample(len(labels), map_samples, seed)
    if len(idx) < 5:
        return []
    xy = embedding[idx] if embedding.shape[1] == 2 else tsne_2d(embedding[idx], seed)
    colourings = {"coloured by cluster": labels[idx]}
    if y is not None:
        colourings["coloured by class"] = np.unique(y, return_inverse=True)[1][idx]
    return ["<h2>Map of the embedding</h2>",
            f"<p class=note>2-D t-SNE of {len(idx):,} random samples of the embedding "
            f"(seed {seed}).</p>", _img(map_figure(xy, colourings), "2-D map")]
