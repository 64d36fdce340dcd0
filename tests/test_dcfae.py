import json

import numpy as np
import pytest
import torch
from conftest import shape_images

from deepclust.cli import main
from deepclust.exceptions import DeepclustError
from deepclust.methods import METHODS, BaseClusterer
from deepclust.methods.dcfae import DCFAE, VARIANTS
from deepclust.metrics import cluster_accuracy

SMALL = dict(latent_dim=4, mlp_hidden=(32,), disc_hidden=(16,), grouper_hidden=(32,),
             widths=(4, 8), disc_widths=(4, 8), batch_size=32, pretrain_epochs=2,
             cluster_epochs=2, n_init=2, verbose=0, device="cpu")


@pytest.fixture(scope="module")
def images():
    return shape_images(20)


@pytest.fixture(scope="module")
def fitted(blobs):
    return DCFAE(3, **{**SMALL, "pretrain_epochs": 10, "cluster_epochs": 10}).fit(*blobs)


def test_clusters_separated_blobs_and_predict_reproduces_labels(fitted, blobs):
    X, y = blobs
    assert cluster_accuracy(y, fitted.labels_) > 0.95
    assert np.array_equal(fitted.predict(X), fitted.labels_)
    assert fitted.transform(X).shape == (240, 4)  # the grouper's embedding, dim d
    assert [h["stage"] for h in fitted.history_] == ["pretrain"] * 10 + ["cluster"] * 10
    assert type(fitted.encoder_).__name__ == "MLPEncoder"
    assert type(fitted.discriminator_).__name__ == "MLPDiscriminator"


def test_save_load_round_trip(fitted, blobs, tmp_path):
    loaded = BaseClusterer.load(fitted.save(tmp_path / "dcfae.pt"))
    assert isinstance(loaded, DCFAE) and loaded.get_params() == fitted.get_params()
    np.testing.assert_allclose(loaded.transform(blobs[0]), fitted.transform(blobs[0]), atol=1e-6)
    assert np.array_equal(loaded.predict(blobs[0]), fitted.labels_)
    assert not hasattr(loaded, "discriminator_")  # only needed for training


def test_same_seed_same_result_other_seed_differs(blobs):
    X = blobs[0][:96]
    a, b, c = (DCFAE(3, random_state=s, **SMALL).fit(X) for s in (7, 7, 8))
    assert np.array_equal(a.labels_, b.labels_)
    assert np.array_equal(a.transform(X), b.transform(X))
    assert not np.allclose(a.transform(X), c.transform(X))


