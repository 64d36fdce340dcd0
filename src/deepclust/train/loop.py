"""The one training loop every deep method uses: batches, progress, checkpoints, early stop."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..exceptions import TrainingError
from .checkpoint import Stateful, load_checkpoint, save_checkpoint

StepFn = Callable[[np.ndarray], Mapping[str, torch.Tensor | float]]
BatchFn = Callable[[np.random.Generator], list[np.ndarray]]


@dataclass
class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    monitor: str = "loss"
    min_delta: float = 1e-4
    patience: int = 5

    def should_stop(self, history: list[dict[str, Any]]) -> bool:
        values = [h[self.monitor] for h in history if self.monitor in h]
        if len(values) <= self.patience:
            return False
        best_before = min(values[: -self.patience])
        return min(values[-self.patience :]) > best_before - self.min_delta


def minibatches(
    n_samples: int, batch_size: int, rng: np.random.Generator, *, shuffle: bool = True
) -> list[np.ndarray]:
    """Index arrays covering ``range(n_samples)`` once, shuffled by ``rng``.

    ``ceil(n_samples / batch_size)`` batches of (nearly) equal size: no tiny last batch, which
    the batch-wise kNN graph and orthonormalisation could not use.
    """
    order = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
    return np.array_split(order, math.ceil(n_samples / batch_size))


def _progress(sums: Mapping[str, float], seen: int, monitor: Mapping[str, float]
              ) -> dict[str, str]:
    """The progress bar's postfix: the epoch's running mean loss and the last monitor
    scores (ACC/NMI of k-means on the embedding, when labels are watched)."""
    shown = {"loss": f"{sums['loss'] / seen:.4g}"} if "loss" in sums and seen else {}
    return shown | {k.removeprefix("monitor_"): f"{v:.3f}" for k, v in monitor.items()
                    if k != "monitor_ari"}


def run_epochs(
    step: StepFn,
    *,
    n_samples: int,
    batch_size: int,
    epochs: int,
    rng: np.random.Generator,
    stateful: Mapping[str, Stateful],
    stage: str = "train",
    checkpoint: Path | None = None,
    resume: bool = False,
    early_stopping: EarlyStopping | None = None,
    on_epoch_end: Callable[[int], Mapping[str, float]] | None = None,
    verbose: int = 1,
    batches: BatchFn | None = None,
) -> list[dict[str, Any]]:
    """Run ``step(batch_indices)`` over shuffled mini-batches for ``epochs`` epochs.

    ``step`` does one optimisation step and returns its loss terms (``"loss"`` the total).
    Each epoch's mean terms, plus what ``on_epoch_end(epoch)`` returns, go into the history.
    With ``checkpoint``, the state of ``stateful`` and the RNGs is saved after every epoch;
    with ``resume`` a stage continues from that file and gives the same result as an
    uninterrupted run. A NaN or infinite loss term stops with :class:`TrainingError`,
    leaving the last good checkpoint in place. ``batches(rng)`` draws an epoch's index arrays
    (``ceil(n_samples / batch_size)`` of them) instead of ``minibatches``.
    """
    history: list[dict[str, Any]] = []
    monitor: dict[str, float] = {}  # the last monitor scores, shown beside the loss
    start = 0
    if resume and checkpoint is not None and checkpoint.exists():
        saved = load_checkpoint(checkpoint, stateful, rng)
        history, start = saved["history"], saved["epoch"]
        if saved["done"]:
            return history
    n_steps = math.ceil(n_samples / batch_size)
    bar = tqdm(
        total=epochs * n_steps, initial=start * n_steps, desc=stage, disable=verbose <= 0,
        unit="batch", leave=verbose > 1, dynamic_ncols=True,
    )
    try:
        for epoch in range(start, epochs):
            tic, sums, seen = time.perf_counter(), {}, 0
            epoch_batches = (batches(rng) if batches is not None
                             else minibatches(n_samples, batch_size, rng))
            for i, idx in enumerate(epoch_batches):
                for name, value in step(idx).items():
                    value = float(value)
                    if not math.isfinite(value):
                        where = f"a checkpoint of epoch {epoch} is kept at {checkpoint}" if (
                            checkpoint is not None and epoch > 0) else "no checkpoint was written"
                        raise TrainingError(
                            f"loss term {name!r} became {value} in stage {stage!r}, epoch "
                            f"{epoch + 1}, step {i + 1}; {where}. Lower the learning rate or "
                            "check the input scale."
                        )
                    sums[name] = sums.get(name, 0.0) + value * len(idx)
                seen += len(idx)
                bar.set_postfix(_progress(sums, seen, monitor), refresh=False)
                bar.update()
            record = {"stage": stage, "epoch": epoch + 1}
            record.update({name: total / seen for name, total in sums.items()})
            record["seconds"] = time.perf_counter() - tic  # training only, not the monitor
            if on_epoch_end is not None:
                record.update(on_epoch_end(epoch))
            history.append(record)
            monitor = {k: v for k, v in record.items() if k.startswith("monitor_")} or monitor
            bar.set_postfix(_progress(sums, seen, monitor))
            done = epoch + 1 == epochs or (
                early_stopping is not None and early_stopping.should_stop(history)
            )
            if checkpoint is not None:
                save_checkpoint(
                    checkpoint, stateful, rng, epoch=epoch + 1, done=done, history=history
                )
            if done:
                break
    finally:
        bar.close()
    return history
