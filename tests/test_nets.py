"""Tests for deepclust.nets: shapes, ranges and the behaviour each network promises."""

import pytest
import torch
from torch import nn

from deepclust.graph import knn_affinity
from deepclust.losses import jsd_mi_loss, shuffle_batch, spectral_loss
from deepclust.nets import (
    ConvConfig,
    ConvDecoder,
    ConvEncoder,
    DenseGrouper,
    Discriminator,
    GlobalCritic,
    LocalCritic,
    MLPDecoder,
    MLPEncoder,
    ResBlock,
    ResDecoder,
    ResEncoder,
    SpectralHead,
    VAEHead,
    build_autoencoder,
    conv_config,
)

B = 3


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_conv_config_follows_paper_table_2():
    assert conv_config((1, 28, 28)) == ConvConfig((16, 16, 32, 32), (2, 1, 2, 1), 3)
    assert conv_config((1, 16, 16)) == ConvConfig((16, 32), (2, 1), 3)
    assert conv_config((3, 55, 55)) == ConvConfig((16, 16, 32, 32), (2, 1, 2, 1), 5)
    assert conv_config((3, 32, 32)).kernel_size == 5
    assert conv_config((1, 28, 28), width=2).channels == (32, 32, 64, 64)  # official code


@pytest.mark.parametrize(
    ("shape", "kind", "feature_map"),
    [
        ((1, 28, 28), ConvEncoder, (16, 14, 14)),
        ((1, 16, 16), ConvEncoder, (32, 8, 8)),
        ((3, 32, 32), ConvEncoder, (16, 16, 16)),
        ((3, 55, 55), ConvEncoder, (16, 28, 28)),
        ((1, 8, 8), MLPEncoder, None),
        ((20,), MLPEncoder, None),
    ],
)
def test_autoencoder_shapes_and_range(shape, kind, feature_map):
    encoder, decoder = build_autoencoder(shape, latent_dim=12, hidden=(32, 16))
    assert isinstance(encoder, kind)
    x = torch.rand(B, *shape)
    out = encoder(x)
    assert out.mu.shape == out.logvar.shape == (B, 12)
    assert out.features.shape == (B, encoder.features_dim)
    assert encoder.feature_map_shape == feature_map
    if feature_map is None:
        assert out.feature_map is None
    else:
        assert out.feature_map.shape == (B, *feature_map)
    x_rec = decoder(out.mu)
    assert x_rec.shape == x.shape
    assert x_rec.min() >= 0 and x_rec.max() <= 1
    assert torch.allclose(torch.sigmoid(decoder.logits(out.mu)), x_rec)


def test_official_code_width_flattens_to_3136():
    config = conv_config((1, 28, 28), width=2)
    encoder = ConvEncoder((1, 28, 28), config=config)
    assert encoder.features_dim == 3136  # method-spec §A.2: Flatten (3136)
    assert encoder(torch.rand(2, 1, 28, 28)).mu.shape == (2, 120)
    assert ConvDecoder((1, 28, 28), config=config)(torch.randn(2, 120)).shape == (2, 1, 28, 28)


def test_conv_layers_match_the_spec():
    encoder = ConvEncoder((1, 28, 28))
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.stride[0], c.kernel_size[0]) for c in convs] == [
        (16, 2, 3),
        (16, 1, 3),
        (32, 2, 3),
        (32, 1, 3),
    ]
    assert all(
        isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2
        for m in encoder.modules()
        if isinstance(m, nn.LeakyReLU | nn.ReLU)
    )
    assert not any(isinstance(m, nn.BatchNorm2d) for m in encoder.modules())
    assert all(c.bias.eq(0).all() for c in convs)  # Keras initialisation


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="equally long"):
        ConvEncoder((1, 28, 28), config=ConvConfig((16, 32), (2,), 3))
    with pytest.raises(ValueError, match="odd kernel_size"):
        ConvDecoder((1, 28, 28), config=ConvConfig((16,), (2,), 4))
    with pytest.raises(ValueError, match="input_shape"):
        build_autoencoder((28, 28))
    with pytest.raises(ValueError, match="image shape"):
        ConvEncoder((784,))


def test_mlp_autoencoder_defaults_are_dec():
    encoder, decoder = MLPEncoder((784,)), MLPDecoder((784,))
    sizes = [m.out_features for m in encoder.trunk if isinstance(m, nn.Linear)]
    assert sizes == [500, 500, 2000] and encoder.head.mu.out_features == 10
    sizes = [m.out_features for m in decoder.net if isinstance(m, nn.Linear)]
    assert sizes == [2000, 500, 500, 784]


def test_vae_head():
    mu, logvar = VAEHead(7, 4)(torch.randn(B, 7))
    assert mu.shape == logvar.shape == (B, 4) and not torch.equal(mu, logvar)


def test_critics_default_to_official_code_widths():
    linears = [m for m in GlobalCritic(1568, 120).net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (1688, 120),
        (120, 120),
        (120, 120),
        (120, 1),
    ]


def test_critics_shapes_and_locality():
    z = torch.randn(B, 10)
    assert GlobalCritic(50, 10)(torch.randn(B, 50), z).shape == (B,)
    critic = LocalCritic(8, 10)
    fmap = torch.randn(B, 8, 5, 6)
    logits = critic(fmap, z)
    assert logits.shape == (B, 5, 6)
    changed = fmap.clone()
    changed[:, :, 2, 3] += 1  # a 1×1 critic: only that position's logit moves
    moved = (critic(changed, z) - logits).abs() > 0
    assert moved[:, 2, 3].all() and moved.sum() == B


