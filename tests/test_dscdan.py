import copy

import numpy as np
import pytest
import torch
from conftest import shape_images

from deepclust.exceptions import DeepclustError
from deepclust.methods import BaseClusterer, dscdan
from deepclust.methods.dscdan import DSCDAN, VARIANTS
from deepclust.metrics import cluster_accuracy

SMALL = dict(latent_dim=8, mlp_hidden=(32,), spectral_hidden=(32, 32), batch_size=32,
             spectral_batch_size=64, pretrain_epochs=2, spectral_epochs=2, joint_epochs=1,
             verbose=0, device="cpu")


@pytest.fixture(scope="module")
def images():
    return shape_images(30)


@pytest.fixture(scope="module")
def fitted(blobs):
    return DSCDAN(3, **{**SMALL, "pretrain_epochs": 20, "spectral_epochs": 20}).fit(*blobs)


def test_clusters_separated_blobs(fitted, blobs):
    assert cluster_accuracy(blobs[1], fitted.labels_) > 0.95
    assert fitted.history_[-1]["acc"] == pytest.approx(cluster_accuracy(blobs[1],
                                                                        fitted.labels_))


def test_history_monitors_scores_without_changing_the_fit(fitted, blobs):
    assert all("monitor_acc" in h for h in fitted.history_)
    assert fitted.history_[-1]["monitor_acc"] > 0.9
    unlabelled = DSCDAN(3, **{**SMALL, "pretrain_epochs": 20, "spectral_epochs": 20}).fit(blobs[0])
    assert "monitor_acc" not in unlabelled.history_[0]
    assert np.array_equal(unlabelled.labels_, fitted.labels_)


def test_predict_on_training_data_reproduces_labels(fitted, blobs):
    assert np.array_equal(fitted.predict(blobs[0]), fitted.labels_)


def test_transform_is_the_orthonormal_output_with_unit_rows(fitted, blobs):
    Y = fitted.transform(blobs[0])
    assert Y.shape == (240, 3)
    raw = copy.deepcopy(fitted).set_params(normalize_rows=False).transform(blobs[0])
    np.testing.assert_allclose(raw.T @ raw / len(raw), np.eye(3), atol=1e-3)
    np.testing.assert_allclose(Y, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-5)


def test_bf16_autocasts_the_forward_passes_and_still_clusters(blobs, monkeypatch):
    import deepclust.methods.dscdan as dscdan

    seen = set()
    kl_normal = dscdan.kl_normal

    def recording_kl(mu, logvar):
        seen.add(mu.dtype)
        return kl_normal(mu, logvar)

    monkeypatch.setattr(dscdan, "kl_normal", recording_kl)
    params = {**SMALL, "pretrain_epochs": 20, "spectral_epochs": 20, "precision": "bf16"}
    model = DSCDAN(3, **params).fit(*blobs)
    assert seen == {torch.bfloat16}  # the encoder ran under autocast
    assert cluster_accuracy(blobs[1], model.labels_) == 1.0
    assert model.transform(blobs[0]).dtype == np.float32
    assert np.array_equal(DSCDAN(3, **params).fit(blobs[0]).labels_, model.labels_)
    with pytest.raises(DeepclustError,
                       match=r"precision must be one of \('fp32', 'bf16'\), got 'fp16'"):
        DSCDAN(3, **{**SMALL, "precision": "fp16"}).fit(blobs[0])


def test_same_seed_same_result_other_seed_differs(blobs):
    X = blobs[0][:120]
    a = DSCDAN(3, random_state=7, **SMALL).fit(X)
    b = DSCDAN(3, random_state=7, **SMALL).fit(X)
    c = DSCDAN(3, random_state=8, **SMALL).fit(X)
    assert np.array_equal(a.labels_, b.labels_)
    assert np.array_equal(a.transform(X), b.transform(X))
    assert not np.allclose(a.transform(X), c.transform(X))


