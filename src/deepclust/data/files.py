"""User data: numpy arrays, ``.npy``, ``.npz``, ``.csv`` files and folders of images.

Scaling to [0, 1]: integer data within 0..255 is divided by 255; data already within [0, 1] is
kept; anything else is min-max scaled with one global min and max over the whole array, so the
geometry (relative distances) is preserved.

A ``.npy`` file of ``MMAP_MIN_BYTES`` or more is memory-mapped instead of read: it is checked,
and scaled into an anonymous scratch file, in blocks of rows (``deepclust._arrays``), so data
larger than memory can be clustered.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._arrays import map_rows
from .._validation import check_samples, suggest
from ..exceptions import DataError, DeepclustError
from .dataset import Dataset

NPZ_SAMPLE_KEYS = ("X", "x", "data", "features")
NPZ_LABEL_KEYS = ("y", "labels", "label", "target")
CSV_LABEL_NAMES = ("label", "labels", "y", "class", "target")
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)
FILE_FORMATS = ".npy, .npz, .csv or a folder of images"
MMAP_MIN_BYTES = 2**30  # ours: .npy files from 1 GiB up are memory-mapped, not read into memory


def _to_unit(X: np.ndarray, *, integer: bool) -> np.ndarray:
    """Scale ``X`` to [0, 1] by the rules above (float32, a memory-mapped ``X`` in blocks);
    ``integer``: the source was integer."""
    lo, hi = float(X.min()), float(X.max())
    if integer and lo >= 0 and hi <= 255:
        return map_rows(lambda rows: rows / np.float32(255), X)
    if lo >= 0 and hi <= 1:
        return X
    if hi == lo:
        return map_rows(lambda rows: np.zeros(rows.shape, np.float32), X)
    return map_rows(lambda rows: np.clip((rows - np.float32(lo)) / np.float32(hi - lo), 0.0, 1.0),
                    X)


def _samples(values: object, what: str) -> np.ndarray:
    """Validate samples with the shared checks, then scale them to [0, 1]."""
    arr = np.asarray(values)
    try:
        X = check_samples(arr, what=what)
    except DeepclustError as err:
        raise DataError(str(err)) from None
    return _to_unit(X, integer=arr.dtype.kind in "iu")


def _labels(values: object, n_samples: int, what: str) -> np.ndarray:
    """Labels as int64 codes: integers are kept, text labels become indices of sorted names."""
    y = np.asarray(values)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n_samples:
        raise DataError(f"{what} has shape {y.shape}; expected one label per sample ({n_samples}).")
    if y.dtype.kind in "biu":
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.array_equal(y, np.round(y)):
            raise DataError(f"{what} holds non-integer numbers; labels must be integers or names.")
        return y.astype(np.int64)
    return np.unique(y.astype(str), return_inverse=True)[1].astype(np.int64)


def from_array(values: object, name: str = "array") -> Dataset:
    """Wrap an in-memory array (no labels)."""
    return Dataset(X=_samples(values, what=name), y=None, name=name)


def load_file(path: Path, *, label_column: int | str | None = None) -> Dataset:
    """Load a ``.npy``, ``.npz`` or ``.csv`` file or a folder of images."""
    if path.is_dir():
        return _load_image_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            mapped = path.stat().st_size >= MMAP_MIN_BYTES
            values = np.load(path, mmap_mode="r" if mapped else None, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataError(f"Could not read {path} as a .npy file: {err}") from None
        return Dataset(X=_samples(values, what=f"the array in {path}"), y=None, name=path.stem)
    if suffix == ".npz":
        return _load_npz(path)
    if suffix == ".csv":
        return _load_csv(path, label_column)
    raise DataError(f"{path} has an unsupported format {suffix!r}; use {FILE_FORMATS}.")


def _load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as err:
        raise DataError(f"Could not read {path} as a .npz file: {err}") from None
    x_key = next((k for k in NPZ_SAMPLE_KEYS if k in arrays), None)
    if x_key is None and len(arrays) == 1:
        x_key = next(iter(arrays))
    if x_key is None:
        raise DataError(
            f"{path} holds arrays {sorted(arrays)} but none is named "
            f"{', '.join(NPZ_SAMPLE_KEYS)}; save the samples under 'X' (and labels under 'y')."
        )
    X = _samples(arrays[x_key], what=f"{path}['{x_key}']")
    y_key = next((k for k in NPZ_LABEL_KEYS if k in arrays), None)
    y = None if y_key is None else _labels(arrays[y_key], len(X), what=f"{path}['{y_key}']")
    return Dataset(X=X, y=y, name=path.stem)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _label_index(
    label_column: int | str | None, header: Sequence[str] | None, n_columns: int, path: Path
) -> int | None:
    """Resolve ``label_column`` (name or index, or a header named like a label) to an index."""
    if isinstance(label_column, str):
        if header is None or label_column not in header:
            columns = f"its columns are {list(header)}" if header else "it has no header row"
            raise DataError(
                f"label_column={label_column!r} is not a column of {path}; {columns}."
                + suggest(label_column, header or ())
            )
        return list(header).index(label_column)
    if label_column is not None:
        if not -n_columns <= label_column < n_columns:
            raise DataError(
                f"label_column={label_column} is out of range for {path}, which has "
                f"{n_columns} columns."
            )
        return label_column % n_columns
    if header is not None:
        names = [h.strip().lower() for h in header]
        return next((names.index(n) for n in CSV_LABEL_NAMES if n in names), None)
    return None


def _load_csv(path: Path, label_column: int | str | None) -> Dataset:
    """Read a CSV of numbers, with an optional header row and an optional label column."""
    with path.open(newline="") as f:
        reader = csv.reader(f)
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    if not rows:
        raise DataError(f"{path} is empty; it needs one row per sample.")
    first = rows[0][1]
    n_columns = len(first)
    # The first row is a header when it has text outside a label column given by index.
    skip = label_column % n_columns if isinstance(label_column, int) and n_columns else None
    has_header = isinstance(label_column, str) or not all(
        _is_number(c) for i, c in enumerate(first) if i != skip
    )
    header = [c.strip() for c in first] if has_header else None
    body = rows[1:] if has_header else rows
    if not body:
        raise DataError(f"{path} has a header row but no data rows.")
    label_at = _label_index(label_column, header, n_columns, path)
    for line, row in body:
        if len(row) != n_columns:
            raise DataError(
                f"{path}, line {line}: {len(row)} columns where the first row has {n_columns}."
            )
    table = np.array([row for _, row in body], dtype=str)
    labels = None if label_at is None else table[:, label_at]
    features = np.delete(table, label_at, axis=1) if label_at is not None else table
    kept = [i for i in range(n_columns) if i != label_at]
    try:
        values = features.astype(np.float64)
    except ValueError:
        bad = next(
            (line, col, cell)
            for (line, _), cells in zip(body, features, strict=True)
            for col, cell in zip(kept, cells, strict=True)
            if not _is_number(cell)
        )
        line, col, cell = bad
        name = f" ({header[col]!r})" if header else ""
        raise DataError(
            f"{path}, line {line}, column {col + 1}{name}: {str(cell)!r} is not a number. "
            "Every column except the label column must be numeric; pass label_column= to name "
            "the label column."
        ) from None
    X = _samples(values, what=f"the data in {path}")
    y = None if labels is None else _labels(_numeric_or_text(labels), len(X), f"labels in {path}")
    return Dataset(X=X, y=y, name=path.stem)


def _numeric_or_text(labels: np.ndarray) -> np.ndarray:
    """CSV label cells as numbers when they all are, else as stripped text (class names)."""
    stripped = np.char.strip(labels)
    return stripped.astype(np.float64) if all(_is_number(c) for c in stripped) else stripped


def _load_image_folder(folder: Path) -> Dataset:
    """Images directly in ``folder``, or one sub-folder per class (labels: sorted folder names)."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError("Reading a folder of images needs Pillow: pip install pillow") from None

    def images_in(d: Path) -> list[Path]:
        return sorted(
            p
            for p in d.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )

    classes = sorted(d for d in folder.iterdir() if d.is_dir() and images_in(d))
    flat = images_in(folder)
    if classes and flat:
        raise DataError(
            f"{folder} has both images and class sub-folders; put every image in a class "
            "sub-folder, or all of them directly in the folder."
        )
    if classes:
        groups = [(label, images_in(d)) for label, d in enumerate(classes)]
        files = [p for _, paths in groups for p in paths]
        y = np.concatenate([np.full(len(paths), label, np.int64) for label, paths in groups])
    elif flat:
        files, y = flat, None
    else:
        raise DataError(
            f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}), "
            "neither directly nor in class sub-folders."
        )
    opened = []
    for p in files:
        try:
            with Image.open(p) as img:
                opened.append((p, img.copy()))
        except OSError as err:
            raise DataError(f"Could not read image {p}: {err}") from None
    (first, ref), *rest = opened
    other = next(((p, img) for p, img in rest if img.size != ref.size), None)
    if other is not None:
        n_sizes = len({img.size for _, img in opened})
        raise DataError(
            f"The images in {folder} have {n_sizes} different sizes (e.g. {first.name} is "
            f"{ref.width}x{ref.height}, {other[0].name} is {other[1].width}x{other[1].height}); "
            "resize them all to one size first, e.g. with PIL: "
            "Image.open(p).resize((28, 28)).save(p)."
        )
    if all(len(img.getbands()) == 1 and img.mode != "P" for _, img in opened):
        arrays = [np.asarray(img.convert("L") if img.mode == "1" else img) for _, img in opened]
        pixels = np.stack(arrays)  # (n, h, w): check_samples adds the channel axis
    else:
        pixels = np.stack([np.asarray(img.convert("RGB")) for _, img in opened])
        pixels = pixels.transpose(0, 3, 1, 2)
    return Dataset(X=_samples(pixels, what=f"the images in {folder}"), y=y, name=folder.name)