def test_global_critic_learns_to_tell_pairs():
    critic = GlobalCritic(4, 4, hidden=(32, 32))
    opt = torch.optim.Adam(critic.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(128, 4, generator=gen)
    losses = []
    for _ in range(40):
        loss = jsd_mi_loss(critic(z, z), critic(shuffle_batch(z, gen), z))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_res_block_keeps_shape_and_skips_identity():
    block = ResBlock(4)
    x = torch.randn(B, 4, 7, 7)
    assert block(x).shape == x.shape
    nn.init.zeros_(block.conv2.weight)
    nn.init.zeros_(block.conv2.bias)
    assert torch.equal(block(x), torch.relu(x))


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 16, 16), (3, 32, 32)])
def test_dcfae_nets_take_each_shape_without_resizing(shape):
    widths = (8, 16, 32)
    encoder, decoder = ResEncoder(shape, 6, widths), ResDecoder(shape, 6, widths)
    x = torch.rand(B, *shape)
    out = encoder(x)
    assert out.mu.shape == (B, 6) and out.features.shape == (B, encoder.features_dim)
    assert out.feature_map.shape == (B, *encoder.feature_map_shape)
    x_rec = decoder(out.mu)
    assert x_rec.shape == x.shape and x_rec.min() >= 0 and x_rec.max() <= 1
    assert Discriminator(shape, widths)(x).shape == (B,)


def test_dcfae_default_widths_reach_a_small_map():
    encoder = ResEncoder((1, 28, 28))
    assert encoder.features_dim == 128 * 4 * 4  # 28 → 14 → 7 → 4
    assert ResEncoder((3, 32, 32), widths=(64, 128, 256, 512)).features_dim == 512 * 2 * 2


def test_dense_grouper():
    grouper = DenseGrouper(50)
    assert [m.out_features for m in grouper.net if isinstance(m, nn.Linear)] == [2048, 512, 512, 50]
    assert not any(isinstance(m, nn.Dropout) for m in grouper.modules())  # inert in author's code
    assert DenseGrouper(5, dropout=0.3)(torch.randn(B, 5)).shape == (B, 5)


def gram(y: torch.Tensor) -> torch.Tensor:
    return y.T @ y / y.shape[0]


def test_spectral_head_embeds_in_chunks_as_in_one_pass():
    head = SpectralHead(6, 4, hidden=(32, 16))
    x = torch.randn(5000, 6)  # more than one INFERENCE_CHUNK
    head.update_ortho_weights(x)
    assert torch.allclose(gram(head.embed(x).y), torch.eye(4), atol=1e-3)
    with torch.no_grad():
        whole = head(x)
    for chunked, full in zip(head.embed(x), whole, strict=True):
        assert chunked.shape == full.shape and not chunked.requires_grad
        assert torch.allclose(chunked, full, atol=1e-6)


@pytest.mark.parametrize("output", ["tanh", "softmax"])
def test_spectral_head_outputs_and_orthonormalisation(output):
    head = SpectralHead(6, 4, hidden=(32, 32, 16), output=output)
    x = torch.randn(64, 6)
    out = head(x)
    assert out.y.shape == out.y_tilde.shape == out.p_y.shape == (64, 4)
    assert torch.allclose(out.p_y.sum(1), torch.ones(64))
    assert torch.equal(out.y_tilde, out.p_y) == (output == "softmax")  # else tanh(logits)
    assert torch.equal(out.y, out.y_tilde)  # identity W_o before the first update
    head.update_ortho_weights(x)
    assert torch.allclose(gram(head(x).y), torch.eye(4), atol=1e-3)
    assert "ortho_weights" in head.state_dict()
    y = head(x, ortho_weights="batch").y  # official code: W_o from this batch, with gradient
    assert torch.allclose(gram(y), torch.eye(4), atol=1e-3) and y.requires_grad
    assert torch.equal(head(x, ortho_weights=torch.eye(4)).y, out.y_tilde)
    with pytest.raises(ValueError, match="ortho_weights"):
        head(x, ortho_weights="other")


def test_spectral_head_default_is_four_layers():
    head = SpectralHead(120, 10)
    assert [m.out_features for m in head.net if isinstance(m, nn.Linear)] == [1024, 1024, 512, 10]


def blobs() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    return (centres[:, None] + 0.5 * torch.randn(3, 40, 2, generator=gen)).reshape(120, 2)


def test_spectral_head_gradients_reach_every_layer_with_fixed_weights():
    x = blobs()
    head = SpectralHead(2, 3, hidden=(32, 32, 16))
    head.update_ortho_weights(x)  # SpectralNet: W_o fixed, gradient through Ỹ only
    spectral_loss(knn_affinity(x), head(x).y).backward()
    grads = [p.grad for p in head.parameters()]
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


def test_spectral_head_trains_on_blobs():
    x = blobs()
    W = knn_affinity(x, n_neighbors=3)
    head = SpectralHead(2, 3, hidden=(32, 32, 16))
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    losses = []
    for _ in range(100):
        loss = spectral_loss(W, head(x, ortho_weights="batch").y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    y = head(x, ortho_weights="batch").y.detach()
    labels = torch.arange(3).repeat_interleave(40)
    within = sum(y[labels == k].var(0).sum() for k in range(3)) / 3
    assert within < 0.05 * y.var(0).sum()  # Y nearly constant within each blob