def test_save_load_round_trip(fitted, blobs, tmp_path):
    path = fitted.save(tmp_path / "dscdan.pt")
    loaded = BaseClusterer.load(path)
    assert isinstance(loaded, DSCDAN)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_allclose(loaded.transform(blobs[0]), fitted.transform(blobs[0]), atol=1e-6)
    assert np.array_equal(loaded.predict(blobs[0]), fitted.labels_)


def test_images_use_the_conv_autoencoder_with_local_mi(images):
    X, y = images
    model = DSCDAN(3, **{**SMALL, "w_mi_local": 0.1, "pretrain_epochs": 4}).fit(X)
    assert type(model.encoder_).__name__ == "ConvEncoder"
    assert {"mi_global", "mi_local", "rel", "kl"} <= set(model.history_[0])
    assert model.labels_.shape == (90,)
    assert np.array_equal(model.predict(X[:, 0]), model.labels_[:90])  # (n, h, w) accepted
    with pytest.raises(DeepclustError, match="fitted on"):
        model.predict(np.zeros((2, 3, 16, 16), np.float32))


TERMS = {  # the loss terms each Table-4 row trains in its autoencoder stage
    "convae": {"rec"},
    "convae+mi": {"rec", "mi_global", "mi_local", "kl"},
    "convae+rs": {"rec", "rel"},
    "convae+mi+rs": {"rec", "rel", "mi_global", "mi_local", "kl"},
    "full": {"rec", "rel", "mi_global", "mi_local", "kl"},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_ablation_trains_exactly_its_terms(variant, images):
    X, _ = images
    model = DSCDAN.preset(variant, n_clusters=3, **{**SMALL, "pretrain_epochs": 1}).fit(X[:40])
    pretrain = [h for h in model.history_ if h["stage"] == "pretrain"][0]
    assert set(pretrain) - {"stage", "epoch", "seconds", "loss"} == TERMS[variant]
    stages = {h["stage"] for h in model.history_}
    if variant == "full":
        assert stages == {"pretrain", "spectral", "joint"}
        joint = [h for h in model.history_ if h["stage"] == "joint"][0]
        assert {"spectral", "kl", "entropy"} <= set(joint)
        assert model.transform(X[:5]).shape == (5, 3)
    else:
        assert stages == {"pretrain"}
        assert model.transform(X[:5]).shape == (5, 8)  # k-means on the codes


def test_images_get_a_shorter_pretraining_before_the_exact_solver(images, blobs, monkeypatch):
    monkeypatch.setattr(dscdan, "EXACT_PRETRAIN_BATCHES", 3)
    monkeypatch.setitem(DSCDAN.auto_batches, "pretrain", 9)
    auto = {**SMALL, "pretrain_epochs": "auto", "self_label": False}

    def pretrain_epochs(model):
        return sum(h["stage"] == "pretrain" for h in model.history_)

    X, _ = images  # 90 images, 3 batches of 32 an epoch
    exact = DSCDAN(3, **auto).fit(X)
    assert exact.spectral_solver_ == "exact" and pretrain_epochs(exact) == 1
    paper = DSCDAN.preset("full", n_clusters=3, **auto).fit(X)
    assert paper.spectral_solver_ == "batch" and pretrain_epochs(paper) == 3
    vectors = DSCDAN(3, **{**auto, "spectral_solver": "exact"}).fit(blobs[0])  # 8 batches
    assert vectors.spectral_solver_ == "exact" and pretrain_epochs(vectors) == 2


def test_auto_pretraining_is_at_most_the_papers_epochs(blobs, monkeypatch):
    assert DSCDAN.auto_max_epochs["pretrain"] == DSCDAN.preset("full", "paper").pretrain_epochs
    assert DSCDAN.auto_max_epochs["self_label"] == 30
    monkeypatch.setitem(DSCDAN.auto_batches, "pretrain", 30)  # 4 epochs of 8 batches
    auto = {**SMALL, "pretrain_epochs": "auto", "self_label": False}
    model = DSCDAN(3, **auto).fit(blobs[0])
    assert sum(h["stage"] == "pretrain" for h in model.history_) == 4
    monkeypatch.setitem(DSCDAN.auto_max_epochs, "pretrain", 2)
    model = DSCDAN(3, **auto).fit(blobs[0])
    assert sum(h["stage"] == "pretrain" for h in model.history_) == 2
    model = DSCDAN(3, **{**auto, "pretrain_epochs": 3}).fit(blobs[0])  # a given count stays
    assert sum(h["stage"] == "pretrain" for h in model.history_) == 3


def test_argmax_assignment_and_noisy_target(blobs):
    model = DSCDAN(3, assign="argmax", recon_target="noisy", noise="mult", **SMALL)
    model.fit(blobs[0])
    assert np.array_equal(model.predict(blobs[0]), model.labels_)
    assert set(np.unique(model.labels_)) <= {0, 1, 2}


def test_resume_finished_fit_gives_the_same_model(blobs, tmp_path):
    X = blobs[0][:120]
    params = {**SMALL, "checkpoint_dir": str(tmp_path)}
    first = DSCDAN(3, **params).fit(X)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["joint.pt", "pretrain.pt",
                                                          "spectral.pt"]
    again = DSCDAN(3, **params).fit(X, resume=True)
    assert np.array_equal(first.labels_, again.labels_)
    assert [h["epoch"] for h in again.history_] == [h["epoch"] for h in first.history_]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"noise": "gauss"}, "noise must be one of"),
        ({"assign": "argmax", "spectral": False}, "needs the spectral network"),
        ({"pretrain_epochs": -1}, "pretrain_epochs must be"),
        ({"pretrain_epochs": "long"}, "pretrain_epochs must be"),
        ({"architecture": "resnet"}, "architecture must be one of"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"w_kl": -0.1}, "w_kl must be >= 0"),
        ({"w_kl": "strong"}, "w_kl must be >= 0"),
        ({"w_rec": float("nan")}, "w_rec must be >= 0"),
    ],
)
def test_bad_parameters_are_clear_errors(params, message, blobs):
    with pytest.raises(DeepclustError, match=message):
        DSCDAN(3, **{**SMALL, **params}).fit(blobs[0][:50])


