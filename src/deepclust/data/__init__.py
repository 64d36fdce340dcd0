"""Datasets in: built-in benchmarks (with file look-up and download) and the user's own data."""

from __future__ import annotations

import os
from pathlib import Path

from numpy.typing import ArrayLike

from .._validation import suggest
from ..exceptions import DataError
from .dataset import Dataset
from .files import FILE_FORMATS, from_array, load_file
from .registry import BUILTINS, list_datasets, load_builtin

__all__ = ["Dataset", "list_datasets", "load_dataset"]


def load_dataset(
    data: str | os.PathLike[str] | ArrayLike,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    label_column: int | str | None = None,
) -> Dataset:
    """Load a built-in dataset by name, a file or folder by path, or an array.

    Built-in names (``list_datasets()``): ``digits`` (scikit-learn's 8x8 digits, no files needed),
    ``mnist`` and ``fashion`` (70,000 = train then test), ``mnist-test`` and ``fashion-test``
    (10,000), ``usps`` (9,298 = train then test). A name wins over a same-named path; write
    ``./mnist`` for the path. Their files are looked up in ``data_dir``, then
    ``$DEEPCLUST_DATA``, then the user cache (``$DEEPCLUST_CACHE``), each checked against its
    SHA-256, and downloaded into the cache when missing (unless ``download=False``).

    User data: a numpy array (or array-like), ``.npy``, ``.npz`` (samples under X/x/data/features,
    optional labels under y/labels/label/target), ``.csv`` (header row detected when the first
    row is not numeric; labels from ``label_column``, a name or index, or from a header column
    named label/labels/y/class/target) or a folder of images, optionally one sub-folder per
    class (labels follow the sorted sub-folder names; all images must share a size).

    Scaling of user data to float32 in [0, 1]: integers within 0..255 are divided by 255; data
    already within [0, 1] is kept; anything else is min-max scaled with one global min and max
    over the whole array, which preserves its geometry. Built-in images are pixel / 255
    (USPS: (x + 1) / 2). A ``.npy`` file of ``files.MMAP_MIN_BYTES`` (1 GiB) or more is
    memory-mapped, and scaled in blocks into a mapped scratch file (``deepclust._arrays``).

    Raises :class:`~deepclust.exceptions.DataError` with the fix for every problem.
    """
    is_path = isinstance(data, str | os.PathLike)
    if label_column is not None and not (is_path and Path(data).suffix.lower() == ".csv"):
        raise DataError("label_column applies only to .csv files.")
    if isinstance(data, str) and data.lower() in BUILTINS:
        return load_builtin(data.lower(), data_dir, download=download)
    if not is_path:
        return from_array(data)
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(
            f"{str(data)!r} is neither a built-in dataset ({', '.join(BUILTINS)}) nor an "
            f"existing file or folder ({FILE_FORMATS}).{suggest(str(data).lower(), BUILTINS)}"
        )
    return load_file(path, label_column=label_column)
