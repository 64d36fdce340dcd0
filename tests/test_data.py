"""deepclust.data: built-in datasets, file look-up/verification/download, and user data formats."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from deepclust.data import Dataset, list_datasets, load_dataset, registry
from deepclust.data.formats import read_idx, read_usps
from deepclust.data.registry import BUILTINS, RemoteFile
from deepclust.exceptions import DataError

# Per-class counts from shared/data/README.md.
MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
USPS_TRAIN = [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]
USPS_TEST = [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]
FASHION_TRAIN, FASHION_TEST = [6000] * 10, [1000] * 10

FAKE_IMAGES = "mnist/t10k-images-idx3-ubyte.gz"
FAKE_LABELS = "mnist/t10k-labels-idx1-ubyte.gz"
UNREACHABLE = "http://127.0.0.1:9"  # discard port: connection refused at once


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty download cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("DEEPCLUST_CACHE", str(folder))
    return folder


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


# --- real benchmark files ($DEEPCLUST_DATA) ----------------------------------------------------


@pytest.fixture
def real_root() -> Path:
    root = os.environ.get("DEEPCLUST_DATA")
    if not root:
        pytest.skip("DEEPCLUST_DATA is not set; point it at the benchmark files (shared/data)")
    return Path(root)


def require_files(root: Path, name: str) -> None:
    missing = [f for f in BUILTINS[name].files if not (root / f).is_file()]
    if missing:
        pytest.skip(f"{name}: files absent under DEEPCLUST_DATA={root}: {missing}")


@pytest.mark.parametrize(
    ("name", "shape", "counts", "first_part"),
    [
        ("mnist", (1, 28, 28), np.add(MNIST_TRAIN, MNIST_TEST), MNIST_TRAIN),
        ("mnist-test", (1, 28, 28), MNIST_TEST, MNIST_TEST),
        ("fashion", (1, 28, 28), np.add(FASHION_TRAIN, FASHION_TEST), FASHION_TRAIN),
        ("fashion-test", (1, 28, 28), FASHION_TEST, FASHION_TEST),
        ("usps", (1, 16, 16), np.add(USPS_TRAIN, USPS_TEST), USPS_TRAIN),
    ],
)
def test_real_dataset(real_root: Path, name: str, shape, counts, first_part) -> None:
    require_files(real_root, name)
    ds = load_dataset(name)
    assert ds.name == name
    assert ds.X.shape == (int(np.sum(counts)), *shape) == (BUILTINS[name].n_samples, *shape)
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert np.bincount(ds.y).tolist() == list(counts)
    # train comes first, then test
    assert np.bincount(ds.y[: int(np.sum(first_part))]).tolist() == list(first_part)
    assert ds.n_classes == 10


def test_real_mnist_is_train_then_test(real_root: Path) -> None:
    require_files(real_root, "mnist")
    full, test = load_dataset("mnist"), load_dataset("mnist-test")
    np.testing.assert_array_equal(full.X[60000:], test.X)
    np.testing.assert_array_equal(full.y[60000:], test.y)
    assert np.allclose(test.X * 255, np.round(test.X * 255), atol=1e-4)  # pixel / 255


def test_real_list_datasets_locations(real_root: Path) -> None:
    require_files(real_root, "mnist")
    rows = {r["name"]: r for r in list_datasets()}
    assert rows["mnist"]["location"] == str(real_root / "mnist")


def test_digits_needs_no_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPCLUST_DATA", raising=False)
    ds = load_dataset("digits", download=False)
    assert ds.X.shape == (1797, 1, 8, 8) and ds.X.dtype == np.float32
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert ds.y.dtype == np.int64 and ds.n_classes == 10


# --- look-up order, checksums, download: a tiny stand-in for mnist-test -------------------------


def idx_gz(arr: np.ndarray, shape: tuple[int, ...] | None = None) -> bytes:
    """Gzipped IDX bytes for a uint8 array (``shape`` overrides the header's dimensions)."""
    dims = arr.shape if shape is None else shape
    header = bytes([0, 0, 8, len(dims)]) + np.array(dims, ">u4").tobytes()
    return gzip.compress(header + arr.astype(np.uint8).tobytes())


FAKE_PIXELS = np.random.default_rng(0).integers(0, 256, (6, 28, 28)).astype(np.uint8)
FAKE_BLOBS = {FAKE_IMAGES: idx_gz(FAKE_PIXELS), FAKE_LABELS: idx_gz(np.arange(6) % 3)}


def write_root(root: Path, blobs: dict[str, bytes] = FAKE_BLOBS) -> Path:
    for rel, blob in blobs.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(blob)
    return root


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data root holding a 6-image mnist-test, registered with its hashes and a dead URL."""
    for rel, blob in FAKE_BLOBS.items():
        sha = hashlib.sha256(blob).hexdigest()
        monkeypatch.setitem(registry.FILES, rel, RemoteFile(f"{UNREACHABLE}/{rel}", sha))
    monkeypatch.delenv("DEEPCLUST_DATA", raising=False)
    return write_root(tmp_path / "good")


def tamper(path: Path) -> Path:
    """Flip one bit of the file's last byte."""
    blob = path.read_bytes()
    path.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    return path


def test_loads_from_data_dir(fake: Path) -> None:
    ds = load_dataset("mnist-test", data_dir=fake)
    assert ds.X.shape == (6, 1, 28, 28) and ds.X.dtype == np.float32
    np.testing.assert_allclose(ds.X[:, 0], FAKE_PIXELS / 255, rtol=1e-6)
    assert ds.y.tolist() == [0, 1, 2, 0, 1, 2] and ds.n_classes == 3


def test_data_dir_wins_over_env(fake: Path, tmp_path: Path, monkeypatch) -> None:
    bad = tamper(write_root(tmp_path / "env") / FAKE_LABELS)
    monkeypatch.setenv("DEEPCLUST_DATA", str(tmp_path / "env"))
    assert load_dataset("mnist-test", data_dir=fake).X.shape[0] == 6
    with pytest.raises(DataError, match=str(bad)):  # without data_dir the env copy is used
        load_dataset("mnist-test")


def test_env_wins_over_cache_and_cache_is_used(fake: Path, cache: Path, monkeypatch) -> None:
    tamper(write_root(cache) / FAKE_LABELS)
    monkeypatch.setenv("DEEPCLUST_DATA", str(fake))
    assert load_dataset("mnist-test", download=False).X.shape[0] == 6
    write_root(cache)  # good copies in the cache: found there, no download attempted
    monkeypatch.delenv("DEEPCLUST_DATA")
    assert load_dataset("mnist-test", download=False).X.shape[0] == 6


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_checksum_mismatch_names_file_and_fix(fake: Path, damage: str) -> None:
    path = fake / FAKE_IMAGES
    if damage == "flip":
        tamper(path)
    else:
        path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError) as err:
        load_dataset("mnist-test", data_dir=fake)
    msg = str(err.value)
    assert str(path) in msg and registry.FILES[FAKE_IMAGES].sha256 in msg
    assert hashlib.sha256(path.read_bytes()).hexdigest() in msg
    assert "Delete it" in msg and "DEEPCLUST_DATA" in msg


