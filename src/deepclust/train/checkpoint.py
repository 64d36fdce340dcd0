"""Checkpoints of a training stage: modules, optimisers, RNG states, history; atomic."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn
from torch.optim import Optimizer

from .._io import load_torch, save_torch
from ..exceptions import DeepclustError
from .seeding import get_rng_state, set_rng_state

Stateful = nn.Module | Optimizer


def save_checkpoint(
    path: Path,
    stateful: Mapping[str, Stateful],
    rng: np.random.Generator,
    *,
    epoch: int,
    done: bool,
    history: list[dict[str, Any]],
) -> None:
    """Write the state after ``epoch`` epochs (``done``: the stage has finished)."""
    save_torch(
        {
            "epoch": epoch,
            "done": done,
            "history": history,
            "state": {name: obj.state_dict() for name, obj in stateful.items()},
            "rng": get_rng_state(rng),
        },
        path,
    )


def load_checkpoint(
    path: Path, stateful: Mapping[str, Stateful], rng: np.random.Generator
) -> dict[str, Any]:
    """Restore ``stateful`` and ``rng`` from ``path``; return its epoch, done flag and history."""
    try:
        ckpt = load_torch(path)
        for name, obj in stateful.items():
            obj.load_state_dict(ckpt["state"][name])
        set_rng_state(rng, ckpt["rng"])
    except (KeyError, RuntimeError, EOFError, ValueError) as exc:
        raise DeepclustError(
            f"checkpoint {path} does not match this model or is damaged ({exc}); "
            "delete it to start this stage afresh, or resume with the settings it was made with."
        ) from exc
    return {"epoch": ckpt["epoch"], "done": ckpt["done"], "history": ckpt["history"]}
