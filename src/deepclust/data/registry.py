"""Built-in datasets: their official files, where those are looked up, and how they are read.

Look-up order for each file: ``data_dir`` -> ``$DEEPCLUST_DATA`` -> the user cache
(``$DEEPCLUST_CACHE`` or ``pooch.os_cache("deepclust")``) -> download into the cache. Every root
has the layout ``mnist/``, ``fashion_mnist/``, ``usps/`` with the original file names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pooch

from ..exceptions import DataError
from .dataset import Dataset
from .formats import read_idx, read_usps
from .synthetic import GENERATOR_SEED, _read_blobs, _read_sklearn, _read_topics


class RemoteFile(NamedTuple):
    """Where an official file is published and its SHA-256."""

    url: str
    sha256: str


_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_USPS = "https://hastie.su.domains/ElemStatLearn/datasets/"

#: Official files by path relative to a data root. Tests may swap entries (URL, hash).
FILES: dict[str, RemoteFile] = {
    "mnist/train-images-idx3-ubyte.gz": RemoteFile(
        _MNIST + "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "mnist/train-labels-idx1-ubyte.gz": RemoteFile(
        _MNIST + "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "mnist/t10k-images-idx3-ubyte.gz": RemoteFile(
        _MNIST + "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "mnist/t10k-labels-idx1-ubyte.gz": RemoteFile(
        _MNIST + "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
    "fashion_mnist/train-images-idx3-ubyte.gz": RemoteFile(
        _FASHION + "train-images-idx3-ubyte.gz",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ),
    "fashion_mnist/train-labels-idx1-ubyte.gz": RemoteFile(
        _FASHION + "train-labels-idx1-ubyte.gz",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    "fashion_mnist/t10k-images-idx3-ubyte.gz": RemoteFile(
        _FASHION + "t10k-images-idx3-ubyte.gz",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ),
    "fashion_mnist/t10k-labels-idx1-ubyte.gz": RemoteFile(
        _FASHION + "t10k-labels-idx1-ubyte.gz",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
    "usps/zip.train.gz": RemoteFile(
        _USPS + "zip.train.gz",
        "66ebf231ab51f2cf6ac1a892d0f98ccffee1079d7a5db638c1f11f366046ca16",
    ),
    "usps/zip.test.gz": RemoteFile(
        _USPS + "zip.test.gz",
        "8dacc3c6e136af6c3488de9e5113a7daf140c8c2f1f0b61c54ee02f03f1a962f",
    ),
}


def _read_digits(paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return X, digits.target.astype(np.int64)


def _read_idx_pairs(paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Read (images, labels) IDX file pairs, concatenated in order; pixels / 255."""
    images, labels = [], []
    for image_path, label_path in zip(paths[::2], paths[1::2], strict=True):
        img, lab = read_idx(image_path), read_idx(label_path)
        if img.ndim != 3 or lab.ndim != 1 or len(img) != len(lab):
            raise DataError(
                f"{image_path} (shape {img.shape}) and {label_path} (shape {lab.shape}) do not "
                "form a set of images and one label per image. Delete them so that they are "
                "downloaded again, or point DEEPCLUST_DATA at a folder with good copies."
            )
        images.append(img)
        labels.append(lab)
    X = np.concatenate(images)[:, None].astype(np.float32)
    X /= 255.0
    return X, np.concatenate(labels).astype(np.int64)


