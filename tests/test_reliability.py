"""Interruption, determinism, numerical safety and bad input, for every estimator."""

import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import make_blobs

from deepclust.cli import read_labels
from deepclust.exceptions import DeepclustError, TrainingError
from deepclust.methods import DSCDAN, METHODS, BaseClusterer, KMeans
from deepclust.methods.base import CollapseWarning

TINY = dict(latent_dim=4, mlp_hidden=(16,), spectral_hidden=(16,), batch_size=32,
            spectral_batch_size=64, pretrain_epochs=2, spectral_epochs=2, joint_epochs=1,
            verbose=0, device="cpu")
TINY_AE = dict(latent_dim=3, mlp_hidden=(16,), batch_size=32, pretrain_epochs=2, verbose=0,
               device="cpu")
FAST = {  # every registered method must be listed: the tests run each on tiny settings
    "kmeans": {}, "spectral": {}, "dscdan": TINY,
    "dcfae": dict(latent_dim=4, widths=(4, 8), disc_widths=(4, 8), mlp_hidden=(16,),
                  disc_hidden=(16,), grouper_hidden=(16,), batch_size=32, pretrain_epochs=2,
                  cluster_epochs=1, n_init=2, verbose=0, device="cpu"),
    **{name: dict(TINY_AE, cluster_epochs=1, n_init=2) for name in ("dec", "idec")},
    "spectralnet": dict(TINY_AE, spectral_hidden=(16,), spectral_batch_size=64,
                        spectral_epochs=2),
    "n2d": dict(TINY_AE, umap_neighbors=5),
}


def test_every_method_has_tiny_settings():
    assert set(FAST) == set(METHODS)


def make(name: str, n_clusters: int = 3, **params) -> BaseClusterer:
    return METHODS[name](n_clusters, **{**FAST[name], **params})


@pytest.fixture(scope="module")
def noisy():
    X, _ = make_blobs(150, n_features=6, centers=5, cluster_std=3.0, random_state=0)
    return ((X - X.min()) / (X.max() - X.min())).astype(np.float32)


@pytest.mark.parametrize("name", list(METHODS))
def test_same_seed_same_labels_twice(name, noisy):
    a, b = make(name, random_state=11).fit(noisy), make(name, random_state=11).fit(noisy)
    assert np.array_equal(a.labels_, b.labels_)
    if hasattr(a, "transform"):
        assert np.array_equal(a.transform(noisy), b.transform(noisy))


@pytest.mark.parametrize("name", [n for n in METHODS if n != "spectral"])
def test_different_seeds_give_different_runs(name, noisy):
    a, b = make(name, random_state=1).fit(noisy), make(name, random_state=2).fit(noisy)
    assert not np.allclose(a.transform(noisy), b.transform(noisy))


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.array([["a", "b"]] * 20, dtype=object), "not numbers"),
        (np.array([["a", "b"]] * 20), "dtype <U1"),
        (np.ones((20, 2), dtype=complex), "Complex data not supported"),
        (np.full((20, 3), np.nan), "NaN or infinite"),
        (np.zeros(20), "1 dimension"),
        (np.zeros((0, 3)), "0 sample"),
        (np.zeros((20, 0)), "0 feature"),
    ],
)
def test_bad_input_to_every_estimator(name, X, message):
    with pytest.raises(DeepclustError, match=message):
        make(name, 2).fit(X)


@pytest.mark.parametrize("name", list(METHODS))
def test_predict_checks_channels_and_features(name):
    rng = np.random.default_rng(0)
    images = rng.random((40, 1, 16, 16)).astype(np.float32)
    model = make(name).fit(images)
    with pytest.raises(DeepclustError, match=r"\(3, 16, 16\) but the model was fitted on"):
        model.predict(rng.random((4, 3, 16, 16)))
    vectors = make(name).fit(rng.random((40, 5)))
    with pytest.raises(DeepclustError, match="X has 4 features, but .* expecting 5"):
        vectors.predict(rng.random((3, 4)))


@pytest.mark.parametrize("n_clusters", [0, 1, -3, 2.0, "3", True])
def test_n_clusters_out_of_range(n_clusters, noisy):
    with pytest.raises(DeepclustError, match="n_clusters must be"):
        KMeans(n_clusters).fit(noisy)


