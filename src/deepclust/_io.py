"""Atomic file writes: a file is either complete or absent, never half-written."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_torch(obj: Any, path: str | Path) -> Path:
    """Atomically ``torch.save`` an object."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_torch(path: str | Path) -> Any:
    """Load a file written by :func:`save_torch` on the CPU, without running pickled code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def save_json(obj: Any, path: str | Path) -> Path:
    """Atomically write ``obj`` as indented JSON."""
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"))


def save_text(text: str, path: str | Path) -> Path:
    """Atomically write a text file."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))
