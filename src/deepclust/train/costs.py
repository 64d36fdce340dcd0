"""Wall time and peak memory of the phases of a fit (scaling, each training stage, the graph,
the final clustering), for the scale benchmarks."""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from collections.abc import Iterator


def peak_memory_mb() -> float:
    """The process's peak resident memory so far, in MB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)  # bytes on macOS, else KB


@contextlib.contextmanager
def measured(costs: dict[str, dict[str, float]], phase: str) -> Iterator[None]:
    """Add the block's wall seconds to ``costs[phase]["seconds"]`` and set
    ``costs[phase]["peak_mb"]`` to the process's peak memory when it ends: the phase that
    raised the peak is the one whose ``peak_mb`` first reaches it."""
    tic = time.perf_counter()
    try:
        yield
    finally:
        entry = costs.setdefault(phase, {"seconds": 0.0, "peak_mb": 0.0})
        entry["seconds"] += time.perf_counter() - tic
        entry["peak_mb"] = peak_memory_mb()