def test_truncated_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.gz"
    blob = FAKE_BLOBS[FAKE_IMAGES]
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"not a valid gzip file.*Delete it") as err:
        read_idx(path)
    assert str(path) in str(err.value)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="not a valid gzip file"):
        read_usps(path)


def test_idx_header_checks(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(idx_gz(FAKE_PIXELS, shape=(7, 28, 28)))  # header claims 7 images, holds 6
    with pytest.raises(DataError, match=r"announces shape \(7, 28, 28\)"):
        read_idx(path)
    path.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + b"\x00" * 8))  # float type, not ubyte
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)
    path.write_bytes(idx_gz(FAKE_PIXELS))
    assert read_idx(path).shape == (6, 28, 28)


def test_usps_parser(tmp_path: Path) -> None:
    path = tmp_path / "zip.gz"
    rows = np.hstack([[[3.0], [7.0]], np.full((2, 256), -1.0)])
    path.write_bytes(gzip.compress("\n".join(" ".join(map(str, r)) for r in rows).encode()))
    X, y = read_usps(path)
    assert X.shape == (2, 16, 16) and y.tolist() == [3, 7]
    path.write_bytes(gzip.compress(b"1.0 0.5 0.5\n"))
    with pytest.raises(DataError, match="not rows of 257"):
        read_usps(path)


