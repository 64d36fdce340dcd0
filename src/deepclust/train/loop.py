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

from .._shards import world
from ..exceptions import TrainingError
from .checkpoint import Stateful, load_checkpoint, save_checkpoint
from .distributed import is_main, mean_over_ranks

StepFn = Callable[[np.ndarray], Mapping[str, torch.Tensor | float]]
BatchFn = Callable[[np.random.Generator], list[np.ndarray]]
POSTFIX_SECONDS = 1.0  # ours: the running loss in the progress bar is refreshed this often


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


def _progress(running: float | None, monitor: Mapping[str, float]) -> dict[str, str]:
    """The progress bar's postfix: the epoch's running mean loss and the last monitor
    scores (ACC/NMI of k-means on the embedding, when labels are watched)."""
    shown = {"loss": f"{running:.4g}"} if running is not None else {}
    return shown | {k.removeprefix("monitor_"): f"{v:.3f}" for k, v in monitor.items()
                    if k != "monitor_ari"}


def _nonfinite(name: str, value: float, *, stage: str, epoch: int, step: int,
               checkpoint: Path | None) -> TrainingError:
    """The error for loss term ``name`` turned NaN or infinite at ``step`` of ``epoch``."""
    where = f"a checkpoint of epoch {epoch} is kept at {checkpoint}" if (
        checkpoint is not None and epoch > 0) else "no checkpoint was written"
    return TrainingError(
        f"loss term {name!r} became {value} in stage {stage!r}, epoch {epoch + 1}, step "
        f"{step + 1}; {where}. Lower the learning rate or check the input scale.")


def _epoch_means(terms: Mapping[str, list[tuple[torch.Tensor | float, int]]], seen: int,
                 **where: Any) -> dict[str, float]:
    """Each loss term's sum over the epoch's steps of value × batch size, over the ``seen``
    samples: every step's values (``terms``: (value, batch size) per step) read from the
    device at once, here, not one synchronisation per term and step; under ``torchrun``
    averaged over the processes' shards. A NaN or infinite value raises ``_nonfinite`` for the
    first step and term it hit (``where``: stage, epoch and checkpoint)."""
    values = {name: mean_over_ranks(
        torch.stack([v.reshape(()).double() for v, _ in steps]).cpu().numpy()
        if all(isinstance(v, torch.Tensor) for v, _ in steps)
        else np.array([float(v) for v, _ in steps])) for name, steps in terms.items()}
    bad = {name: int(np.argmax(~np.isfinite(v))) for name, v in values.items()
           if not np.isfinite(v).all()}
    if bad:
        name = min(bad, key=bad.get)  # the earliest step; in a tie the first term
        raise _nonfinite(name, values[name][bad[name]], step=bad[name], **where)
    return {name: float(v @ np.array([n for _, n in terms[name]], np.float64)) / seen
            for name, v in values.items()}


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
    uninterrupted run. The terms stay where ``step`` computed them (a GPU) and are read once
    per epoch, and the running loss in the progress bar once a second at most. A NaN or
    infinite term stops the stage with :class:`TrainingError` naming the term, epoch and
    step, leaving the last good checkpoint in place: at once for terms on the CPU in one
    process; at the end of the epoch for terms on an accelerator and under ``torchrun``, where
    the processes reach that check together (one that stopped alone would leave the others
    waiting in their next collective; a NaN reaches every process's weights with the
    averaged gradients). ``batches(rng)`` draws an epoch's index arrays
    (``ceil(n_samples / batch_size)`` of them) instead of ``minibatches``.
    """
    history: list[dict[str, Any]] = []
    monitor: dict[str, float] = {}  # the last monitor scores, shown beside the loss
    start = 0
    check_at_once = world()[1] == 1  # torchrun: at the end of the epoch, on every process
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
            tic, shown = time.perf_counter(), time.perf_counter()
            terms: dict[str, list[tuple[torch.Tensor | float, int]]] = {}
            seen = 0
            epoch_batches = (batches(rng) if batches is not None
                             else minibatches(n_samples, batch_size, rng))
            loss_sum: torch.Tensor | float = 0.0  # on the device: read once a second at most
            where = {"stage": stage, "epoch": epoch, "checkpoint": checkpoint}
            for i, idx in enumerate(epoch_batches):
                for name, value in step(idx).items():
                    terms.setdefault(name, []).append((value, len(idx)))
                    on_host = not isinstance(value, torch.Tensor) or value.device.type == "cpu"
                    if check_at_once and on_host and not math.isfinite(float(value)):
                        raise _nonfinite(name, float(value), step=i, **where)
                seen += len(idx)
                if "loss" in terms:
                    loss_sum = loss_sum + terms["loss"][-1][0] * len(idx)
                    if time.perf_counter() - shown > POSTFIX_SECONDS:
                        shown = time.perf_counter()
                        bar.set_postfix(_progress(float(loss_sum) / seen, monitor),
                                        refresh=False)
                bar.update()
            record = {"stage": stage, "epoch": epoch + 1}
            record.update(_epoch_means(terms, seen, **where))
            record["seconds"] = time.perf_counter() - tic  # training only, not the monitor
            if on_epoch_end is not None:
                record.update(on_epoch_end(epoch))
            history.append(record)
            monitor = {k: v for k, v in record.items() if k.startswith("monitor_")} or monitor
            bar.set_postfix(_progress(record.get("loss"), monitor))
            done = epoch + 1 == epochs or (
                early_stopping is not None and early_stopping.should_stop(history)
            )
            if checkpoint is not None and is_main():  # torchrun: rank 0 writes
                save_checkpoint(
                    checkpoint, stateful, rng, epoch=epoch + 1, done=done, history=history
                )
            if done:
                break
    finally:
        bar.close()
    return history
