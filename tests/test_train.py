import math

import numpy as np
import pytest
import torch
from conftest import shape_images
from torch import nn

from deepclust.exceptions import DeepclustError, TrainingError
from deepclust.train import (
    EarlyStopping,
    minibatches,
    place_data,
    place_module,
    resolve_device,
    run_epochs,
    seeded,
)
from deepclust.train.augment import random_shift_rotate


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda"}
    with pytest.raises(DeepclustError, match="not valid"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeepclustError, match="no CUDA GPU"):
            resolve_device("cuda:0")


def test_place_data_moves_the_data_to_a_gpu_only_when_it_fits(monkeypatch):
    X = torch.zeros(100, 10)  # 4,000 bytes
    assert place_data(X, torch.device("cpu")) is X
    moved = []
    monkeypatch.setattr(torch.Tensor, "to", lambda self, device: moved.append(device) or self)
    gpu = torch.device("cuda:0")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (7_000, 80_000))
    assert place_data(X, gpu) is X and moved == []  # 4,000 bytes > half of 7,000 free
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (9_000, 80_000))
    place_data(X, gpu)
    assert moved == [gpu]


def test_place_module_trains_convolutions_channels_last_on_the_cpu():
    torch.manual_seed(0)
    built = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ConvTranspose2d(4, 2, 3), nn.Flatten(),
                          nn.Linear(2 * 28 * 28, 3))
    x = torch.rand(5, 2, 28, 28)
    expected = built(x)
    placed = place_module(built, torch.device("cpu"))
    for conv in (placed[0], placed[1]):
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
        assert not conv.weight.is_contiguous()  # the layout changed, not only the label
    assert placed[3].weight.is_contiguous()  # a dense layer stays as it was
    torch.testing.assert_close(placed(x), expected, rtol=1e-5, atol=1e-5)  # the same maths


def test_minibatches_cover_every_index_once():
    batches = minibatches(103, 10, np.random.default_rng(0))
    assert len(batches) == 11
    assert {len(b) for b in batches} == {9, 10}  # balanced: no batch of 3
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))


def test_seeded_restores_the_callers_rng():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    with seeded(7) as rng:
        inside = torch.rand(1)
        assert isinstance(rng, np.random.Generator)
    assert torch.equal(torch.rand(1), expected)
    with seeded(7):
        assert torch.equal(torch.rand(1), inside)


def _regression_problem():
    x = torch.linspace(-1, 1, 64)[:, None]
    return x, 3 * x + 0.5


