"""The global neighbour graph: neighbours found, affinity symmetric with positive scales,
memory linear in the number of samples, batches that hold neighbours, and the spectral stage
on it (graph="global")."""

import tracemalloc

import numpy as np
import pytest
import torch
from conftest import shape_images

from deepclust import DSCDAN, SpectralNet, evaluate
from deepclust.exceptions import DeepclustError
from deepclust.graph import (
    batch_affinity,
    knn_affinity,
    neighbor_batches,
    neighbor_graph,
    normalized_cut,
    perplexity_affinity,
    self_tuning_affinity,
    sparse_affinity,
    spectral_clusters,
    spectral_embedding,
)


def brute_force_neighbours(Z: np.ndarray, k: int) -> np.ndarray:
    D = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    return np.argsort(D, axis=1, kind="stable")[:, :k]


def test_exact_graph_finds_the_nearest_other_points():
    Z = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    g = neighbor_graph(Z, 7, method="exact")
    assert g.exact and g.indices.shape == g.distances.shape == (200, 7)
    assert np.array_equal(g.indices, brute_force_neighbours(Z, 7))
    assert (g.indices != np.arange(200)[:, None]).all()  # never itself
    assert (np.diff(g.distances, axis=1) >= 0).all()  # nearest first
    expected = np.linalg.norm(Z[:, None] - Z[g.indices], axis=-1)
    np.testing.assert_allclose(g.distances, expected, rtol=1e-4, atol=1e-5)


def test_graph_takes_tensors_and_caps_k_at_the_other_samples():
    g = neighbor_graph(torch.arange(8.0).reshape(4, 2), 10)
    assert g.indices.shape == (4, 3) and (g.indices[0] == [1, 2, 3]).all()


def test_duplicates_keep_positive_scales_and_never_list_themselves():
    Z = np.repeat(np.random.default_rng(1).normal(size=(20, 3)), 3, axis=0).astype(np.float32)
    g = neighbor_graph(Z, 4)
    assert (g.indices != np.arange(60)[:, None]).all()
    assert (g.scales(1) > 0).all() and (g.scales(4) > 0).all()


def test_approximate_graph_recalls_the_exact_one():
    pytest.importorskip("pynndescent")
    Z = np.random.default_rng(2).normal(size=(3000, 10)).astype(np.float32)
    exact = neighbor_graph(Z, 10, method="exact")
    approx = neighbor_graph(Z, 10, method="approx", random_state=0)
    assert not approx.exact and approx.indices.shape == (3000, 10)
    assert (approx.indices != np.arange(3000)[:, None]).all()
    recall = np.mean([len(np.intersect1d(a, e)) / 10
                      for a, e in zip(approx.indices, exact.indices, strict=True)])
    assert recall > 0.9


def test_bad_graph_arguments_are_clear():
    with pytest.raises(ValueError, match="method must be"):
        neighbor_graph(np.zeros((5, 2)), 2, method="kd")
    with pytest.raises(ValueError, match="at least 2 samples"):
        neighbor_graph(np.zeros((1, 2)), 2)


def test_graph_memory_grows_linearly_with_the_samples():
    rng = np.random.default_rng(3)

    def peak(n):
        Z = rng.normal(size=(n, 20)).astype(np.float32)
        tracemalloc.start()
        neighbor_graph(Z, 10, method="exact")
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    small, large = peak(4000), peak(16000)
    assert large < 6 * small  # 4x the samples: an n×n matrix would take 16x
    assert large < 16000 * 10 * 12 * 40  # a small multiple of the graph itself


def test_affinity_from_the_graph_is_symmetric_uses_only_its_edges_and_matches_a_batch():
    Z = np.random.default_rng(4).normal(size=(300, 4)).astype(np.float32)
    g = neighbor_graph(Z, 5)
    sigma = g.scales(5)
    W = sparse_affinity(g, sigma)
    assert W.shape == (300, 300) and W.nnz <= 2 * 300 * 5
    dense = W.toarray()
    assert np.allclose(dense, dense.T) and (np.diag(dense) == 0).all()
    assert ((dense >= 0) & (dense <= 1)).all()
    for i, j in zip(*np.nonzero(dense), strict=True):
        assert j in g.indices[i] or i in g.indices[j]
    i, j = 0, g.indices[0, 0]
    one_way = np.exp(-g.distances[0, 0] ** 2 / (2 * sigma[i] * sigma[j]))
    assert dense[i, j] == pytest.approx(one_way * (1.0 if i in g.indices[j] else 0.5), rel=1e-5)
    batch = np.sort(np.random.default_rng(0).choice(300, 120, replace=False))
    assert np.allclose(batch_affinity(W, batch).numpy(), dense[np.ix_(batch, batch)])
    # with every point in the graph, the global affinity is the batch kNN affinity of all
    same = knn_affinity(torch.from_numpy(Z).double(), 5, 2.0).numpy()
    np.testing.assert_allclose(sparse_affinity(g, np.full(300, 2.0)).toarray(), same, atol=1e-6)


