"""Feature vectors: the input scaling chosen from the data, the synthetic vector sets, and the
deep methods on sparse high-dimensional vectors with many clusters (issue: tf-idf collapse)."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from deepclust import DCFAE, DSCDAN, SpectralNet, evaluate, load_dataset
from deepclust.data import synthetic
from deepclust.data.synthetic import make_blobs, make_topics
from deepclust.exceptions import DeepclustError
from deepclust.graph import knn_affinity
from deepclust.losses import perplexity_similarity
from deepclust.methods.base import CollapseWarning
from deepclust.methods.deep import choose_scaling, code_size, hidden_sizes


def test_blobs_drawn_in_blocks_are_the_same_arrays(monkeypatch):
    X, y = make_blobs(2500, n_clusters=5, n_features=30)
    monkeypatch.setattr(synthetic, "BLOBS_CHUNK", 1000)  # three blocks, the last one short
    X_blocks, y_blocks = make_blobs(2500, n_clusters=5, n_features=30)
    assert np.array_equal(X, X_blocks) and np.array_equal(y, y_blocks)
    assert X.dtype == np.float32 and X.min() == 0.0 and X.max() == 1.0
    assert load_dataset("blobs-10k").X.shape == (10_000, 200)


def test_scaling_is_chosen_from_the_data():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(10, 1, 8, 8)).astype(np.float32)
    binary = (rng.uniform(size=(10, 30)) > 0.5).astype(np.float32)
    vectors = rng.normal(3, 2, size=(50, 30)).astype(np.float32)
    assert choose_scaling(images)[0] == "unit"
    assert choose_scaling(binary)[0] == "unit"
    kind, shift, scale = choose_scaling(vectors)
    assert kind == "standard"
    scaled = (vectors - shift) / scale
    assert np.allclose(scaled.mean(0), 0, atol=1e-5)
    assert np.mean(scaled**2) == pytest.approx(1, rel=1e-4)  # one factor: geometry kept
    kind, shift, scale = choose_scaling(vectors * 10 + 5, "unit")
    assert kind == "unit" and shift[0] == pytest.approx((vectors * 10 + 5).min(), rel=1e-5)


def test_scaling_choice_is_recorded_and_checked():
    X = make_blobs(120, n_clusters=3, n_features=10, intrinsic_dim=3)[0]
    model = DSCDAN(3, latent_dim=4, mlp_hidden=(16,), spectral_hidden=(16,), batch_size=32,
                   spectral_batch_size=60, pretrain_epochs=1, spectral_epochs=1,
                   joint_epochs=1, verbose=0).fit(X)
    assert model.scaling_ == "standard"
    assert model.data_shift_.shape == (10,) and model.data_scale_.shape == (1,)
    with pytest.raises(DeepclustError, match="scaling must be one of"):
        DSCDAN(3, scaling="minmax").fit(X)


@pytest.mark.parametrize("make", [make_topics, make_blobs])
def test_synthetic_sets_are_reproducible_vectors_in_unit_range(make):
    X, y = make(n_samples=300)
    X2, y2 = make(n_samples=300)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert X.ndim == 2 and X.dtype == np.float32 and X.min() >= 0 and X.max() == 1
    assert len(np.unique(y)) > 10


def test_builtin_vector_sets_load():
    for name, shape, k in (("topics", (6000, 2000), 20), ("wine", (178, 13), 3),
                           ("iris", (150, 4), 3), ("breast-cancer", (569, 30), 2)):
        ds = load_dataset(name)
        assert ds.X.shape == shape and ds.n_classes == k
        if name != "topics":  # scikit-learn's sets: each feature min-max scaled
            assert (ds.X.min(0) == 0).all() and (ds.X.max(0) == 1).all()


# Well-separated topics: 20 topics, 1,200 documents of 300 terms, half of each from its topic.
@pytest.fixture(scope="module")
def topics():
    return make_topics(n_samples=1200, n_topics=20, n_terms=300, topic_share=0.5,
                       doc_length=60)


@pytest.mark.parametrize("model", [
    DSCDAN(20, latent_dim=16, mlp_hidden=(128, 128), spectral_hidden=(128, 128),
           pretrain_epochs=10, spectral_epochs=20, joint_epochs=1, verbose=0),
    DCFAE(20, latent_dim=16, mlp_hidden=(128, 128), disc_hidden=(64,),
          grouper_hidden=(128, 128), pretrain_epochs=40, cluster_epochs=20, verbose=0),
], ids=["dscdan", "dcfae"])
def test_sparse_topics_with_20_clusters_do_not_collapse_and_beat_kmeans(topics, model):
    X, y = topics
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        labels = model.fit(X).labels_
    kmeans = KMeans(20, n_init=10, random_state=0).fit_predict(X)
    assert len(np.unique(labels)) > 10
    assert evaluate(y, labels)["acc"] >= evaluate(y, kmeans)["acc"]


def test_auto_parameters_follow_the_input_kind(blobs):
    tiny = dict(latent_dim=4, mlp_hidden=(16,), spectral_hidden=(16,), batch_size=32,
                spectral_batch_size=60, pretrain_epochs=1, spectral_epochs=1, verbose=0)
    vectors = DSCDAN(3, **tiny).fit(blobs[0][:60])
    assert (vectors.n_neighbors_, vectors.affinity_scale_) == (10, "local")
    assert "joint" not in {h["stage"] for h in vectors.history_}  # vectors skip it ("auto")
    images = DSCDAN(3, **tiny).fit(blobs[0][:60, :16].reshape(60, 1, 4, 4))
    assert (images.n_neighbors_, images.affinity_scale_) == (3, None)
    assert "joint" in {h["stage"] for h in images.history_}
    given = DSCDAN(3, n_neighbors=5, affinity_scale=None, **tiny).fit(blobs[0][:60])
    assert (given.n_neighbors_, given.affinity_scale_) == (5, None)
    small = dict(latent_dim=4, mlp_hidden=(16,), disc_hidden=(8,), grouper_hidden=(16,),
                 batch_size=32, pretrain_epochs=1, cluster_epochs=1, verbose=0)
    dcfae = DCFAE(3, **small).fit(blobs[0][:60])  # w_kl = 2.5e-4·D/d: 20 features, d = 4
    assert (dcfae.w_kl_, dcfae.p_kernel_) == (pytest.approx(1.25e-3), "perplexity")
    auto = DCFAE(3, **{**small, "latent_dim": "auto"}).fit(blobs[0][:60])  # d = D = 20
    assert (auto.latent_dim_, auto.w_kl_) == (20, pytest.approx(2.5e-4))
    image = DCFAE(3, **small).fit(blobs[0][:60, :16].reshape(60, 1, 4, 4))
    assert (image.w_kl_, image.p_kernel_) == (0.1, "graph")
    with pytest.raises(DeepclustError, match="affinity_scale must be"):
        DSCDAN(3, affinity_scale="global").fit(blobs[0][:60])


def test_local_scale_affinity_is_symmetric_positive_and_scale_free():
    Z = torch.randn(80, 5, generator=torch.Generator().manual_seed(0))
    Z[0] += 30  # a far outlier keeps edges to its neighbours
    W = knn_affinity(Z, 4, "local")
    assert torch.allclose(W, W.T) and (W.diagonal() == 0).all() and (W >= 0).all()
    assert ((W > 0).sum(1) >= 4).all()
    assert torch.allclose(W, knn_affinity(Z * 100, 4, "local"), atol=1e-5)
    assert W[0].max() > 1e-6 and knn_affinity(Z, 4)[0].max() < 1e-30  # a global σ cuts them
    with pytest.raises(ValueError, match="'local'"):
        knn_affinity(Z, 4, "global")


def test_perplexity_similarity_is_calibrated_per_point_and_scale_free():
    H = torch.randn(120, 6, generator=torch.Generator().manual_seed(1))
    P = perplexity_similarity(H, 15)
    assert torch.allclose(P, P.T) and (P.diagonal() == 0).all()
    assert float(P.sum()) == pytest.approx(1, abs=1e-5)
    assert torch.allclose(P, perplexity_similarity(H * 1e3, 15), atol=1e-7)
    def row_perplexity(P):  # of the row-normalised symmetric P, averaged over rows
        R = P / P.sum(1, keepdim=True)
        return float((-(R * R.clamp_min(1e-30).log()).sum(1)).exp().mean())
    assert 10 < row_perplexity(P) < 25  # ≈ 15, widened a little by the symmetrisation
    assert row_perplexity(perplexity_similarity(H, 5)) < row_perplexity(P)
    assert row_perplexity(perplexity_similarity(H[:31], 30)) < 15  # capped at (31 - 1) / 3
    with pytest.raises(ValueError, match="perplexity must be > 1"):
        perplexity_similarity(H, 1)


def test_network_sizes_follow_the_input():
    assert code_size(120)((13,), {}) == 13 and code_size(120)((500,), {}) == 120
    assert code_size(120)((1, 8, 8), {}) == 120  # images keep the paper's size
    widths = hidden_sizes((256, 256, 512))
    assert widths((13,), {}) == (64, 64, 128)  # 4·13 = 52 → 64, ratios kept
    assert widths((2,), {}) == (16, 16, 32)  # at least 16 wide
    assert widths((64,), {}) == widths((2000,), {}) == widths((1, 4, 4), {}) == (256, 256, 512)


def test_auto_sizes_are_recorded_and_given_sizes_kept(blobs):
    X = blobs[0][:60, :13]
    run = dict(spectral_hidden=(16,), batch_size=32, spectral_batch_size=60,
               pretrain_epochs=1, spectral_epochs=1, verbose=0)
    auto = DSCDAN(3, **run).fit(X)
    assert (auto.latent_dim_, auto.mlp_hidden_) == (13, (64, 64, 128))
    assert auto.encode(X).shape == (60, 13)
    given = DSCDAN(3, latent_dim=4, mlp_hidden=(16,), **run).fit(X)
    assert (given.latent_dim_, given.mlp_hidden_) == (4, (16,))
    dcfae = DCFAE(3, grouper_hidden=(16,), batch_size=32, pretrain_epochs=1,
                  cluster_epochs=1, verbose=0).fit(X)
    assert (dcfae.latent_dim_, dcfae.mlp_hidden_, dcfae.disc_hidden_) == (
        13, (64, 64, 128), (64, 64))
    with pytest.raises(DeepclustError, match="latent_dim must be >= 1, got 'big'"):
        DSCDAN(3, latent_dim="big").fit(X)


def test_spectral_embedding_rows_are_normalised_unless_asked_not_to(blobs):
    X = blobs[0][:90]
    run = dict(latent_dim=4, mlp_hidden=(16,), spectral_hidden=(16,), batch_size=32,
               spectral_batch_size=90, pretrain_epochs=2, spectral_epochs=2, verbose=0)
    norms = np.linalg.norm(DSCDAN(3, **run).fit(X).transform(X), axis=1)
    assert np.allclose(norms, 1, atol=1e-5)
    raw = np.linalg.norm(DSCDAN(3, normalize_rows=False, **run).fit(X).transform(X), axis=1)
    assert raw.std() > 1e-3  # Y's rows vary in length; only the option makes them unit
    assert DSCDAN.preset("full").normalize_rows is False  # the paper clusters Y itself
    assert SpectralNet(3).normalize_rows is False