def test_collapsed_clustering_is_reported():
    X = np.vstack([np.zeros((40, 3)), np.ones((1, 3))]).astype(np.float32)
    with pytest.warns(CollapseWarning, match="largest holds 98%"):
        model = KMeans(2).fit(X)
    assert model.collapse_ == {"empty_clusters": 0, "largest_fraction": pytest.approx(40 / 41)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(2).fit(np.vstack([np.zeros((20, 3)), np.ones((20, 3))]))  # balanced: no warning


def test_nan_names_the_term_and_step_and_keeps_the_last_good_checkpoint(noisy, tmp_path,
                                                                        monkeypatch):
    import deepclust.methods.dscdan as dscdan

    calls = {"n": 0}
    kl_normal = dscdan.kl_normal

    def kl_turning_nan(mu, logvar):  # 150 samples / 32 = 5 batches: NaN from epoch 5, step 1
        calls["n"] += 1
        return kl_normal(mu, logvar) * (float("nan") if calls["n"] > 20 else 1.0)

    monkeypatch.setattr(dscdan, "kl_normal", kl_turning_nan)
    model = DSCDAN(3, **{**TINY, "pretrain_epochs": 10}, checkpoint_dir=str(tmp_path))
    with pytest.raises(TrainingError, match=r"'kl' became nan in stage 'pretrain', epoch 5, "
                                            r"step 1; a checkpoint of epoch 4 is kept"):
        model.fit(noisy)
    ckpt = torch.load(tmp_path / "pretrain.pt", weights_only=True)
    assert ckpt["epoch"] == 4 and not ckpt["done"]
    assert all(torch.isfinite(v).all() for v in ckpt["state"]["encoder"].values())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]),
        shape=hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=6),
        elements={"allow_nan": True, "allow_infinity": True},
    ),
    n_clusters=st.integers(-1, 5),
    name=st.sampled_from(list(METHODS)),
)
def test_fuzzed_inputs_give_results_or_clear_errors(data, n_clusters, name):
    try:
        labels = make(name, n_clusters).fit_predict(data)
    except DeepclustError:
        return
    assert labels.shape == (data.shape[0],)
    assert labels.min() >= 0 and labels.max() < n_clusters


def _fit_command(data, out, *extra):
    return [sys.executable, "-m", "deepclust.cli", "fit", "--method", "dscdan", "--data",
            str(data), "--clusters", "3", "--out", str(out), "-q",
            "--set", "latent_dim=4", "--set", "mlp_hidden=(32,)", "--set", "spectral_hidden=(32,)",
            "--set", "batch_size=16", "--set", "spectral_batch_size=64",
            "--set", "pretrain_epochs=20", "--set", "spectral_epochs=5",
            "--set", "joint_epochs=30", *extra]


def _default_sigint():  # a suite started in the background (`cmd &`) ignores SIGINT, and
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # children would inherit it: Python then
    # installs no KeyboardInterrupt handler and the interrupted fit runs to its end


def _run(cmd, **kwargs):  # one thread per child: fast and immune to a busy second core
    return subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint, **kwargs)


@pytest.mark.parametrize(("sig", "stage", "extra"), [
    (signal.SIGKILL, "pretrain", ()), (signal.SIGINT, "joint", ()),
    (signal.SIGKILL, "joint", ("--set", "spectral_solver=exact"))])  # eigenvector targets
def test_killed_fit_resumes_to_the_uninterrupted_labels(sig, stage, extra, noisy, tmp_path):
    data = tmp_path / "x.npy"
    np.save(data, noisy)
    reference = tmp_path / "reference"
    assert _run(_fit_command(data, reference, *extra)).wait() == 0

    out = tmp_path / "interrupted"
    child = _run(_fit_command(data, out, *extra))
    ckpt = out / "checkpoints" / f"{stage}.pt"
    deadline = time.monotonic() + 120
    while not ckpt.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    child.send_signal(sig)
    _, err = child.communicate(timeout=60)
    assert child.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL)
    if sig == signal.SIGINT:
        assert "run again with --resume" in err
    assert not torch.load(ckpt, weights_only=True)["done"]  # killed mid-stage
    assert not (out / "labels.csv").exists()
    assert not list(out.rglob("*.tmp"))  # nothing half-written

    assert _run([*_fit_command(data, out, *extra), "--resume"]).wait() == 0
    assert np.array_equal(read_labels(out / "labels.csv"), read_labels(reference / "labels.csv"))


@pytest.mark.parametrize(("name", "extra"), [("spectral", 1), ("n2d", 2)])
def test_eigensolver_methods_ask_for_more_samples_than_clusters(name, extra):
    X = np.zeros((2 + extra - 1, 1), np.float32)  # one sample short
    with pytest.raises(DeepclustError, match=f"n_clusters=2 needs at least {2 + extra} samples"):
        make(name, 2).fit(X)