def test_unreachable_download_leaves_nothing(fake: Path, cache: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("mnist-test")
    msg = str(err.value)
    assert FAKE_IMAGES in msg and registry.FILES[FAKE_IMAGES].url in msg
    assert str(cache / "mnist") in msg  # where to put it by hand
    assert files_under(cache) == []


def test_download_false_does_not_try(fake: Path, cache: Path) -> None:
    with pytest.raises(DataError, match="download=False") as err:
        load_dataset("mnist-test", download=False)
    assert FAKE_IMAGES in str(err.value)
    assert not cache.exists()


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_download_into_cache_and_bad_hash(fake: Path, cache: Path, monkeypatch) -> None:
    def point_urls_at(base: str, images_sha: str | None = None) -> None:
        for rel in FAKE_BLOBS:
            sha = images_sha if rel == FAKE_IMAGES and images_sha else registry.FILES[rel].sha256
            monkeypatch.setitem(registry.FILES, rel, RemoteFile(f"{base}/{rel}", sha))

    with serve(fake) as base:
        point_urls_at(base)
        assert load_dataset("mnist-test").X.shape[0] == 6
    assert sorted(files_under(cache)) == sorted(cache / rel for rel in FAKE_BLOBS)
    assert load_dataset("mnist-test", download=False).n_classes == 3  # now from the cache

    for path in files_under(cache):
        path.unlink()
    with serve(fake) as base:
        point_urls_at(base, images_sha="0" * 64)
        with pytest.raises(DataError, match=f"Could not download {FAKE_IMAGES}"):
            load_dataset("mnist-test")
    assert files_under(cache) == []


def test_list_datasets(fake: Path, cache: Path) -> None:
    rows = {r["name"]: r for r in list_datasets(data_dir=fake)}
    assert list(rows) == ["digits", "mnist", "mnist-test", "fashion", "fashion-test", "usps",
                          "topics", "blobs", "blobs-10k", "blobs-100k", "blobs-1m", "wine",
                          "iris", "breast-cancer"]
    assert rows["topics"]["location"].startswith("made on the spot")
    assert rows["wine"]["location"] == "bundled with scikit-learn"
    assert rows["blobs-1m"]["n_samples"] == 1_000_000
    assert rows["mnist-test"]["location"] == str(fake / "mnist")
    assert rows["mnist"]["location"] == (
        "not found: would download from https://ossci-datasets.s3.amazonaws.com/mnist/ "
        f"into {cache / 'mnist'}"
    )
    assert rows["usps"]["location"].startswith("not found: would download from https://hastie")
    assert rows["digits"]["location"] == "bundled with scikit-learn"
    assert rows["usps"]["shape"] == (1, 16, 16) and rows["usps"]["n_samples"] == 9298
    assert [r["n_classes"] for r in rows.values()] == [10] * 6 + [20, 30, 30, 30, 30, 3, 3, 2]


def test_unknown_name_suggests() -> None:
    with pytest.raises(DataError, match=r"Did you mean 'mnist'") as err:
        load_dataset("mnsit")
    assert "fashion-test" in str(err.value)  # lists the built-in names
    with pytest.raises(DataError, match="neither a built-in dataset"):
        load_dataset(Path("no/such/file.npy"))


# --- user data -------------------------------------------------------------------------------


def test_array_scaling_rules() -> None:
    u8 = np.array([[0, 51], [255, 102]], dtype=np.uint8)
    np.testing.assert_allclose(load_dataset(u8).X, u8 / 255)
    unit = np.array([[0.2, 0.5], [0.3, 0.9]])
    np.testing.assert_array_equal(load_dataset(unit).X, unit.astype(np.float32))
    other = np.array([[-2.0, 0.0], [2.0, 4.0]])
    np.testing.assert_allclose(load_dataset(other).X, (other + 2) / 6)  # one global min/max
    big = np.array([[0, 1000], [500, 250]], dtype=np.int64)
    np.testing.assert_allclose(load_dataset(big).X, big / 1000)
    ds = load_dataset(np.zeros((3, 4, 5), dtype=np.uint8))
    assert ds.X.shape == (3, 1, 4, 5) and ds.y is None and ds.n_classes is None


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (5, 3), elements=st.floats(-1e6, 1e6)))
def test_scaling_is_affine_into_unit_interval(X: np.ndarray) -> None:
    out = load_dataset(X).X.astype(np.float64)
    assert out.min() >= 0 and out.max() <= 1
    if X.max() > X.min():  # a positive affine map: ordering and distance ratios kept
        slope = (out.max() - out.min()) / (X.max() - X.min())
        np.testing.assert_allclose(out, out.min() + slope * (X - X.min()), atol=1e-5)


