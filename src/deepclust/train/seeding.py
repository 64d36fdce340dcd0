"""Seeding and RNG state, so that a seed fixes a fit and a checkpoint can resume it exactly."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


def seed_from(random_state: int | np.random.RandomState | None) -> int:
    """An integer seed from a scikit-learn style ``random_state`` (None draws a fresh one)."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    return int(random_state)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[np.random.Generator]:
    """Seed torch inside the block (the caller's global RNG state is restored after) and
    yield a numpy Generator for everything numpy-side."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield np.random.default_rng(seed)


def get_rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The numpy and torch RNG states, in a form a checkpoint can hold."""
    state = {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned."""
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