def _read_usps(paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Read ESL USPS files, concatenated in order; values rescaled with (x + 1) / 2."""
    parts = [read_usps(p) for p in paths]
    X = np.concatenate([x for x, _ in parts])[:, None]
    X = np.clip((X + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
    return X, np.concatenate([y for _, y in parts])


@dataclass(frozen=True)
class Builtin:
    """A built-in dataset: size, sample shape, classes, files (keys of FILES) and reader."""

    n_samples: int
    shape: tuple[int, ...]
    n_classes: int
    files: tuple[str, ...]
    read: Callable[[Sequence[Path]], tuple[np.ndarray, np.ndarray]]
    made: str = "bundled with scikit-learn"  # where a set without files comes from


def _idx_files(folder: str, *splits: str) -> tuple[str, ...]:
    return tuple(
        f"{folder}/{split}-{kind}-idx{nd}-ubyte.gz"
        for split in splits
        for kind, nd in (("images", 3), ("labels", 1))
    )


_SYNTHETIC = f"made on the spot (deepclust.data.synthetic, generator seed {GENERATOR_SEED})"
BUILTINS: dict[str, Builtin] = {
    "digits": Builtin(1797, (1, 8, 8), 10, (), _read_digits),
    "mnist": Builtin(70000, (1, 28, 28), 10, _idx_files("mnist", "train", "t10k"), _read_idx_pairs),
    "mnist-test": Builtin(10000, (1, 28, 28), 10, _idx_files("mnist", "t10k"), _read_idx_pairs),
    "fashion": Builtin(
        70000, (1, 28, 28), 10, _idx_files("fashion_mnist", "train", "t10k"), _read_idx_pairs
    ),
    "fashion-test": Builtin(
        10000, (1, 28, 28), 10, _idx_files("fashion_mnist", "t10k"), _read_idx_pairs
    ),
    "usps": Builtin(9298, (1, 16, 16), 10, ("usps/zip.train.gz", "usps/zip.test.gz"), _read_usps),
    # feature vectors, made from a fixed seed (data/synthetic.py) or shipped with scikit-learn
    "topics": Builtin(6000, (2000,), 20, (), _read_topics, _SYNTHETIC),
    "blobs": Builtin(6000, (200,), 30, (), _read_blobs, _SYNTHETIC),
    # the same mixture at the sizes of the scale benchmark (benchmarks/scale)
    **{f"blobs-{size}": Builtin(n, (200,), 30, (), partial(_read_blobs, n_samples=n), _SYNTHETIC)
       for size, n in (("10k", 10_000), ("100k", 100_000), ("1m", 1_000_000))},
    "wine": Builtin(178, (13,), 3, (), partial(_read_sklearn, name="wine")),
    "iris": Builtin(150, (4,), 3, (), partial(_read_sklearn, name="iris")),
    "breast-cancer": Builtin(569, (30,), 2, (), partial(_read_sklearn, name="breast_cancer")),
}


def cache_dir() -> Path:
    """The download cache: ``$DEEPCLUST_CACHE`` or ``pooch.os_cache("deepclust")``."""
    return Path(os.environ.get("DEEPCLUST_CACHE") or pooch.os_cache("deepclust")).expanduser()


def search_roots(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Data roots in look-up order: ``data_dir``, ``$DEEPCLUST_DATA``, then the cache (last)."""
    roots = [Path(data_dir).expanduser()] if data_dir is not None else []
    if env := os.environ.get("DEEPCLUST_DATA"):
        roots.append(Path(env).expanduser())
    return [*roots, cache_dir()]


def _find(relpath: str, roots: Sequence[Path]) -> Path | None:
    return next((root / relpath for root in roots if (root / relpath).is_file()), None)


def fetch(
    relpath: str, data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Path:
    """Return the local path of an official file after checking its SHA-256.

    The first copy found in :func:`search_roots` is used; with none, the file is downloaded into
    the cache (pooch writes a temporary file and renames it only once the hash matches).
    """
    remote = FILES[relpath]
    roots = search_roots(data_dir)
    found = _find(relpath, roots)
    if found is not None:
        actual = pooch.file_hash(str(found))
        if actual != remote.sha256:
            raise DataError(
                f"{found} is damaged or not the official file: its sha256 is {actual}, expected "
                f"{remote.sha256}. Delete it so that it is downloaded again from {remote.url}, "
                "or point DEEPCLUST_DATA at a folder with good copies."
            )
        return found
    folders = ", ".join(str(root / Path(relpath).parent) for root in roots)
    if not download:
        raise DataError(
            f"{relpath} was not found in {folders} and download=False. Put the file from "
            f"{remote.url} into one of those folders, or allow the download."
        )
    target = roots[-1] / relpath
    try:
        pooch.retrieve(
            remote.url,
            known_hash=f"sha256:{remote.sha256}",
            fname=target.name,
            path=target.parent,
            progressbar=True,
        )
    except (OSError, ValueError) as err:  # network errors (requests') are OSErrors
        raise DataError(
            f"Could not download {relpath} from {remote.url} ({err}). Download it by hand and "
            f"put it in one of: {folders} (or set DEEPCLUST_DATA to a folder laid out as "
            "mnist/, fashion_mnist/, usps/)."
        ) from None
    return target


def load_builtin(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Dataset:
    """Load the built-in dataset ``name`` (a key of :data:`BUILTINS`)."""
    spec = BUILTINS[name]
    X, y = spec.read([fetch(f, data_dir, download=download) for f in spec.files])
    return Dataset(X=X, y=y, name=name)


def _location(spec: Builtin, roots: Sequence[Path]) -> str:
    if not spec.files:
        return spec.made
    found = [_find(relpath, roots) for relpath in spec.files]
    if all(found):
        return ", ".join(sorted({str(path.parent) for path in found if path is not None}))
    missing = spec.files[found.index(None)]
    base_url = FILES[missing].url.rsplit("/", 1)[0]
    return f"not found: would download from {base_url}/ into {roots[-1] / Path(missing).parent}"


def list_datasets(data_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Describe each built-in dataset: name, n_samples, shape, n_classes and location.

    ``location`` is the folder holding its files, or where they would be downloaded from and to.
    Files are not hashed here; :func:`load_dataset` checks them.
    """
    roots = search_roots(data_dir)
    return [
        {
            "name": name,
            "n_samples": spec.n_samples,
            "shape": spec.shape,
            "n_classes": spec.n_classes,
            "location": _location(spec, roots),
        }
        for name, spec in BUILTINS.items()
    ]