@pytest.mark.parametrize(
    ("bad", "match"),
    [(np.array([[1.0, np.nan]]), "NaN"), (np.arange(5), "dimension"), (np.zeros((0, 3)), "empty")],
)
def test_array_validation_errors(bad: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        load_dataset(bad)


def test_npy_and_npz(tmp_path: Path) -> None:
    X = np.arange(12, dtype=np.uint8).reshape(4, 3)
    np.save(tmp_path / "a.npy", X)
    ds = load_dataset(tmp_path / "a.npy")
    assert ds.name == "a" and ds.y is None
    np.testing.assert_allclose(ds.X, X / 255)

    np.savez(tmp_path / "b.npz", features=X, labels=np.array([1, 1, 5, 5]))
    ds = load_dataset(str(tmp_path / "b.npz"))
    assert ds.y.tolist() == [1, 1, 5, 5] and ds.y.dtype == np.int64 and ds.n_classes == 2
    np.savez(tmp_path / "c.npz", X=X)
    assert load_dataset(tmp_path / "c.npz").y is None
    np.savez(tmp_path / "d.npz", X, X)  # arr_0, arr_1: which one are the samples?
    with pytest.raises(DataError, match=r"arr_0.*save the samples under 'X'"):
        load_dataset(tmp_path / "d.npz")
    np.savez(tmp_path / "e.npz", X=X, y=np.zeros(3))
    with pytest.raises(DataError, match="one label per sample"):
        load_dataset(tmp_path / "e.npz")


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_header_and_label_columns(tmp_path: Path) -> None:
    named = write(tmp_path / "h.csv", "a,b,label\n0.1,0.2,3\n0.4,0.5,1\n")
    ds = load_dataset(named)
    assert ds.X.shape == (2, 2) and ds.y.tolist() == [3, 1]
    np.testing.assert_allclose(ds.X, [[0.1, 0.2], [0.4, 0.5]], rtol=1e-6)

    by_name = write(tmp_path / "n.csv", "kind,a,b\ncat,0.1,0.2\ndog,0.4,0.5\ncat,0,1\n")
    ds = load_dataset(by_name, label_column="kind")
    assert ds.y.tolist() == [0, 1, 0] and ds.X.shape == (3, 2)

    plain = write(tmp_path / "p.csv", "1,0.1,0.2\n0,0.4,0.5\n")
    assert load_dataset(plain).X.shape == (2, 3)  # no header, no labels
    ds = load_dataset(plain, label_column=0)
    assert ds.y.tolist() == [1, 0] and ds.X.shape == (2, 2)
    ds = load_dataset(write(tmp_path / "t.csv", "cat,0.1\ndog,0.4\n"), label_column=0)
    assert ds.y.tolist() == [0, 1]  # text label in the first row is not a header


def test_csv_errors(tmp_path: Path) -> None:
    text = write(tmp_path / "x.csv", "a,b\n1,2\n3,oops\n")
    with pytest.raises(DataError, match=r"line 3, column 2 \('b'\): 'oops' is not a number"):
        load_dataset(text)
    ragged = write(tmp_path / "r.csv", "1,2\n3\n")
    with pytest.raises(DataError, match="line 2: 1 columns"):
        load_dataset(ragged)
    named = write(tmp_path / "n.csv", "a,labl\n1,2\n")
    with pytest.raises(DataError, match="Did you mean 'labl'"):
        load_dataset(named, label_column="label")
    with pytest.raises(DataError, match="out of range"):
        load_dataset(named, label_column=5)
    with pytest.raises(DataError, match="only to .csv"):
        load_dataset(np.zeros((2, 2)), label_column=0)


def save_png(path: Path, value: int, size=(5, 4), mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 255)).save(path)


def test_image_folder_with_classes(tmp_path: Path) -> None:
    for cls, value in [("b_dog", 255), ("a_cat", 51)]:
        for i in range(2):
            save_png(tmp_path / "imgs" / cls / f"{i}.png", value)
    (tmp_path / "imgs" / "notes.txt").write_text("ignored")
    ds = load_dataset(tmp_path / "imgs")
    assert ds.name == "imgs" and ds.X.shape == (4, 1, 4, 5) and ds.X.dtype == np.float32
    assert ds.y.tolist() == [0, 0, 1, 1]  # sorted sub-folder names: a_cat, b_dog
    np.testing.assert_allclose(ds.X[:, 0, 0, 0], [0.2, 0.2, 1.0, 1.0], rtol=1e-6)


def test_flat_image_folder_rgb(tmp_path: Path) -> None:
    save_png(tmp_path / "a.png", 0)
    save_png(tmp_path / "b.png", 255, mode="RGB")
    ds = load_dataset(tmp_path)
    assert ds.y is None and ds.X.shape == (2, 3, 4, 5)  # any colour image -> all RGB
    assert ds.X[1, :, 0, 0].tolist() == [1.0, 0.0, 1.0]


def test_image_folder_errors(tmp_path: Path) -> None:
    save_png(tmp_path / "mixed" / "a.png", 0, size=(5, 4))
    save_png(tmp_path / "mixed" / "b.png", 0, size=(8, 8))
    with pytest.raises(DataError, match=r"2 different sizes.*a.png is 5x4.*resize"):
        load_dataset(tmp_path / "mixed")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        load_dataset(tmp_path / "empty")
    with pytest.raises(DataError, match="unsupported format '.txt'"):
        load_dataset(write(tmp_path / "x.txt", "1,2"))


def test_dataset_container() -> None:
    ds = Dataset(X=np.zeros((3, 2), np.float32), y=np.array([0, 2, 2]), name="t")
    assert ds.n_classes == 2
