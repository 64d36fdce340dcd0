import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import shape_images

from deepclust.exceptions import DeepclustError
from deepclust.methods import self_labelling
from deepclust.methods.dcfae import DCFAE
from deepclust.methods.dscdan import DSCDAN
from deepclust.metrics import cluster_accuracy
from deepclust.nets import ClusteringLayer

DSCDAN_SMALL = dict(latent_dim=8, mlp_hidden=(32,), spectral_hidden=(32, 32), batch_size=32,
                    spectral_batch_size=64, pretrain_epochs=10, spectral_epochs=5,
                    joint_epochs=1, self_label_epochs=12, verbose=0, device="cpu")
DCFAE_SMALL = dict(latent_dim=4, mlp_hidden=(32,), disc_hidden=(16,), grouper_hidden=(32,),
                   widths=(4, 8), disc_widths=(4, 8), batch_size=32, pretrain_epochs=5,
                   cluster_epochs=5, self_label_epochs=6, n_init=2, verbose=0, device="cpu")


@pytest.fixture(scope="module")
def images():
    return shape_images(30)


@pytest.fixture(scope="module")
def fitted(images):
    return DSCDAN(3, **DSCDAN_SMALL).fit(*images)


def test_gaussian_assignment_is_the_mixture_posterior_and_the_nearest_centre():
    layer = ClusteringLayer(4, 3, kernel="gaussian")
    with torch.no_grad():
        layer.centres.copy_(torch.randn(4, 3) * 3)
    z = torch.randn(50, 3) * 3
    d2 = torch.cdist(z, layer.centres).pow(2)
    expected = torch.exp(-d2 / 2) / torch.exp(-d2 / 2).sum(1, keepdim=True)
    torch.testing.assert_close(layer(z), expected, atol=1e-5, rtol=1e-4)
    assert torch.equal(layer.logits(z).argmax(1), d2.argmin(1))
    with pytest.raises(ValueError, match="kernel must be one of"):
        ClusteringLayer(2, 2, kernel="cauchy")


def test_images_are_self_labelled_in_the_code_space(fitted, images):
    X, y = images
    assert fitted.self_label_ and fitted.label_space_ == "codes"
    stages = [h["stage"] for h in fitted.history_]
    assert stages[-12:] == ["self_label"] * 12 and "joint" in stages  # after the paper's
    relabelled = [h["epoch"] for h in fitted.history_ if "relabelled" in h]
    assert relabelled == [2, 4, 6, 8, 10]  # every sixth of 12 epochs, not after the last
    codes = fitted.transform(X)
    assert codes.shape == (90, 8) and fitted.cluster_centers_.shape == (3, 8)
    np.testing.assert_allclose(codes, fitted.encode(X))
    nearest = np.argmin(((codes[:, None] - fitted.cluster_centers_) ** 2).sum(-1), 1)
    assert np.array_equal(fitted.labels_, nearest)
    assert np.array_equal(fitted.predict(X), fitted.labels_)
    assert cluster_accuracy(y, fitted.labels_) == 1.0


