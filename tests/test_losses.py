"""Tests for deepclust.losses on hand-computed cases and their defining properties."""

import math

import pytest
import torch

from deepclust.losses import (
    bce_reconstruction,
    discriminator_loss,
    generator_loss,
    jsd_mi_loss,
    kl_mixture,
    kl_normal,
    kl_to_uniform,
    pairwise_cross_entropy,
    reconstruction_loss,
    relative_reconstruction_loss,
    shuffle_batch,
    spectral_loss,
    student_t_similarity,
)
from deepclust.nets import noisy_transform

LOG2 = math.log(2)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_reconstruction_losses_hand():
    x = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    x_rec = torch.tensor([[1.0, 1.0], [1.0, 3.0]])  # per-sample squared errors 1 and 4
    assert reconstruction_loss(x, x_rec).item() == pytest.approx(2.5)
    assert relative_reconstruction_loss(x, x_rec).item() == pytest.approx(2.5)
    images = torch.zeros(2, 1, 2, 2)
    assert reconstruction_loss(images, images + 0.5).item() == pytest.approx(1.0)  # 4 × 0.25


def test_bce_reconstruction_hand():
    x = torch.tensor([[1.0, 0.0]])
    assert bce_reconstruction(x, torch.zeros(1, 2)).item() == pytest.approx(2 * LOG2)
    # images: BCE averaged over channels, summed over the 2×2 pixels
    img = torch.rand(3, 3, 2, 2, generator=gen())
    logits = torch.randn(3, 3, 2, 2, generator=gen(1))
    p = torch.sigmoid(logits)
    bce = -(img * p.log() + (1 - img) * (1 - p).log())
    expected = bce.mean(1).sum((1, 2)).mean()
    assert bce_reconstruction(img, logits).item() == pytest.approx(expected.item(), rel=1e-5)


def test_kl_normal_hand():
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, LOG2]])
    # -½[(1 + 0 - 1 - 1) + (1 + log2 - 0 - 2)] = 1 - log2 / 2
    assert kl_normal(mu, logvar).item() == pytest.approx(1 - LOG2 / 2)
    assert kl_normal(torch.zeros(4, 3), torch.zeros(4, 3)).item() == 0.0


def test_kl_mixture_hand():
    mu, logvar = torch.zeros(1, 1), torch.zeros(1, 1)
    means = torch.tensor([[1.0], [3.0]])  # per-cluster KL ½c²: 0.5 and 4.5
    p_y = torch.tensor([[0.25, 0.75]])
    assert kl_mixture(mu, logvar, p_y, means).item() == pytest.approx(0.25 * 0.5 + 0.75 * 4.5)


def test_kl_mixture_equals_kl_normal_at_zero_means():
    mu = torch.randn(8, 5, generator=gen())
    logvar = torch.randn(8, 5, generator=gen(1))
    p_y = torch.softmax(torch.randn(8, 4, generator=gen(2)), dim=1)
    mixture = kl_mixture(mu, logvar, p_y, torch.zeros(4, 5))
    assert mixture.item() == pytest.approx(kl_normal(mu, logvar).item(), rel=1e-5)
    # and with a single cluster at c, it is the KL to N(c, I)
    c = torch.randn(1, 5, generator=gen(3))
    shifted = kl_mixture(mu, logvar, torch.ones(8, 1), c)
    assert shifted.item() == pytest.approx(kl_normal(mu - c, logvar).item(), rel=1e-5)


def test_kl_to_uniform_hand():
    assert kl_to_uniform(torch.full((3, 4), 0.25)).item() == pytest.approx(0.0, abs=1e-6)
    one_hot = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert kl_to_uniform(one_hot).item() == pytest.approx(LOG2, abs=1e-6)


def test_jsd_mi_loss():
    zero = torch.zeros(4)
    assert jsd_mi_loss(zero, zero).item() == pytest.approx(2 * LOG2)
    losses = [jsd_mi_loss(torch.full((4,), t), zero).item() for t in (-2.0, 0.0, 2.0, 5.0)]
    assert losses == sorted(losses, reverse=True)  # decreases as positive logits grow
    assert jsd_mi_loss(zero, zero + 3).item() > jsd_mi_loss(zero, zero).item()
    local = jsd_mi_loss(torch.zeros(2, 3, 3), torch.zeros(2, 3, 3))  # (B, h, w) logits
    assert local.item() == pytest.approx(2 * LOG2)


def test_shuffle_batch_permutes_rows_reproducibly():
    x = torch.arange(20.0).view(10, 2)
    a, b = shuffle_batch(x, gen(5)), shuffle_batch(x, gen(5))
    assert torch.equal(a, b)
    assert torch.equal(a[:, 0].sort().values, x[:, 0])  # every row once
    assert torch.equal(a[:, 1] - a[:, 0], x[:, 1] - x[:, 0])  # rows kept whole


def test_spectral_loss_hand():
    W = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    Y = torch.tensor([[0.0], [1.0]])
    assert spectral_loss(W, Y).item() == pytest.approx(0.5)  # 2 · 1 / (2 · 2)


