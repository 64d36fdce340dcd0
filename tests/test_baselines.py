"""The deep baselines: DEC, IDEC, SpectralNet, N2D, and the autoencoder pretraining they share."""

import numpy as np
import pytest
import torch

from deepclust import DEC, IDEC, N2D, SpectralNet, evaluate
from deepclust.exceptions import DeepclustError
from deepclust.losses import kl_self_training, target_distribution
from deepclust.methods import BaseClusterer
from deepclust.nets import ClusteringLayer

AE = dict(latent_dim=3, mlp_hidden=(32,), batch_size=32, pretrain_epochs=40, verbose=0,
          device="cpu")
TINY = {DEC: dict(AE, cluster_epochs=10), IDEC: dict(AE, cluster_epochs=10),
        SpectralNet: dict(AE, spectral_hidden=(32,), spectral_batch_size=120, spectral_epochs=40),
        N2D: dict(AE, umap_neighbors=10)}


def test_clustering_layer_is_a_student_t_assignment():
    layer = ClusteringLayer(3, 2, alpha=1.0)
    with torch.no_grad():
        layer.centres.copy_(torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]))
    z = torch.tensor([[0.0, 0.0], [3.5, 0.5], [0.2, 5.0]])
    q = layer(z)
    assert torch.allclose(q.sum(1), torch.ones(3))
    assert q.argmax(1).tolist() == [0, 1, 2]
    d2 = torch.tensor([0.0, 16.0, 16.0])  # the first point: 1/(1 + d²) normalised
    assert torch.allclose(q[0], (1 / (1 + d2)) / (1 / (1 + d2)).sum())


def test_target_distribution_sharpens_and_kl_vanishes_on_itself():
    q = torch.softmax(torch.randn(50, 4, generator=torch.Generator().manual_seed(0)), 1)
    p = target_distribution(q)
    assert torch.allclose(p.sum(1), torch.ones(50))
    assert (p.max(1).values >= q.max(1).values - 1e-6).all()  # more confident everywhere
    assert (p.argmax(1) == q.argmax(1)).float().mean() > 0.9
    assert kl_self_training(q, q).abs() < 1e-6
    assert kl_self_training(p, q) > 0


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return {cls: cls(3, **TINY[cls]).fit(X, y) for cls in TINY}


@pytest.mark.parametrize("cls", list(TINY))
def test_each_baseline_clusters_separated_blobs(cls, fitted, blobs):
    X, y = blobs
    model = fitted[cls]
    assert evaluate(y, model.labels_)["acc"] >= 0.95
    agree = (model.predict(X) == model.labels_).mean()
    assert agree == 1.0 if cls is not N2D else agree >= 0.95  # N2D: a kNN vote (documented)
    assert model.transform(X).shape == (len(X), 3)  # codes (3-D), or Y with K = 3
    assert model.encode(X).shape == (len(X), 3)


@pytest.mark.parametrize("cls", list(TINY))
def test_save_load_round_trip(cls, fitted, blobs, tmp_path):
    X, _ = blobs
    model = fitted[cls]
    loaded = BaseClusterer.load(model.save(tmp_path / "m.pt"))
    assert type(loaded) is cls
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.allclose(loaded.transform(X), model.transform(X), atol=1e-5)


def test_idec_is_dec_with_the_reconstruction_kept(fitted):
    assert DEC().w_rec == 0 and IDEC().w_rec == 0.1
    assert IDEC().get_params().keys() == DEC().get_params().keys()
    assert "rec" in fitted[IDEC].history_[-1] and "rec" not in fitted[DEC].history_[-1]
    clusters = [h for h in fitted[DEC].history_ if h["stage"] == "cluster"]
    assert len(clusters) == 10 and all(h["kl"] >= 0 for h in clusters)


def test_spectralnet_embedding_is_orthonormal(fitted, blobs):
    Y = fitted[SpectralNet].transform(blobs[0]).astype(np.float64)
    assert np.allclose(Y.T @ Y / len(Y), np.eye(3), atol=1e-3)


def test_a_shared_pretraining_is_loaded_and_changes_nothing(blobs, tmp_path):
    X, y = blobs
    cache = tmp_path / "ae"
    alone = SpectralNet(3, **TINY[SpectralNet], random_state=4).fit(X)
    writer = DEC(3, **TINY[DEC], random_state=4, pretrain_cache=str(cache)).fit(X)
    assert not writer.pretrain_cached_ and len(list(cache.glob("ae-*.pt"))) == 1
    reader = SpectralNet(3, **TINY[SpectralNet], random_state=4, pretrain_cache=str(cache))
    reader.fit(X)
    assert reader.pretrain_cached_
    assert np.array_equal(reader.labels_, alone.labels_)
    assert np.array_equal(reader.transform(X), alone.transform(X))
    other_seed = DEC(3, **TINY[DEC], random_state=5, pretrain_cache=str(cache)).fit(X)
    assert not other_seed.pretrain_cached_ and len(list(cache.glob("ae-*.pt"))) == 2


def test_n2d_without_umap_says_how_to_install(blobs, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_umap(name, *args, **kwargs):
        if name == "umap":
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_umap)
    with pytest.raises(DeepclustError, match=r'pip install "deepclust\[n2d\]"'):
        N2D(3, **TINY[N2D]).fit(blobs[0])


@pytest.mark.parametrize(("cls", "params", "message"), [
    (DEC, {"alpha": 0}, "alpha must be > 0"),
    (DEC, {"lr": float("nan")}, "lr must be > 0"),
    (IDEC, {"w_rec": -1}, "w_rec must be >= 0"),
    (SpectralNet, {"n_neighbors": 0}, "n_neighbors must be 'auto' or >= 1"),
    (N2D, {"umap_dim": 0}, "umap_dim must be None or >= 1"),
    (DEC, {"architecture": "cnn"}, "architecture must be one of"),
])
def test_bad_parameters_are_clear_errors(cls, params, message, blobs):
    with pytest.raises(DeepclustError, match=message):
        cls(3, **{**TINY[cls], **params}).fit(blobs[0])