def test_self_labelling_corrects_the_labels_it_starts_from(images, monkeypatch):
    X, y = images
    rng = np.random.default_rng(0)
    start = y.copy()
    flip = rng.choice(len(y), len(y) // 5, replace=False)
    start[flip] = (start[flip] + 1) % 3

    def cluster_to_start(self, X_t, rng, *, n_init, kmeans=True):
        self.cluster_centers_, self.labels_ = np.zeros((0, 3), np.float32), start.copy()

    monkeypatch.setattr(DSCDAN, "_cluster", cluster_to_start)
    model = DSCDAN(3, **{**DSCDAN_SMALL, "self_label_epochs": 30}).fit(X)
    assert cluster_accuracy(y, start) == pytest.approx(0.8)
    assert cluster_accuracy(y, model.labels_) == 1.0


def test_the_stage_trains_the_encoder_on_augmented_images(images, monkeypatch):
    seen = []
    augment = self_labelling.random_shift_rotate

    def recording(x, max_shift, max_degrees, **kwargs):
        seen.append((x.shape, max_shift, max_degrees, kwargs))
        return augment(x, max_shift, max_degrees, **kwargs)

    monkeypatch.setattr(self_labelling, "random_shift_rotate", recording)
    X = images[0][:40]
    model = DSCDAN(3, **{**DSCDAN_SMALL, "pretrain_epochs": 1, "self_label_epochs": 1}).fit(X)
    assert len(seen) == 1  # one batch of 40 ≤ 256
    assert seen[0] == ((40, 1, 16, 16), 0.07 * 16, 15.0, {"whole_pixels": False,
                                                           "fill": "zeros"})
    vectors = DSCDAN(3, **{**DSCDAN_SMALL, "self_label": True, "self_label_epochs": 1})
    vectors.fit(X.reshape(40, -1))
    assert len(seen) == 1 and vectors.self_label_  # feature vectors: x itself
    assert model.history_[-1]["self_label"] > 0


def test_vectors_are_not_self_labelled_by_default_and_presets_never(blobs, images):
    model = DSCDAN(3, **DSCDAN_SMALL).fit(blobs[0])
    assert not model.self_label_ and model.label_space_ == "spectral"
    assert "self_label" not in {h["stage"] for h in model.history_}
    full = DSCDAN.preset("full", n_clusters=3, **DSCDAN_SMALL).fit(images[0][:40])
    assert not full.self_label_ and full.transform(images[0][:5]).shape == (5, 3)


def test_dcfae_is_self_labelled_in_the_code_space_of_its_encoder(images):
    X, y = images
    model = DCFAE(3, **DCFAE_SMALL).fit(X)
    plain = DCFAE(3, **{**DCFAE_SMALL, "self_label": False}).fit(X)
    assert model.label_space_ == "codes" and plain.label_space_ == "embedding"
    assert [h["stage"] for h in model.history_][-6:] == ["self_label"] * 6
    np.testing.assert_allclose(model.transform(X), model.encode(X))
    assert not np.allclose(plain.transform(X), plain.encode(X))  # f(mu)
    assert np.array_equal(model.predict(X), model.labels_)
    assert cluster_accuracy(y, model.labels_) == 1.0


def test_same_seed_same_labels_and_save_load(images, fitted, tmp_path):
    again = DSCDAN(3, **DSCDAN_SMALL).fit(images[0])
    assert np.array_equal(again.labels_, fitted.labels_)
    np.testing.assert_array_equal(again.cluster_centers_, fitted.cluster_centers_)
    loaded = DSCDAN.load(fitted.save(tmp_path / "m.pt"))
    assert loaded.label_space_ == "codes"
    assert np.array_equal(loaded.predict(images[0]), fitted.labels_)


def test_an_interrupted_stage_resumes_with_its_labels(images, tmp_path, monkeypatch):
    X = images[0]
    params = {**DSCDAN_SMALL, "self_label_epochs": 6, "checkpoint_dir": str(tmp_path)}
    reference = DSCDAN(3, **{**params, "checkpoint_dir": None}).fit(X)
    calls = {"n": 0}
    cross_entropy = F.cross_entropy

    def interrupted(*args, **kwargs):  # 90 samples: one batch an epoch; stop in epoch 5
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return cross_entropy(*args, **kwargs)

    monkeypatch.setattr(self_labelling.F, "cross_entropy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        DSCDAN(3, **params).fit(X)
    saved = torch.load(tmp_path / "self_label.pt", weights_only=True)
    assert saved["epoch"] == 4 and not saved["done"]  # relabelled after each epoch so far
    monkeypatch.setattr(self_labelling.F, "cross_entropy", cross_entropy)
    resumed = DSCDAN(3, **params).fit(X, resume=True)
    assert np.array_equal(resumed.labels_, reference.labels_)
    np.testing.assert_allclose(resumed.cluster_centers_, reference.cluster_centers_, atol=1e-6)


@pytest.mark.parametrize(("params", "message"), [
    ({"self_label": "yes"}, "self_label must be True, False or 'auto'"),
    ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
    ({"self_label_epochs": -2}, "self_label_epochs must be"),
])
def test_bad_parameters_are_clear_errors(params, message, images):
    for cls, small in ((DSCDAN, DSCDAN_SMALL), (DCFAE, DCFAE_SMALL)):
        with pytest.raises(DeepclustError, match=message):
            cls(3, **{**small, **params}).fit(images[0])
