"""Arrays larger than memory: memory-mapped input is read, and its scaled copies written, in
blocks of rows, the copies into anonymous scratch files (``$DEEPCLUST_SCRATCH``, else the
system's temporary folder) that the system deletes when they are no longer mapped.

Arrays in memory, and mapped ones of at most one block, are one block: every function here
treats them exactly as before (``in_blocks``).
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Callable

import numpy as np

from .exceptions import DeepclustError

BLOCK_BYTES = 64 * 2**20  # ours: rows read at a time from a mapped array, about 64 MiB


def is_mapped(X: object) -> bool:
    """Whether ``X`` is a view of a memory-mapped file (``np.load(..., mmap_mode="r")``,
    ``np.memmap``), however many views deep."""
    while isinstance(X, np.ndarray):
        if isinstance(X, np.memmap):
            return True
        X = X.base
    return isinstance(X, mmap.mmap)


def in_blocks(X: np.ndarray) -> bool:
    """Whether ``X`` is read in blocks: memory-mapped and larger than one block."""
    return is_mapped(X) and X.nbytes > BLOCK_BYTES


def row_blocks(X: np.ndarray) -> list[slice]:
    """Slices of about ``BLOCK_BYTES`` of rows covering ``X`` when it is read in blocks
    (``in_blocks``); else one slice of all."""
    if not in_blocks(X):
        return [slice(None)]
    rows = max(1, BLOCK_BYTES // max(1, X[:1].nbytes))
    return [slice(i, i + rows) for i in range(0, len(X), rows)]


def scratch_array(shape: tuple[int, ...], dtype: np.dtype | type = np.float32) -> np.memmap:
    """A writable array mapped onto an anonymous file in ``$DEEPCLUST_SCRATCH`` (default: the
    system's temporary folder), its space reserved up front so that a full disk is an error
    here rather than a crash later; the file goes when the array does."""
    folder = os.environ.get("DEEPCLUST_SCRATCH") or tempfile.gettempdir()
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    try:
        with tempfile.TemporaryFile(dir=folder) as handle:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(handle.fileno(), 0, max(nbytes, 1))
            return np.memmap(handle, dtype=dtype, mode="w+", shape=shape)
    except OSError as err:
        raise DeepclustError(
            f"Cannot make a {nbytes / 2**20:,.0f} MiB scratch file for the scaled copy of the "
            f"memory-mapped data in {folder} ({err}); set DEEPCLUST_SCRATCH to a writable "
            "folder with that much free disk space.") from None


def map_rows(fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
    """``fn(X)``, or for an ``X`` read in blocks, ``fn`` of each block of rows written into a
    float32 scratch array (``fn`` must act row by row)."""
    if not in_blocks(X):
        return fn(X)
    out = scratch_array(X.shape)
    for rows in row_blocks(X):
        out[rows] = fn(np.asarray(X[rows]))
    out.flush()
    return out
