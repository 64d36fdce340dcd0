"""Data larger than memory: memory-mapped .npy input, checked and scaled in blocks of rows."""

import errno
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from conftest import shape_images

from deepclust import _arrays
from deepclust._arrays import is_mapped, map_rows, row_blocks, scratch_array
from deepclust._validation import check_samples
from deepclust.data import files, load_dataset
from deepclust.exceptions import DataError, DeepclustError
from deepclust.methods import DSCDAN
from deepclust.methods.deep import choose_scaling


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_arrays, "BLOCK_BYTES", 4096)


def mapped(tmp_path: Path, X: np.ndarray, name: str = "x.npy") -> np.ndarray:
    np.save(tmp_path / name, X)
    return np.load(tmp_path / name, mmap_mode="r")


def test_blocks_cover_a_mapped_array_and_memory_is_one_block(tmp_path, small_blocks):
    X = np.arange(300 * 16, dtype=np.float32).reshape(300, 16)  # 64 bytes a row: 64 per block
    M = mapped(tmp_path, X)
    assert is_mapped(M) and is_mapped(np.asarray(M)[:, None]) and not is_mapped(X)
    blocks = row_blocks(M)
    assert len(blocks) == 5
    assert np.array_equal(np.concatenate([M[b] for b in blocks]), X)
    assert row_blocks(X) == [slice(None)]
    small = mapped(tmp_path, X[:60].astype(np.float64), "small.npy")  # 128 bytes a row
    assert row_blocks(small) == [slice(0, 32), slice(32, 64)]
    few = mapped(tmp_path, X[:4].astype(np.float64), "few.npy")  # one block: as in memory
    assert row_blocks(few) == [slice(None)]
    checked = check_samples(few)
    assert not is_mapped(checked) and checked.dtype == np.float32
    out = map_rows(lambda rows: rows * 2, M)
    assert is_mapped(out) and out.dtype == np.float32 and np.array_equal(out, X * 2)


def test_check_samples_keeps_the_mapping_and_counts_bad_samples_in_every_block(
        tmp_path, small_blocks):
    images = mapped(tmp_path, np.zeros((500, 28, 28), np.uint8))
    checked = check_samples(images)
    assert is_mapped(checked) and checked.dtype == np.uint8 and checked.shape == (500, 1, 28, 28)
    X = np.ones((300, 16), np.float32)
    X[3, 1] = X[250, 0] = np.nan  # rows in the first and the last block
    with pytest.raises(DeepclustError, match="NaN or infinite values in 2 sample"):
        check_samples(mapped(tmp_path, X, "nan.npy"))


def test_a_large_npy_file_is_mapped_and_scaled_as_in_memory(tmp_path, monkeypatch,
                                                            small_blocks):
    pixels = np.random.default_rng(0).integers(0, 256, (200, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "pixels.npy", pixels)
    in_memory = load_dataset(tmp_path / "pixels.npy").X
    assert not is_mapped(in_memory)
    monkeypatch.setattr(files, "MMAP_MIN_BYTES", 0)
    from_disk = load_dataset(tmp_path / "pixels.npy").X
    assert is_mapped(from_disk) and from_disk.dtype == np.float32
    assert np.array_equal(from_disk, in_memory)


def test_scaling_of_mapped_vectors_matches_memory(tmp_path, small_blocks):
    X = np.random.default_rng(1).normal(3, 2, (500, 16)).astype(np.float32)
    kind, shift, scale = choose_scaling(mapped(tmp_path, X))
    kind_mem, shift_mem, scale_mem = choose_scaling(X)
    assert kind == kind_mem == "standard"
    assert np.array_equal(shift, shift_mem) and scale == pytest.approx(scale_mem, rel=1e-6)


def test_a_fit_on_mapped_images_gives_the_labels_of_a_fit_in_memory(tmp_path, small_blocks):
    X, _ = shape_images(30)
    params = dict(latent_dim=4, conv_width=1, spectral_hidden=(16,),
                  batch_size=30, spectral_batch_size=60, pretrain_epochs=1, spectral_epochs=1,
                  joint_epochs=1, verbose=0)
    M = mapped(tmp_path, X)
    model = DSCDAN(3, **params).fit(M)
    reference = DSCDAN(3, **params).fit(X)
    assert np.array_equal(model.labels_, reference.labels_)
    assert np.array_equal(model.predict(M), reference.predict(X))


def test_mapped_input_is_never_copied_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(_arrays, "BLOCK_BYTES", 2**20)
    X = np.random.default_rng(2).normal(size=(8192, 512)).astype(np.float32)  # 16 MiB
    M = mapped(tmp_path, X)
    del X
    model = DSCDAN(3)
    tracemalloc.start()  # numpy's allocations; the scratch copy is a mapped file
    checked = check_samples(M)
    model.scaling_, model.data_shift_, model.data_scale_ = choose_scaling(checked)
    tensor = model._to_tensor(checked)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert tensor.shape == (8192, 512)
    assert peak < 6 * 2**20, f"{peak / 2**20:.1f} MiB allocated for 16 MiB of mapped data"


def test_a_full_scratch_disk_is_a_clear_error(tmp_path, monkeypatch):
    if not hasattr(os, "posix_fallocate"):
        pytest.skip("the space is reserved up front only where posix_fallocate exists")

    def no_room(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", no_room)
    monkeypatch.setenv("DEEPCLUST_SCRATCH", str(tmp_path))
    with pytest.raises(DeepclustError, match="No space left"):
        scratch_array((1000, 10))
    assert list(tmp_path.iterdir()) == []


def test_a_missing_scratch_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPCLUST_SCRATCH", str(tmp_path / "absent"))
    with pytest.raises(DeepclustError, match="set DEEPCLUST_SCRATCH to a writable folder with"):
        scratch_array((10, 10))


def test_an_unreadable_npy_file_is_still_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MMAP_MIN_BYTES", 0)
    (tmp_path / "bad.npy").write_bytes(b"not a numpy file")
    with pytest.raises(DataError, match="as a .npy file"):
        load_dataset(tmp_path / "bad.npy")