def _weights(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(before, module):
    return all(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def test_a_pretraining_step_moves_autoencoder_and_discriminator_not_the_grouper(blobs):
    X = blobs[0][:32]
    params = {**SMALL, "pretrain_epochs": 0, "cluster_epochs": 0}
    init = DCFAE(3, **params).fit(X)  # no training: the seeded initial weights
    before = {name: _weights(getattr(init, name))
              for name in ("encoder_", "decoder_", "grouper_", "discriminator_")}
    one = DCFAE(3, **{**params, "pretrain_epochs": 1}).fit(X)  # one batch of 32
    for name in ("encoder_", "decoder_", "discriminator_"):
        assert _changed(before[name], getattr(one, name)), name
    assert all(torch.equal(a, b) for a, b in zip(before["grouper_"], one.grouper_.parameters(),
                                                  strict=True))
    assert {"gen", "disc"} <= set(one.history_[0])
    vae = DCFAE(3, **{**params, "pretrain_epochs": 1, "w_gan": 0.0}).fit(X)
    assert vae.discriminator_ is None and not {"gen", "disc"} & set(vae.history_[0])


def test_the_discriminator_steps_on_its_own_loss_simultaneously():
    """Each optimiser gets the gradient of its own term only, all taken before any step."""
    a, b = torch.nn.Parameter(torch.tensor(1.0)), torch.nn.Parameter(torch.tensor(2.0))
    opt_a, opt_b = torch.optim.SGD([a], lr=0.1), torch.optim.SGD([b], lr=0.1)
    terms = {"loss": a * b, "disc": a * b * b}
    DCFAE()._step(opt_a, terms, (opt_b, "disc"))
    assert a.item() == pytest.approx(1 - 0.1 * 2)       # d(ab)/da at b = 2
    assert b.item() == pytest.approx(2 - 0.1 * 2 * 2)   # d(ab²)/db at a = 1, b = 2 (not a = 0.8)


TERMS = {  # loss terms each ablation trains, per stage (None: the stage does not run)
    "vae": ({"rec", "kl"}, {"rec", "kl", "cluster"}),
    "fae-nores": ({"rec", "kl", "gen", "disc"}, {"rec", "kl", "gen", "disc", "cluster"}),
    "fae": ({"rec", "kl", "gen", "disc"}, None),
    "full": ({"rec", "kl", "gen", "disc"}, {"rec", "kl", "gen", "disc", "cluster"}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_ablation_trains_exactly_its_terms(variant, images):
    X = images[0][:32]
    params = {**SMALL, "pretrain_epochs": 1, "cluster_epochs": 1}
    model = DCFAE.preset(variant, n_clusters=3, **params).fit(X)
    by_stage = {h["stage"]: set(h) - {"stage", "epoch", "seconds", "loss"} for h in model.history_}
    pretrain, cluster = TERMS[variant]
    assert by_stage["pretrain"] == pretrain
    assert by_stage.get("cluster") == cluster
    assert type(model.encoder_).__name__ == "ResEncoder"
    n_res = sum(type(m).__name__ == "ResBlock" for m in model.encoder_.modules())
    assert n_res == (0 if variant == "fae-nores" else 2)
    assert model.transform(X[:5]).shape == (5, 4)  # grouper f(mu) or mu: both of dim d
    assert hasattr(model, "grouper_") == (variant != "fae")


def test_presets_are_checked_and_the_variant_wins_over_the_schedule():
    with pytest.raises(DeepclustError, match="unknown variant 'gan'"):
        DCFAE.preset("gan")
    paper = DCFAE.preset("full", "paper")
    assert (paper.pretrain_epochs, paper.w_gan, paper.lr) == (100, 100.0, 1e-4)
    assert DCFAE.preset("vae", "paper").w_gan == 0.0
    assert {DCFAE.preset(v).p_kernel for v in VARIANTS} == {"student-t"}  # the code's P
    assert {DCFAE.preset(v).assign for v in VARIANTS} == {"kmeans"}  # the paper's k-means
    assert DCFAE().p_kernel == "auto"
    assert METHODS["dcfae"] is DCFAE


@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 16, 16), (1, 28, 28), (1, 8, 8)])
def test_image_shapes_without_resizing(shape):
    rng = np.random.default_rng(0)
    X = rng.random((24, *shape)).astype(np.float32)
    model = DCFAE(2, **{**SMALL, "pretrain_epochs": 1, "cluster_epochs": 1}).fit(X)
    conv = shape[1] >= 16  # 8x8 digits use the MLP nets
    assert type(model.encoder_).__name__ == ("ResEncoder" if conv else "MLPEncoder")
    assert type(model.discriminator_).__name__ == ("Discriminator" if conv else "MLPDiscriminator")
    assert model.assign_ == "graph"
    assert np.array_equal(model.predict(X), model.labels_)
    if shape[0] == 1:
        assert np.array_equal(model.predict(X[:, 0]), model.labels_)  # (n, h, w) accepted


@pytest.mark.parametrize("assign", ["spectral", "graph"])
def test_spectral_assignments_are_reproduced_by_predict(blobs, assign):
    X, y = blobs[0][:120], blobs[1][:120]
    model = DCFAE(3, assign=assign, **{**SMALL, "pretrain_epochs": 6}).fit(X)
    assert model.assign_ == assign
    assert model.cluster_centers_.shape == (3, 4)
    assert np.array_equal(model.predict(X), model.labels_)
    emb = model.transform(X)  # each centre is the mean of its cluster (spectral, then nearest)
    assert cluster_accuracy(y, model.labels_) > 0.9
    assert np.isfinite(emb).all()


def test_graph_assignment_keeps_the_graphs_partition_only_where_it_cuts_less():
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_moons

    X, y = make_moons(400, noise=0.05, random_state=0)
    model = DCFAE(2)
    model.assign_, model.n_clusters_ = "graph", 2
    moons = np.stack([X[y == k].mean(0) for k in (0, 1)])
    centres = model._fit_centres(X, seed=0, n_init=10)  # k-means cuts across both moons
    np.testing.assert_allclose(np.sort(centres, 0), np.sort(moons, 0))
    island = np.concatenate([X, [[0.5, 0.25]] * 12])  # 12 copies: their own 10 neighbours
    model.n_clusters_ = 3  # the graph's third cluster is that island, so k-means's is kept
    kmeans = KMeans(3, n_init=10, random_state=0).fit(island).cluster_centers_
    np.testing.assert_allclose(model._fit_centres(island, seed=0, n_init=10), kmeans)


def test_augmented_fit_runs_and_differs(images):
    X = images[0][:32]
    params = {**SMALL, "pretrain_epochs": 1, "cluster_epochs": 1, "p_kernel": "student-t"}
    plain = DCFAE(3, **params).fit(X)
    augmented = DCFAE(3, augment=True, **params).fit(X)
    assert plain.history_[0]["rec"] == augmented.history_[0]["rec"]  # stage 2 only
    assert plain.history_[1]["rec"] != augmented.history_[1]["rec"]
    with pytest.raises(DeepclustError, match="p_kernel='graph' trains f on cached codes"):
        DCFAE(3, augment=True, **{**params, "p_kernel": "auto"}).fit(X)  # images: graph


def test_graph_p_clusters_separated_blobs_on_neighbour_batches(blobs):
    X, y = blobs
    params = {**SMALL, "p_kernel": "graph", "perplexity": 10, "pretrain_epochs": 10,
              "cluster_epochs": 10}
    fitted = DCFAE(3, **params).fit(X)
    assert cluster_accuracy(y, fitted.labels_) == 1.0
    assert fitted.p_kernel_ == "graph"
    assert fitted.assign_ == "kmeans"  # "auto" on vectors; "graph" on images (test_images)
    assert np.array_equal(DCFAE(3, **params).fit(X).labels_, fitted.labels_)
    # stage 2 trains f alone on the pretrained codes: the encoder is the pretrained one
    assert {k for h in fitted.history_ if h["stage"] == "cluster" for k in h} == {
        "stage", "epoch", "cluster", "loss", "seconds"}
    pretrained = DCFAE(3, **{**params, "cluster_epochs": 0}).fit(X)
    for a, b in zip(pretrained.encoder_.parameters(), fitted.encoder_.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("p_kernel", ["auto", "graph"])
def test_resume_finished_fit_gives_the_same_model(blobs, tmp_path, p_kernel):
    X = blobs[0][:96]
    params = {**SMALL, "checkpoint_dir": str(tmp_path), "p_kernel": p_kernel}
    first = DCFAE(3, **params).fit(X)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.pt", "pretrain.pt"]
    again = DCFAE(3, **params).fit(X, resume=True)
    assert np.array_equal(first.labels_, again.labels_)
    np.testing.assert_allclose(first.transform(X), again.transform(X), atol=1e-6)
    assert [h["epoch"] for h in again.history_] == [h["epoch"] for h in first.history_]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"assign": "agglomerative"}, "assign must be one of"),
        ({"architecture": "resnet"}, "architecture must be one of"),
        ({"architecture": "conv"}, "needs \\(C, H, W\\) images"),
        ({"augment": True}, "augment=True shifts and rotates images"),
        ({"cluster_epochs": -1}, "cluster_epochs must be"),
        ({"pretrain_epochs": "long"}, "pretrain_epochs must be"),
        ({"batch_size": 1}, "batch_size must be >= 2"),
        ({"dof_p": 0}, "dof_p must be > 0"),
        ({"spectral_gamma": -1.0}, "spectral_gamma must be > 0"),
        ({"perplexity": 1}, "perplexity must be > 1"),
        ({"lr": None}, "lr must be > 0"),
        ({"w_gan": -1}, "w_gan must be >= 0"),
        ({"widths": ()}, "widths must be a non-empty"),
        ({"p_kernel": "gauss"}, "p_kernel must be one of"),
        ({"batch_neighbors": 0}, "batch_neighbors must be >= 1"),
    ],
)
def test_bad_parameters_are_clear_errors(params, message, blobs):
    with pytest.raises(DeepclustError, match=message):
        DCFAE(3, **{**SMALL, **params}).fit(blobs[0][:50])


def test_cli_fits_a_preset_on_digits(tmp_path):
    out = tmp_path / "fae"
    short = ["--set", "pretrain_epochs=1", "--set", "mlp_hidden=(32,)", "--set",
             "disc_hidden=(16,)", "--set", "n_init=1"]
    assert main(["fit", "--method", "dcfae", "--preset", "fae", "--out", str(out), "-q",
                 *short]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["params"]["grouper"] is False
    assert {h["stage"] for h in result["history"]} == {"pretrain"}