def test_tsne_similarities_on_the_graph_are_calibrated_symmetric_and_scale_free():
    Z = np.random.default_rng(5).normal(size=(400, 3)).astype(np.float32)
    g = neighbor_graph(Z, 45)
    P = perplexity_affinity(g, 15, chunk=128)  # several chunks
    dense = P.toarray()
    assert dense.sum() == pytest.approx(1.0) and np.allclose(dense, dense.T)
    assert (np.diag(dense) == 0).all() and P.nnz <= 2 * 400 * 45
    for i, j in zip(*np.nonzero(dense), strict=True):
        assert j in g.indices[i] or i in g.indices[j]
    # each point's conditional distribution over its neighbours has the asked perplexity
    one_way = reference_conditionals(g, 15)
    entropy = -(one_way * np.log(np.where(one_way > 0, one_way, 1))).sum(1)
    np.testing.assert_allclose(np.exp(entropy), 15, rtol=1e-3)
    np.testing.assert_allclose(dense, (one_way + one_way.T) / 800, atol=1e-9)
    far = perplexity_affinity(neighbor_graph(Z * 1e3, 45), 15).toarray()
    np.testing.assert_allclose(far, dense, atol=1e-9)


def reference_conditionals(g, perplexity):
    """t-SNE's P_j|i over each point's graph neighbours as a dense (n, n) matrix, by a plain
    numpy bisection one point at a time (a reference for perplexity_affinity)."""
    n, k = g.indices.shape
    out = np.zeros((n, n))
    for i in range(n):
        d = g.distances[i].astype(np.float64) ** 2
        lo, hi = -50.0, 50.0
        for _ in range(100):
            beta = np.exp((lo + hi) / 2)
            p = np.exp(-beta * (d - d.min()))
            p /= p.sum()
            h = -(p * np.log(np.maximum(p, 1e-300))).sum()
            lo, hi = ((lo + hi) / 2, hi) if h > np.log(perplexity) else (lo, (lo + hi) / 2)
        out[i, g.indices[i]] = p
    return out


def test_spectral_embedding_is_orthonormal_and_separates_components():
    Z = np.concatenate([np.random.default_rng(6).normal(c, 0.3, size=(100, 2))
                        for c in (0, 10, 20)]).astype(np.float32)
    g = neighbor_graph(Z, 5)
    W = sparse_affinity(g, g.scales(5))
    V = spectral_embedding(W, 3, random_state=0)
    assert V.shape == (300, 3)
    np.testing.assert_allclose(V.T @ V / 300, np.eye(3), atol=1e-4)
    assert np.array_equal(V, spectral_embedding(W, 3, random_state=0))  # seeded start
    rows = V / np.linalg.norm(V, axis=1, keepdims=True)  # one direction per component
    assert all(np.allclose(rows[k * 100:(k + 1) * 100], rows[k * 100], atol=1e-3)
               for k in range(3))
    truth = np.repeat(np.arange(3), 100)
    assert normalized_cut(W, truth) == pytest.approx(0, abs=1e-9)
    assert normalized_cut(W, np.arange(300) % 3) > 1  # a partition against the graph
    with pytest.raises(ValueError, match="n_components"):
        spectral_embedding(W, 299)


def test_spectral_clusters_follow_the_graph_where_kmeans_cuts_across():
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_moons

    X, y = make_moons(400, noise=0.05, random_state=0)
    W = self_tuning_affinity(X)
    labels = spectral_clusters(W, 2, random_state=0)
    assert evaluate(y, labels)["acc"] == 1.0
    assert np.array_equal(labels, spectral_clusters(W, 2, random_state=0))
    assert evaluate(y, KMeans(2, n_init=10, random_state=0).fit_predict(X))["acc"] < 0.9


def test_neighbour_batches_hold_each_anchors_neighbours():
    Z = np.random.default_rng(5).normal(size=(1000, 3)).astype(np.float32)
    g = neighbor_graph(Z, 6)
    batches = neighbor_batches(g, 128, 3, np.random.default_rng(0))
    assert len(batches) == 8  # ceil(1000 / 128), as a plain epoch
    assert all(len(b) <= 128 and len(np.unique(b)) == len(b) for b in batches)
    # a point with its 3 nearest in the batch: at least the 32 anchors of each batch
    held = [sum(np.isin(g.indices[i, :3], b).all() for i in b) for b in batches]
    assert min(held) >= 128 // 4
    again = neighbor_batches(g, 128, 3, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))


