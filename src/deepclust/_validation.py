"""Input checks shared by the data loaders, the estimators and the CLI."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from ._arrays import in_blocks, row_blocks
from .exceptions import DeepclustError, InputTypeError


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean ...?' for the choices close to ``name`` (or '')."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def check_samples(X: object, *, what: str = "X") -> np.ndarray:
    """Return ``X`` as a finite float32 array of vectors (n, d) or images (n, h, w)/(n, c, h, w).

    ``(n, h, w)`` images get a channel axis. A memory-mapped array (``np.load(path,
    mmap_mode="r")``) larger than ``_arrays.BLOCK_BYTES`` stays mapped, with its stored dtype,
    and is checked in blocks of rows. Raises :class:`DeepclustError` with the fix.
    """
    if sp.issparse(X):
        raise DeepclustError(
            f"{what} is a sparse matrix; sparse input is not supported. Pass X.toarray()."
        )
    arr = np.asarray(X)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(
                f"{what} holds values that are not numbers ({exc}); deepclust needs real "
                "numbers: remove or encode the text before clustering."
            ) from exc
    if arr.dtype.kind == "c":
        raise DeepclustError(
            f"{what} has dtype {arr.dtype}: Complex data not supported. Pass the real part "
            "(X.real) or the modulus (np.abs(X)) if that is what you mean to cluster."
        )
    if arr.dtype.kind in "USVmM":
        raise DeepclustError(
            f"{what} has dtype {arr.dtype}; deepclust needs real numbers. "
            "Convert it with np.asarray(X, dtype=np.float32) after removing text values."
        )
    if arr.dtype.kind not in "biuf":
        raise DeepclustError(f"{what} has unsupported dtype {arr.dtype}; pass a numeric array.")
    if arr.ndim not in (2, 3, 4):
        raise DeepclustError(
            f"{what} has {arr.ndim} dimension(s) with shape {arr.shape}; expected (n_samples, "
            "n_features) vectors or (n_samples, [channels,] height, width) images. "
            "Reshape a single sample with X.reshape(1, -1)."
        )
    if arr.shape[0] == 0:
        raise DeepclustError(f"{what} is empty: 0 sample(s) (shape={arr.shape}) while a "
                             "minimum of 1 is required.")
    if arr.size == 0:
        raise DeepclustError(f"{what} is empty: 0 feature(s) (shape={arr.shape}) while a "
                             "minimum of 1 is required.")
    if not in_blocks(arr):
        arr = arr.astype(np.float32, copy=False)
    bad = sum(_non_finite_samples(arr[rows]) for rows in row_blocks(arr))
    if bad:
        raise DeepclustError(
            f"{what} contains NaN or infinite values in {bad} sample(s); "
            "remove or impute them (e.g. np.nan_to_num) before clustering."
        )
    if arr.ndim == 3:
        arr = arr[:, None]
    return np.ascontiguousarray(arr)


def _non_finite_samples(X: np.ndarray) -> int:
    """How many samples of ``X`` hold a NaN or an infinity."""
    if np.isfinite(X).all():
        return 0
    return int((~np.isfinite(X)).any(axis=tuple(range(1, X.ndim))).sum())


def check_n_clusters(n_clusters: object, n_samples: int, extra: int = 0) -> int:
    """Check that ``n_clusters`` is an integer in [2, n_samples - extra] (a method whose
    eigensolver needs more samples than components asks for ``extra``)."""
    if n_clusters == "auto":
        raise DeepclustError("n_clusters='auto' (K from the eigengap) is offered by DSCDAN, "
                             "SpectralNet and SpectralClustering; give this method a number.")
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int | np.integer):
        raise DeepclustError(f"n_clusters must be an integer >= 2 or 'auto', got "
                             f"{n_clusters!r}.")
    if n_clusters < 2:
        raise DeepclustError(f"n_clusters must be at least 2, got {n_clusters}.")
    if n_clusters + extra > n_samples:
        raise DeepclustError(
            f"n_clusters={n_clusters} needs at least {n_clusters + extra} samples here, got "
            f"{n_samples}; pass more samples or ask for fewer clusters."
        )
    return int(n_clusters)


def check_k_max(k_max: object, n_samples: int, extra: int = 0) -> int:
    """Check ``k_max``, the largest K that ``n_clusters="auto"`` considers: an integer >= 2
    whose ``k_max + 1`` eigenvalues the data can give."""
    if isinstance(k_max, bool) or not isinstance(k_max, int | np.integer) or k_max < 2:
        raise DeepclustError(f"k_max must be an integer >= 2, got {k_max!r}.")
    if k_max + 3 + extra > n_samples:
        raise DeepclustError(
            f"n_clusters='auto' compares up to k_max={k_max} clusters and needs at least "
            f"{k_max + 3 + extra} samples, got {n_samples}; lower k_max or give a number.")
    return int(k_max)
