"""Tests for deepclust.graph: distances, kNN Gaussian affinity, median σ, orthonormalisation."""

import math

import numpy as np
import pytest
import torch

from deepclust.graph import knn_affinity, median_scale, orthonorm_weights, pairwise_sq_dists

LINE = torch.tensor([[0.0], [1.0], [3.0], [7.0], [8.0]])  # five points on a line


def brute_force_affinity(Z: np.ndarray, k: int, sigma: float) -> np.ndarray:
    m = len(Z)
    W = np.zeros((m, m))
    for i in range(m):
        d2 = ((Z - Z[i]) ** 2).sum(1)
        others = [j for j in np.argsort(d2, kind="stable") if j != i][:k]
        for j in others:
            W[i, j] = np.exp(-d2[j] / (2 * sigma**2))
    return (W + W.T) / 2


def test_pairwise_sq_dists_hand():
    A = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    B = torch.tensor([[0.0, 1.0]])
    assert torch.allclose(pairwise_sq_dists(A), torch.tensor([[0.0, 25.0], [25.0, 0.0]]))
    assert torch.allclose(pairwise_sq_dists(A, B), torch.tensor([[1.0], [18.0]]))


def test_pairwise_sq_dists_stay_float32_under_autocast():
    Z = torch.randn(32, 8, generator=torch.Generator().manual_seed(8)) + 10
    expected = pairwise_sq_dists(Z.double())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        D2 = pairwise_sq_dists(Z)
    assert D2.dtype == torch.float32
    assert torch.allclose(D2.double(), expected, atol=1e-3)
    assert pairwise_sq_dists(Z.bfloat16()).dtype == torch.float32


def test_knn_affinity_hand_example():
    W = knn_affinity(LINE, n_neighbors=1, scale=1.0)
    e = math.exp
    expected = torch.zeros(5, 5)
    expected[0, 1] = expected[1, 0] = e(-0.5)  # 0 and 1 choose each other
    expected[1, 2] = expected[2, 1] = e(-2.0) / 2  # 3 chooses 1 (d=2), 1 does not choose 3
    expected[3, 4] = expected[4, 3] = e(-0.5)
    assert torch.allclose(W, expected, atol=1e-7)


def test_knn_affinity_matches_brute_force():
    gen = torch.Generator().manual_seed(0)
    Z = torch.randn(30, 4, generator=gen, dtype=torch.float64)
    k, sigma = 3, 1.7
    W = knn_affinity(Z, n_neighbors=k, scale=sigma).numpy()
    expected = brute_force_affinity(Z.numpy(), k, sigma)
    np.testing.assert_allclose(W, expected, atol=1e-12)
    nonzero = W > 0
    assert np.array_equal(W, W.T)
    assert not nonzero.diagonal().any()
    assert (nonzero.sum(1) >= k).all()  # each point keeps its own k neighbours
    assert nonzero.sum() <= 2 * k * len(Z)  # and the union of kNN pairs has at most 2km entries
    assert np.array_equal(nonzero, expected > 0)


def test_median_scale_hand_example():
    # distance to the nearest other point: 1, 1, 2, 1, 1; to the 2nd other: 3, 2, 3, 4, 5
    assert median_scale(LINE) == pytest.approx(1.0)
    assert median_scale(LINE, nbr=3) == pytest.approx(3.0)
    # even count: the median interpolates, as numpy's
    assert median_scale(torch.tensor([[0.0], [1.0], [4.0], [10.0]])) == pytest.approx(2.0)


def test_median_scale_matches_numpy_on_random_batch():
    gen = torch.Generator().manual_seed(1)
    Z = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    D = np.sqrt(((Z.numpy()[:, None] - Z.numpy()[None]) ** 2).sum(-1))
    expected = np.median(np.sort(D, axis=1)[:, 1])  # SpectralNet: column 1, self at column 0
    assert median_scale(Z, nbr=2) == pytest.approx(expected)


def test_knn_affinity_default_scale_is_median_rule():
    gen = torch.Generator().manual_seed(2)
    Z = torch.randn(40, 5, generator=gen)
    assert torch.allclose(knn_affinity(Z, 3), knn_affinity(Z, 3, scale=median_scale(Z)))


def test_duplicates_give_finite_affinity_and_gradient():
    Z = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    Z.requires_grad_(True)
    W = knn_affinity(Z, n_neighbors=1)
    assert torch.isfinite(W).all()
    assert W[0, 1].item() == pytest.approx(1.0) and W[2, 3].item() == pytest.approx(1.0)
    W.sum().backward()
    assert torch.isfinite(Z.grad).all()
    # every point duplicated: σ falls back to 1, neighbours all get weight 1
    same = torch.ones(4, 3)
    assert median_scale(same) == 1.0
    W = knn_affinity(same, n_neighbors=2)
    assert torch.isfinite(W).all() and W.diagonal().eq(0).all()


