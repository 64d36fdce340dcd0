"""Readers for the official benchmark files: gzipped IDX (MNIST, Fashion-MNIST), ESL USPS text."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from ..exceptions import DataError

_FIX = (
    "Delete it so that it is downloaded again, or point DEEPCLUST_DATA at a folder with good "
    "copies."
)
_IDX_UBYTE = b"\x00\x00\x08"  # magic number: two zero bytes, then type 0x08 (unsigned byte)
_USPS_COLUMNS = 1 + 16 * 16  # label, then a 16x16 image row-major


def gunzip(path: Path) -> bytes:
    """Return the decompressed content of a gzip file; a corrupt or truncated one is a DataError."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path} is not a valid gzip file ({err}). {_FIX}") from None


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes as a uint8 array of the shape in its header."""
    raw = gunzip(path)
    ndim = raw[3] if len(raw) >= 4 else 0
    header = 4 + 4 * ndim
    if raw[:3] != _IDX_UBYTE or ndim == 0 or len(raw) < header:
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes (magic number {raw[:4].hex()!r}). {_FIX}"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    if len(raw) - header != math.prod(shape):
        raise DataError(
            f"{path}: the IDX header announces shape {shape} ({math.prod(shape)} bytes) but the "
            f"file holds {len(raw) - header} bytes of data. {_FIX}"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def read_usps(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an ESL ``zip.*.gz`` file: images (n, 16, 16) in [-1, 1] and int64 labels."""
    text = gunzip(path)
    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError:
        raise DataError(f"{path} holds text that is not a number. {_FIX}") from None
    if values.size == 0 or values.size % _USPS_COLUMNS:
        raise DataError(
            f"{path} holds {values.size} numbers, not rows of {_USPS_COLUMNS} "
            f"(a label and 16x16 grey values). {_FIX}"
        )
    rows = values.reshape(-1, _USPS_COLUMNS)
    labels = rows[:, 0]
    if not np.array_equal(labels, np.round(labels)):
        raise DataError(f"{path} has non-integer labels in its first column. {_FIX}")
    return rows[:, 1:].reshape(-1, 16, 16), labels.astype(np.int64)