def _train(epochs, *, checkpoint=None, resume=False, seed=0, stop_after=None):
    """Fit a noisy linear model; the noise and batch order exercise both RNGs."""
    x, t = _regression_problem()
    with seeded(seed) as rng:
        model = nn.Linear(1, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        calls = {"n": 0}

        def step(idx):
            calls["n"] += 1
            if stop_after is not None and calls["n"] > stop_after:
                raise KeyboardInterrupt
            noise = 0.01 * torch.randn(len(idx), 1)
            loss = ((model(x[idx]) - t[idx] - noise) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return {"loss": loss.detach()}

        history = run_epochs(step, n_samples=64, batch_size=16, epochs=epochs, rng=rng,
                             stateful={"model": model, "opt": opt}, checkpoint=checkpoint,
                             resume=resume, verbose=0)
    return model, history


def test_loop_learns_and_records_history():
    model, history = _train(20)
    assert len(history) == 20
    assert history[-1]["loss"] < history[0]["loss"] / 10
    assert model.weight.item() == pytest.approx(3, abs=0.1)


def test_same_seed_same_weights_different_seed_different():
    a, _ = _train(3, seed=1)
    b, _ = _train(3, seed=1)
    c, _ = _train(3, seed=2)
    assert torch.equal(a.weight, b.weight)
    assert not torch.equal(a.weight, c.weight)


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path):
    ckpt = tmp_path / "stage.pt"
    reference, ref_history = _train(6)
    with pytest.raises(KeyboardInterrupt):
        _train(6, checkpoint=ckpt, stop_after=4 * 3 + 2)  # dies inside epoch 4
    assert ckpt.exists()
    resumed, history = _train(6, checkpoint=ckpt, resume=True)
    assert torch.equal(resumed.weight, reference.weight)
    assert torch.equal(resumed.bias, reference.bias)
    assert [h["loss"] for h in history] == pytest.approx([h["loss"] for h in ref_history])
    assert not list(tmp_path.glob("*.tmp"))


def test_nan_loss_names_term_and_step():
    with seeded(0) as rng:
        def step(idx):
            return {"loss": 1.0, "kl": float("nan")}

        with pytest.raises(TrainingError, match=r"'kl' became nan .* epoch 1, step 1"):
            run_epochs(step, n_samples=8, batch_size=4, epochs=2, rng=rng, stateful={},
                       verbose=0)


def test_terms_on_a_device_are_read_once_per_epoch_and_a_nan_names_its_step():
    from deepclust.train.loop import _epoch_means

    where = {"stage": "pretrain", "epoch": 1, "checkpoint": None}
    terms = {"loss": [(torch.tensor(1.0), 4), (torch.tensor(2.0), 4), (torch.tensor(3.0), 2)]}
    assert _epoch_means(terms, 10, **where) == {"loss": pytest.approx(1.8)}  # weighted
    terms["kl"] = [(torch.tensor(0.5), 4), (torch.tensor(0.5), 4), (torch.tensor(math.inf), 2)]
    with pytest.raises(TrainingError, match=r"'kl' became inf in stage 'pretrain', epoch 2, "
                                            r"step 3; no checkpoint"):
        _epoch_means(terms, 10, **where)


def test_early_stopping():
    stop = EarlyStopping(min_delta=0.1, patience=2)
    assert not stop.should_stop([{"loss": 3.0}, {"loss": 2.0}, {"loss": 1.0}])
    assert stop.should_stop([{"loss": 1.0}, {"loss": 0.95}, {"loss": 0.97}])


def test_progress_bar_shows_stage_loss_and_monitor_score_and_quiet_hides_it(capsys):
    x, t = _regression_problem()

    def step(idx):
        return {"loss": ((x[idx] - t[idx]) ** 2).mean()}

    def monitor(epoch):
        return {"monitor_acc": 0.5 + epoch / 10, "monitor_nmi": 0.25}

    for verbose in (1, 0):
        run_epochs(step, n_samples=64, batch_size=16, epochs=3, rng=np.random.default_rng(0),
                   stateful={}, stage="pretrain", on_epoch_end=monitor, verbose=verbose)
        err = capsys.readouterr().err
        if verbose:
            assert "pretrain" in err and "loss=" in err and "<00:00" in err  # stage, ETA
            assert "acc=0.700" in err and "nmi=0.250" in err  # the last monitor scores
        else:
            assert err == ""


def test_augmentation_shifts_and_rotates_images():
    x = torch.from_numpy(shape_images(3)[0][:8])
    torch.manual_seed(0)
    out = random_shift_rotate(x)
    assert out.shape == x.shape and not torch.allclose(out, x)
    torch.manual_seed(0)
    assert torch.equal(random_shift_rotate(x), out)  # torch's seeded RNG
    torch.manual_seed(1)
    shifted = random_shift_rotate(x, max_degrees=0.0)  # whole-pixel shifts only: exact
    for img, s in zip(x, shifted, strict=True):
        matches = [torch.allclose(torch.roll(img, (dy, dx), (1, 2))[:, 1:-1, 1:-1],
                                  s[:, 1:-1, 1:-1], atol=1e-5)
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        assert sum(matches) == 1


def test_continuous_shifts_with_zero_fill_move_an_image_by_at_most_the_shift():
    x = torch.zeros(64, 1, 9, 9)
    x[:, :, 4, 4] = 1.0
    assert torch.allclose(random_shift_rotate(x, 0.0, 0.0, whole_pixels=False, fill="zeros"), x,
                          atol=1e-6)
    torch.manual_seed(0)
    out = random_shift_rotate(x, 1.5, 0.0, whole_pixels=False, fill="zeros")
    grid = torch.arange(9.0)
    mass = out.sum((1, 2, 3))
    rows = (out.sum(3)[:, 0] * grid).sum(1) / mass
    cols = (out.sum(2)[:, 0] * grid).sum(1) / mass
    assert torch.allclose(mass, torch.ones(64), atol=1e-5)  # bilinear, inside the image
    offsets = torch.cat([rows - 4, cols - 4])
    assert offsets.abs().max() <= 1.5 + 1e-5
    assert (offsets - offsets.round()).abs().max() > 0.1  # not whole pixels
    with pytest.raises(ValueError, match="fill must be one of"):
        random_shift_rotate(x, 1, 0, fill="reflect")