TINY = dict(latent_dim=4, mlp_hidden=(32,), spectral_hidden=(32,), batch_size=32,
            spectral_batch_size=120, pretrain_epochs=30, spectral_epochs=40, verbose=0)


@pytest.mark.parametrize(("klass", "solver"), [
    (DSCDAN, "exact"), (DSCDAN, "neighbors"), (DSCDAN, "batch"), (SpectralNet, "neighbors")])
def test_each_solver_clusters_separated_blobs_and_is_deterministic(klass, solver, blobs):
    X, y = blobs
    # one graph of 240 points: 3 neighbours (SpectralNet's MNIST graph) leave it in pieces;
    # the eigenvectors' rows are normalised as in Ng, Jordan & Weiss (SpectralNet: off)
    graph = dict(n_neighbors=10, affinity_scale="local", normalize_rows=True)
    model = klass(3, spectral_solver=solver, **graph, **TINY).fit(X)
    assert model.spectral_solver_ == solver
    assert evaluate(y, model.labels_)["acc"] == 1.0
    assert np.array_equal(model.predict(X), model.labels_)
    again = klass(3, spectral_solver=solver, **graph, **TINY).fit(X)
    assert np.array_equal(again.labels_, model.labels_)


def test_exact_solver_picks_eigenvectors_by_normalised_cut():
    X, y = shape_images(30)
    model = DSCDAN(3, latent_dim=8, spectral_hidden=(32,), pretrain_epochs=2,
                   spectral_epochs=20, joint_epochs=1, self_label=False, verbose=0).fit(X)
    assert (model.spectral_solver_, model.spectral_dim_) == ("exact", 6)  # images: 2K
    assert set(model.normalized_cuts_) == {3, 4, 5, 6}
    assert model.n_eigenvectors_ == min(model.normalized_cuts_, key=model.normalized_cuts_.get)
    assert model.transform(X).shape == (len(X), model.n_eigenvectors_)
    assert all("eigenvectors" in h for h in model.history_ if h["stage"] == "spectral")
    assert evaluate(y, model.labels_)["acc"] > 0.9
    vectors = DSCDAN(3, **TINY).fit(np.random.default_rng(0).normal(size=(90, 5)))
    assert (vectors.spectral_solver_, vectors.spectral_dim_, vectors.n_eigenvectors_) == (
        "batch", 3, 3)  # feature vectors: the paper's solver and K outputs


def test_argmax_assignment_keeps_one_output_per_cluster():
    X = shape_images(10)[0]
    model = DSCDAN(3, assign="argmax", **TINY).fit(X)
    assert model.spectral_dim_ == 3 and set(model.labels_) <= {0, 1, 2}
    with pytest.raises(DeepclustError, match="spectral_dim=6 must be 3 or 'n_clusters'"):
        DSCDAN(3, assign="argmax", spectral_dim=6, **TINY).fit(X)


def test_too_few_samples_for_the_eigenvectors():
    X = shape_images(2)[0]  # 6 images, K = 3: 2K = 6 eigenvectors need 8
    assert DSCDAN(3, **TINY).fit(X).spectral_solver_ == "batch"  # "auto" falls back
    with pytest.raises(DeepclustError, match="needs at least 8 samples, got 6"):
        DSCDAN(3, spectral_solver="exact", **TINY).fit(X)


def test_exact_solver_resumes_a_finished_fit_exactly(blobs, tmp_path):
    X = blobs[0]
    params = dict(spectral_solver="exact", spectral_dim=5, checkpoint_dir=str(tmp_path), **TINY)
    first = DSCDAN(3, **params).fit(X)
    again = DSCDAN(3, **params).fit(X, resume=True)
    assert np.array_equal(first.labels_, again.labels_)
    np.testing.assert_allclose(first.transform(X), again.transform(X), atol=1e-6)


@pytest.mark.parametrize(("params", "message"), [
    ({"spectral_solver": "full"}, "spectral_solver must be one of"),
    ({"spectral_dim": 2}, "spectral_dim must be 'auto', 'n_clusters' or an integer >= "
                          "n_clusters=3, got 2"),
])
def test_spectral_options_are_checked(params, message, blobs):
    with pytest.raises(DeepclustError, match=message):
        DSCDAN(3, **{**TINY, **params}).fit(blobs[0])