def test_small_batches():
    W = knn_affinity(torch.randn(3, 2), n_neighbors=5)  # m <= k: all others are neighbours
    assert (W + torch.eye(3) > 0).all()
    assert knn_affinity(torch.randn(2, 2)).shape == (2, 2)
    with pytest.raises(ValueError, match="m >= 2"):
        knn_affinity(torch.randn(1, 2))
    with pytest.raises(ValueError, match="positive"):
        knn_affinity(torch.randn(5, 2), scale=0.0)
    with pytest.raises(ValueError, match="nbr"):
        median_scale(torch.randn(5, 2), nbr=1)


def gram(Y: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    YW = Y @ W
    return YW.T @ YW / Y.shape[0]


@pytest.mark.parametrize(("dtype", "atol"), [(torch.float64, 1e-4), (torch.float32, 1e-3)])
def test_orthonorm_random_batch(dtype, atol):
    gen = torch.Generator().manual_seed(3)
    Y = torch.tanh(torch.randn(256, 10, generator=gen, dtype=dtype))
    W = orthonorm_weights(Y)
    assert W.dtype == dtype and W.shape == (10, 10)
    assert torch.allclose(gram(Y, W), torch.eye(10, dtype=dtype), atol=atol)


def test_orthonorm_many_clusters():
    gen = torch.Generator().manual_seed(4)
    Y = torch.softmax(torch.randn(64, 40, generator=gen), dim=1)  # K = 40 ([ISS] #4: 38 classes)
    W = orthonorm_weights(Y)
    assert torch.isfinite(W).all()
    assert torch.allclose(gram(Y, W), torch.eye(40), atol=1e-3)


def test_orthonorm_rank_deficient_is_finite_and_closest():
    gen = torch.Generator().manual_seed(5)
    rank1 = torch.randn(64, 1, generator=gen) @ torch.randn(1, 10, generator=gen)
    evals = torch.linalg.eigvalsh(gram(rank1, orthonorm_weights(rank1)).double())
    assert torch.isfinite(evals).all()
    assert evals[-1] == pytest.approx(1.0, abs=1e-3)  # a rank-1 projector
    assert evals[:-1].abs().max() < 1e-3
    wide = torch.randn(16, 40, generator=gen)  # fewer rows than columns: rank 16
    evals = torch.linalg.eigvalsh(gram(wide, orthonorm_weights(wide)).double())
    assert torch.allclose(evals[-16:], torch.ones(16, dtype=torch.float64), atol=1e-3)
    assert evals[:-16].abs().max() < 1e-3
    assert torch.isfinite(orthonorm_weights(torch.zeros(8, 3))).all()
    with pytest.raises(ValueError, match="NaN"):
        orthonorm_weights(torch.full((8, 3), math.nan))


def test_orthonorm_jitter_ramp_and_eigen_fallback(monkeypatch):
    real = torch.linalg.cholesky_ex
    jitters = []

    def failing(n_failures):
        def cholesky_ex(A):
            jitters.append(A[0, 0].item())
            L, info = real(A)
            return L, torch.ones_like(info) if len(jitters) <= n_failures else info

        return cholesky_ex

    Y = torch.randn(100, 5, generator=torch.Generator().manual_seed(6), requires_grad=True)
    monkeypatch.setattr(torch.linalg, "cholesky_ex", failing(2))
    W = orthonorm_weights(Y)
    assert len(jitters) == 3 and W.requires_grad  # third try succeeded, on the Cholesky path
    steps = np.diff(jitters)
    assert steps[0] > 0
    assert steps[1] == pytest.approx(10 * steps[0], rel=1e-6)  # jitter grows tenfold
    assert torch.allclose(gram(Y, W), torch.eye(5), atol=1e-3)

    jitters.clear()
    monkeypatch.setattr(torch.linalg, "cholesky_ex", failing(100))
    W = orthonorm_weights(Y)
    assert not W.requires_grad  # eigendecomposition fallback, no gradient
    assert torch.allclose(gram(Y, W), torch.eye(5), atol=1e-3)


def test_orthonorm_gradient_flows_through_cholesky():
    gen = torch.Generator().manual_seed(7)
    theta = torch.randn(3, 4, generator=gen, requires_grad=True)
    X = torch.randn(128, 3, generator=gen)
    Y = torch.tanh(X @ theta)
    Yo = Y @ orthonorm_weights(Y)
    (Yo[:64] - Yo[64:]).pow(2).sum().backward()
    assert torch.isfinite(theta.grad).all() and theta.grad.abs().sum() > 0