def test_spectral_loss_zero_on_constant_components_and_laplacian_form():
    W = torch.block_diag(torch.rand(3, 3, generator=gen()), torch.rand(4, 4, generator=gen(1)))
    W = (W + W.T) / 2
    Y = torch.tensor([[1.0, -2.0]] * 3 + [[0.5, 3.0]] * 4)
    assert spectral_loss(W, Y).item() == pytest.approx(0.0, abs=1e-5)
    Y = torch.randn(7, 2, generator=gen(2))
    laplacian = torch.diag(W.sum(1)) - W  # Σ W_ij |y_i - y_j|² = 2 tr(Yᵀ L Y)
    expected = 2 * torch.trace(Y.T @ laplacian @ Y) / (2 * 7)
    assert spectral_loss(W, Y).item() == pytest.approx(expected.item(), rel=1e-5)


def test_student_t_hand():
    H = torch.tensor([[0.0], [1.0], [3.0]])
    # dof 1: T_01 = 1/2, T_02 = 1/10, T_12 = 1/5; off-diagonal total 1.6
    P = student_t_similarity(H, dof=1)
    expected = torch.tensor([[0, 0.5, 0.1], [0.5, 0, 0.2], [0.1, 0.2, 0]]) / 1.6
    assert torch.allclose(P, expected)
    # author's form: the diagonal (T_ii = 1) is included in the normalisation
    P = student_t_similarity(H[:2], dof=1, include_diagonal=True)
    assert torch.allclose(P, torch.tensor([[2.0, 1.0], [1.0, 2.0]]) / 6)


@pytest.mark.parametrize("include_diagonal", [False, True])
def test_student_t_is_a_symmetric_distribution(include_diagonal):
    H = torch.randn(16, 3, generator=gen())
    for dof in (1.0, 100.0):
        P = student_t_similarity(H, dof, include_diagonal=include_diagonal)
        assert torch.allclose(P, P.T)
        assert P.sum().item() == pytest.approx(1.0, abs=1e-5)
        assert P.min() >= 0 and P.max() <= 1
        if not include_diagonal:
            assert P.diagonal().eq(0).all()


def test_student_t_large_dof_is_gaussian_and_dof_one_has_heavier_tails():
    H = torch.randn(10, 2, generator=gen(), dtype=torch.float64)
    d2 = torch.cdist(H, H).pow(2)
    gauss = torch.exp(-d2 / 2) * (1 - torch.eye(10, dtype=torch.float64))
    assert torch.allclose(student_t_similarity(H, dof=1e4), gauss / gauss.sum(), atol=1e-5)
    line = torch.tensor([[0.0], [1.0], [5.0]])
    cauchy, near_gauss = student_t_similarity(line, 1), student_t_similarity(line, 100)
    assert cauchy[0, 2] / cauchy[0, 1] > 10 * near_gauss[0, 2] / near_gauss[0, 1]


def test_pairwise_cross_entropy():
    P = torch.tensor([[0.0, 0.5], [0.5, 0.0]])
    assert pairwise_cross_entropy(P, P).item() == pytest.approx(LOG2)
    H = torch.randn(6, 2, generator=gen(), requires_grad=True)
    P = student_t_similarity(torch.randn(6, 2, generator=gen(1)), dof=100)
    Q = student_t_similarity(H, dof=1)  # exact zero diagonal: must give 0, not NaN
    loss = pairwise_cross_entropy(P, Q)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(H.grad).all()
    assert pairwise_cross_entropy(P, P).item() < loss.item()  # Gibbs: minimal at Q = P


def test_gan_losses_hand():
    zero = torch.zeros(3)
    assert discriminator_loss(zero, zero).item() == pytest.approx(LOG2)
    assert generator_loss(zero).item() == pytest.approx(LOG2)
    confident = discriminator_loss(torch.full((3,), 20.0), torch.full((3,), -20.0))
    assert confident.item() < 1e-6
    assert generator_loss(torch.full((3,), 20.0)).item() < 1e-6
    noisy = [discriminator_loss(zero, zero, 0.05, gen(1)).item() for _ in range(2)]
    assert noisy[0] == noisy[1]  # same generator seed, same label noise
    # targets 1 + 0.05u and 0.05u at logit 0: BCE = log 2 for any target
    assert noisy[0] == pytest.approx(LOG2)
    plain = discriminator_loss(zero + 1, zero - 1)
    assert discriminator_loss(zero + 1, zero - 1, 0.05, gen(1)) != plain


def test_noisy_transform():
    mu = torch.full((20000, 2), 1.0)
    z = noisy_transform(mu, torch.zeros_like(mu), "reparam", generator=gen())
    assert torch.equal(z, noisy_transform(mu, torch.zeros_like(mu), generator=gen()))
    assert z.mean().item() == pytest.approx(1.0, abs=0.03)
    assert z.std().item() == pytest.approx(1.0, abs=0.03)
    z = noisy_transform(mu, torch.full_like(mu, 2 * math.log(0.1)), generator=gen())
    assert z.std().item() == pytest.approx(0.1, abs=0.01)  # σ = exp(logvar / 2)
    z = noisy_transform(mu * 2, torch.zeros_like(mu), "mult", s=0.5, generator=gen())
    assert z.std().item() == pytest.approx(1.0, abs=0.03)  # 2 · 0.5 · ε
    assert noisy_transform(torch.zeros(3, 2), torch.zeros(3, 2), "mult").eq(0).all()
    with pytest.raises(ValueError, match="mode"):
        noisy_transform(mu, mu, "additive")