def test_preset_names_are_checked():
    with pytest.raises(DeepclustError, match=r"unknown variant 'convae\+sn'"):
        DSCDAN.preset("convae+sn")
    assert DSCDAN.preset("full", "paper").pretrain_epochs == 100


def test_data_outside_unit_range_is_rescaled(blobs):
    X = blobs[0][:90] * 50 - 20
    model = DSCDAN(3, **SMALL).fit(X)
    assert model.scaling_ == "standard"  # vectors: standardised, linear decoder
    assert DSCDAN(3, scaling="unit", **SMALL).fit(X).scaling_ == "unit"
    assert np.array_equal(model.predict(X), model.labels_)


def test_user_modules_fit_but_cannot_be_saved(blobs, tmp_path):
    from deepclust.nets import MLPDecoder, MLPEncoder

    X = blobs[0][:60]
    torch.manual_seed(0)
    model = DSCDAN(3, **SMALL, encoder=MLPEncoder((20,), 8, (16,)),
                   decoder=MLPDecoder((20,), 8, (16,))).fit(X)
    assert model.encoder_.trunk[0].in_features == 20 and model.labels_.shape == (60,)
    with pytest.raises(DeepclustError, match="cannot be saved"):
        model.save(tmp_path / "m.pt")
    assert not list(tmp_path.iterdir())


def test_forty_clusters_and_duplicate_samples_do_not_crash():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.random((50, 12)).astype(np.float32), 4, axis=0)  # every sample 4 times
    model = DSCDAN(40, **SMALL).fit(X)
    assert np.isfinite(model.transform(X)).all()
    assert model.labels_.max() < 40 and np.array_equal(model.predict(X), model.labels_)
