"""What the deep estimators share: input scaling, device, training stages, encoding, assignment."""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_argmin
from torch import Tensor, nn

from .._arrays import map_rows, row_blocks
from .._shards import sharded
from ..exceptions import DeepclustError
from ..metrics import evaluate
from ..train import (
    PRECISIONS,
    autocast,
    check_precision,
    measured,
    place_data,
    place_module,
    resolve_device,
    run_epochs,
)
from ..train.distributed import data_parallel, init_from_env, is_main
from .base import BaseClusterer, EmbeddingMixin

MONITOR_SAMPLES = 2000  # ours: per-epoch scores (when y is given) on a subsample, to stay cheap
MONITOR_POINTS = 50  # ours: at most this many scored epochs per stage (small data: many epochs)
SCALINGS = ("auto", "unit", "standard")
#: fitted attributes every deep method has (subclasses add their own modules)
DEEP_FITTED = ("labels_", "cluster_centers_", "scaling_", "data_shift_", "data_scale_", "history_",
               "encoder_", "decoder_")


def choose_scaling(X: np.ndarray, scaling: str = "auto") -> tuple[str, np.ndarray, np.ndarray]:
    """How the deep methods scale their input: ``(kind, shift, scale)`` with ``x' = (x -
    shift) / scale``.

    - ``"unit"``: into [0, 1] (kept as it is when already there, else min-max with one global
      min and max), reconstructed through the decoder's sigmoid: images, and binary data.
    - ``"standard"``: each feature centred, then one global scale so that the mean squared
      deviation per feature is 1 (the geometry is kept: a translation and one factor),
      reconstructed by the decoder's linear output with squared error: feature vectors.
    - ``"auto"`` (ours): ``"unit"`` for images (C, H, W) and for vectors whose values are all
      0 or 1, ``"standard"`` for other vectors. Reason: in [0, 1] a sparse tf-idf row carries
      a squared norm of about 1, against about 100 for an MNIST image, so the reconstruction
      term that keeps the codes informative is outweighed by the KL prior and the codes
      collapse (DSCDAN 0.10 ACC on 20-topic tf-idf, k-means 0.61); standardised, every
      feature vector carries its dimension in squared norm, as images carry theirs.

    A memory-mapped ``X`` of more than one block is read in blocks of rows
    (``deepclust._arrays``).
    """
    blocks = row_blocks(X)
    if scaling == "auto":
        binary = X.ndim == 2 and all(np.isin(X[rows], (0, 1)).all() for rows in blocks)
        scaling = "unit" if X.ndim > 2 or binary else "standard"
    if scaling == "unit":
        lo, hi = float(X.min()), float(X.max())
        if lo >= 0 and hi <= 1:
            lo, hi = 0.0, 1.0
        return "unit", np.array([lo], np.float32), np.array([max(hi - lo, 1e-6)], np.float32)
    shift = X.mean(0, keepdims=True)[0]
    scale = float(np.sqrt(sum(((X[rows] - shift) ** 2).mean() * (len(X[rows]) / len(X))
                              for rows in blocks)))
    return "standard", shift.astype(np.float32), np.array([max(scale, 1e-6)], np.float32)


#: an ``auto_params`` function: (sample shape, the parameters resolved before it) -> value
AutoRule = Callable[[tuple[int, ...], Mapping[str, Any]], Any]


def code_size(default: int) -> AutoRule:
    """An ``auto_params`` latent size (ours): ``default`` for images, at most the number of
    features for vectors (13 wine measurements get 13-dimensional codes, not 120)."""
    return lambda shape, _: default if len(shape) > 1 else min(default, shape[0])


def hidden_sizes(default: tuple[int, ...]) -> AutoRule:
    """``auto_params`` MLP widths (ours): ``default`` for images; for vectors of d features
    all scaled by one factor so that the first is at most 4·d rounded up to a power of two
    (at least 16): 256-256-512 stays for 64 features or more, 13 features get 64-64-128.
    Measured on wine (178 × 13, 5 seeds): DSCDAN with k-means on Y, ACC 0.910 → 0.962 with
    13-d codes and 64-64-128 layers."""
    def sized(shape: tuple[int, ...], _: Mapping[str, Any]) -> tuple[int, ...]:
        if len(shape) > 1:
            return default
        factor = min(1.0, max(16, 2 ** math.ceil(math.log2(4 * shape[0]))) / default[0])
        return tuple(max(1, round(width * factor)) for width in default)
    return sized


def normalised_kl(beta: float) -> AutoRule:
    """An ``auto_params`` KL weight for standardised vectors (ours): w_kl = beta·D/d for D
    features and d = ``latent_dim`` (resolved before it), beta-VAE's normalised weight
    (Higgins et al., 2017). The reconstruction sums over D features and the KL over d code
    dimensions, so one fixed w_kl presses 40 times harder on 13 wine features than on 2,000
    tf-idf terms."""
    return lambda shape, resolved: beta * math.prod(shape) / resolved["latent_dim"]


_Self = TypeVar("_Self", bound="DeepClusterer")


class DeepClusterer(EmbeddingMixin, BaseClusterer):
    """Base of the deep methods: a subclass builds its modules (``_build_modules``), trains them
    in named stages (``_stage``) and says how samples are embedded (``_embed``); this class
    scales the input, places modules on the device, checkpoints and monitors each stage,
    clusters the final embedding with k-means and assigns new samples to the nearest centre.

    Fitted modules are the ``nn.Module`` attributes listed in ``_fitted_attrs``; ``encoder_``
    must return ``nets.EncoderOutput``.

    Parameters every deep estimator takes: ``random_state`` (an int: the same labels on every
    run on the same device and thread count; None: unseeded), ``device`` (``"auto"``: a CUDA
    GPU when there is one, else ``"cpu"``; or ``"cpu"``, ``"cuda"``, ``"cuda:N"``),
    ``precision`` (``"fp32"``, or ``"bf16"``: the training steps' forward passes under
    bfloat16 autocast, ``train.autocast``; distances and the orthonormalisation stay in
    float32/float64, and embedding, clustering and ``predict`` run in float32; ours: DSCDAN's
    and DCFAE's MNIST-test fits ran 1.38x faster on this project's 2-core CPU, which has
    native bfloat16, seed 0 ACC 0.955 against 0.951 and 0.973 against 0.824 (a k-means pick,
    benchmarks/NOTES.md), ``benchmarks/speed``; a CPU without native bfloat16 would be
    slower, and so was an AMD EPYC with AVX-512 BF16 but no AMX: DSCDAN's MNIST-test fit had
    not finished in 22 minutes against 297 s in float32; so it is an option, not the
    default) and ``verbose`` (0: silent, 1: progress bars).

    Every fit records ``history_`` (the loss terms of each epoch) and ``costs_``: for each
    phase (``setup``, each stage, ``graph``, ``assign``) its wall seconds and the process's
    peak memory in MB when it ended (``train.measured``).
    """

    #: batches per stage when its epochs are "auto" (the CPU schedule), and the most epochs
    #: those batches may take (a small data set would otherwise see them hundreds of times)
    auto_batches: ClassVar[dict[str, int]] = {}
    auto_max_epochs: ClassVar[dict[str, int]] = {}
    #: parameter sets for ``preset``: rows of the paper's ablation table, and schedules
    variants: ClassVar[dict[str, dict[str, Any]]] = {}
    schedules: ClassVar[dict[str, dict[str, Any]]] = {}
    #: what each parameter named here is when left at "auto", by the input's ``scaling_``
    #: ("unit": images and 0/1 vectors, "standard": other feature vectors), or an ``AutoRule``
    #: of the sample shape and the values resolved before it, in this order (``code_size``,
    #: ``hidden_sizes``); the value used is ``<name>_``
    auto_params: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def preset(cls: type[_Self], variant: str = "full", schedule: str = "cpu",
               **params: Any) -> _Self:
        """The estimator for a row of the paper's ablation table (``variants``) on a
        schedule (``schedules``); the variant overrides the schedule, ``params`` both."""
        for name, table, key in (("variant", cls.variants, variant),
                                 ("schedule", cls.schedules, schedule)):
            if key not in table:
                raise DeepclustError(f"unknown {name} {key!r}; choose one of {', '.join(table)}.")
        return cls(**{**cls.schedules[schedule], **cls.variants[variant], **params})

    # --- set-up and stages ---------------------------------------------------------------------
    def _setup(self, X: np.ndarray, y: np.ndarray | None) -> tuple[Tensor, Any]:
        """Validate parameters, pick the device, scale ``X`` (on a GPU it fits on, placed there
        once: ``train.place_data``), build the modules; return the training tensor and what
        the stages monitor (None without labels)."""
        self._check_params()
        self.costs_: dict[str, dict[str, float]] = {}
        with self._measured("setup"):
            init_from_env()  # under torchrun: join its processes (train.distributed)
            self.device_ = resolve_device(self.device)
            check_precision(self.precision, self.device_)
            self.scaling_, self.data_shift_, self.data_scale_ = choose_scaling(X, self.scaling)
            resolved: dict[str, Any] = {}
            for name, value in self.auto_params.get(self.scaling_, {}).items():
                given = getattr(self, name)
                if self._left_auto(name):
                    given = value(self.input_shape_, resolved) if callable(value) else value
                resolved[name] = given
                setattr(self, f"{name}_", given)
            X_t = place_data(self._to_tensor(X), self.device_)
            for name, module in self._build_modules().items():
                setattr(self, name, place_module(module, self.device_))
        self.history_: list[dict[str, Any]] = []
        watch = None
        if y is not None:  # monitoring only: a fixed subsample, RNGs of the fit untouched
            sub = np.random.default_rng(0).permutation(len(X))[:MONITOR_SAMPLES]
            watch = (X_t[sub], y[sub])
        return X_t, watch

    def _stage(self, name: str, epochs: int | str, n: int, batch_size: int,
               rng: np.random.Generator, resume: bool, stateful: Mapping[str, Any],
               terms: Callable[[np.ndarray], Mapping[str, Tensor]], watch: Any,
               embed: Callable[[Tensor], Tensor], checkpoint: Path | None = None,
               batches: Callable[[np.random.Generator], list[np.ndarray]] | None = None,
               others: tuple[tuple[torch.optim.Optimizer, str], ...] = (),
               after_epoch: Callable[[int], dict[str, float]] | None = None,
               assign: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """One training stage: ``run_epochs`` with this stage's checkpoint file (``checkpoint``,
        else one in ``checkpoint_dir``), and scores of k-means on ``embed(X)`` (or of
        ``assign(embed(X))``) when labels are watched, after every epoch or, for stages of over
        50 epochs, after 50 evenly spaced ones and the last. ``batches``: the stage's own batch
        sampler (``run_epochs``). ``after_epoch(epoch)`` runs at the end of each epoch, before
        the scores and the checkpoint; what it returns goes into the history.

        ``terms(idx)`` is the forward pass of a step on the samples ``idx``; each step then
        takes ``stateful["opt"]`` on its ``"loss"`` and each of ``others`` on its own term
        (``_step``). Under ``torchrun`` (``train.distributed``) each process gets its shard of
        every batch (``terms`` sees its rows) and the gradients are averaged over the
        processes."""
        epochs = self._stage_epochs(name, epochs, n, batch_size)
        every = math.ceil(epochs / MONITOR_POINTS)  # the last epoch is always scored

        def epoch_end(epoch: int) -> dict[str, float]:
            record = after_epoch(epoch) if after_epoch is not None else {}
            if watch is not None and ((epoch + 1) % every == 0 or epoch + 1 == epochs):
                record.update(self._scores(*watch, embed, assign))
            return record

        ckpt = checkpoint or (Path(self.checkpoint_dir) / f"{name}.pt" if self.checkpoint_dir
                              else None)
        opt = stateful["opt"]
        forward = data_parallel(terms, [opt, *(o for o, _ in others)])

        def step(idx: np.ndarray) -> Mapping[str, Tensor]:
            with sharded(idx) as rows:
                with autocast(self.device_, self.precision):  # the forward pass only
                    t = forward(rows)
                return self._step(opt, dict(t), *others)

        with self._measured(name):
            self.history_ += run_epochs(step, n_samples=n, batch_size=batch_size,
                                        epochs=epochs, rng=rng, stateful=stateful, stage=name,
                                        checkpoint=ckpt, resume=resume, on_epoch_end=epoch_end,
                                        verbose=self.verbose if is_main() else 0,
                                        batches=batches)

    def _measured(self, phase: str) -> contextlib.AbstractContextManager[None]:
        """Wall time and peak memory of a phase of the fit, into ``costs_`` (``train.measured``):
        ``setup``, each stage, ``graph`` (a global neighbour graph and what is computed from it)
        and ``assign`` (the final embedding and its clustering)."""
        return measured(self.costs_, phase)

    def _stage_epochs(self, name: str, epochs: int | str, n: int, batch_size: int) -> int:
        """A stage's epochs: ``epochs`` itself, or for "auto" enough to make the stage's
        batches of the CPU schedule (``_auto_batches``), at most ``auto_max_epochs``."""
        if epochs == "auto":
            epochs = math.ceil(self._auto_batches(name) / math.ceil(n / batch_size))
            return min(epochs, self.auto_max_epochs.get(name, epochs))
        return epochs

    def _auto_batches(self, stage: str) -> int:
        """Batches of ``stage`` in the "auto" (CPU) schedule."""
        return self.auto_batches[stage]

    def _step(self, opt: torch.optim.Optimizer, terms: dict[str, Tensor],
              *others: tuple[torch.optim.Optimizer, str]) -> dict[str, Tensor]:
        """One optimiser step on ``terms["loss"]``; the terms, detached, for the history.

        Each ``(optimiser, term name)`` in ``others`` steps at the same time on its own term
        (a GAN's discriminator): every gradient, of each term with respect to its optimiser's
        parameters only, is taken before any parameter moves.
        """
        pairs = ((opt, "loss"), *others)
        for o, _ in pairs:
            o.zero_grad()
        for i, (o, name) in enumerate(pairs):
            inputs = [p for group in o.param_groups for p in group["params"]] if others else None
            terms[name].backward(inputs=inputs, retain_graph=i < len(pairs) - 1)
        for o, _ in pairs:
            o.step()
        return {k: v.detach().float() for k, v in terms.items()}

    @torch.no_grad()
    def _scores(self, X_t: Tensor, y: np.ndarray, embed: Callable[[Tensor], Tensor],
                assign: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, float]:
        """ACC/NMI/ARI of k-means (one init) on the current embedding, or of ``assign`` of it,
        for the history."""
        self._set_mode(train=False)
        embedding = embed(self._encode(X_t)).cpu().numpy()
        n = self.n_clusters_ or len(np.unique(y))  # "auto" before its estimate: the classes
        labels = (KMeans(n, n_init=1, random_state=0).fit_predict(embedding) if assign is None
                  else assign(embedding))
        return {f"monitor_{k}": v for k, v in evaluate(y, labels).items()}

    def _finish(self, X_t: Tensor, y: np.ndarray | None, rng: np.random.Generator, *,
                n_init: int, kmeans: bool = True) -> None:
        """Cluster the final embedding and end the fit (``_cluster``, ``_end_fit``)."""
        self._cluster(X_t, rng, n_init=n_init, kmeans=kmeans)
        self._end_fit(y)

    def _cluster(self, X_t: Tensor, rng: np.random.Generator, *, n_init: int,
                 kmeans: bool = True) -> None:
        """Cluster the embedding of ``_embed`` (k-means with ``n_init`` starts, when
        ``kmeans``) and set ``cluster_centers_`` and ``labels_``."""
        self._set_mode(train=False)
        with self._measured("assign"):
            embedding = self._embed(X_t)
            centres = np.zeros((0, embedding.shape[1]), np.float32)
            if kmeans:
                centres = self._fit_centres(embedding, int(rng.integers(2**31 - 1)), n_init)
            self.cluster_centers_ = centres.astype(np.float32)
            self.labels_ = self._assign(X_t, embedding)

    def _end_fit(self, y: np.ndarray | None) -> None:
        """After ``labels_`` is set: their scores into the history; the fit's device is
        forgotten (a loaded model runs where it is put)."""
        if y is not None and self.history_:
            self.history_[-1].update(evaluate(y, self.labels_))
        del self.device_

    def _fit_centres(self, embedding: np.ndarray, seed: int, n_init: int) -> np.ndarray:
        """The cluster centres (K, dim) of the final embedding: k-means (subclasses may
        cluster otherwise; ``labels_`` are then the nearest centres)."""
        return self._kmeans(embedding, seed, n_init).cluster_centers_

    def _kmeans(self, embedding: np.ndarray, seed: int, n_init: int) -> KMeans:
        """k-means with ``n_init`` starts, fitted on ``embedding``."""
        return KMeans(self.n_clusters_, n_init=n_init, random_state=seed).fit(embedding)

    # --- modules ----------------------------------------------------------------------------
    def _set_mode(self, *, train: bool) -> None:
        for name in self._fitted_attrs:
            module = getattr(self, name, None)
            if isinstance(module, nn.Module):
                module.train(train)

    def _check_params(self) -> None:
        """Raise ``DeepclustError`` for invalid hyperparameters (subclasses extend): here the
        input ``scaling``, the ``precision`` and the length of every stage,
        ``<stage>_epochs``."""
        self._check_choices({"scaling": SCALINGS, "precision": PRECISIONS})
        for stage in self.auto_batches:
            value = getattr(self, f"{stage}_epochs")
            if value != "auto" and (isinstance(value, str) or value < 0):
                raise DeepclustError(
                    f"{stage}_epochs must be 'auto' or an integer >= 0, got {value!r}.")

    def _left_auto(self, name: str) -> bool:
        """Whether parameter ``name`` is "auto" and ``auto_params`` resolves it."""
        value = getattr(self, name)
        return (isinstance(value, str) and value == "auto"
                and any(name in params for params in self.auto_params.values()))

    def _check_bound(self, low: float, *names: str, strict: bool = False) -> None:
        """Each numeric parameter in ``names`` must be at least ``low``, or above it when
        ``strict`` (or "auto" where ``auto_params`` resolves it); NaN is refused."""
        for name in names:
            value = getattr(self, name)
            if self._left_auto(name):
                continue
            if not isinstance(value, numbers.Real) or not (
                    value > low if strict else value >= low):
                raise DeepclustError(
                    f"{name} must be {'>' if strict else '>='} {low}, got {value!r}.")

    def _check_choices(self, choices: Mapping[str, tuple[str, ...]]) -> None:
        """Each parameter named in ``choices`` must be one of its allowed values."""
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise DeepclustError(
                    f"{name} must be one of {allowed}, got {getattr(self, name)!r}.")

    # --- inference --------------------------------------------------------------------------
    def encode(self, X: Any) -> np.ndarray:
        """The autoencoder's codes (mu) of ``X``: the representation the method's own
        clustering part (spectral network, grouper, centres) starts from."""
        return self._encode(self._to_tensor(self._check_new(X))).cpu().numpy()

    def _to_tensor(self, X: np.ndarray) -> Tensor:
        """``X`` scaled as fitted, one float32 copy (of a memory-mapped ``X`` of more than one
        block: a mapped scratch file, written in blocks)."""
        def scaled(rows: np.ndarray) -> np.ndarray:
            rows = np.subtract(rows, self.data_shift_, dtype=np.float32)  # scaled in place
            rows /= self.data_scale_
            if self.scaling_ == "unit":
                np.clip(rows, 0.0, 1.0, out=rows)
            return rows

        return torch.from_numpy(map_rows(scaled, X))

    def _decode(self, z: Tensor) -> Tensor:
        """The reconstruction g(z) in the scaled data space: the decoder's sigmoid output for
        ``"unit"`` scaling, its linear output (``logits``) for ``"standard"``; a user's decoder
        without ``logits`` is used as it is."""
        linear = getattr(self.decoder_, "logits", None)
        if self.scaling_ == "standard" and linear is not None:
            return linear(z)
        return self.decoder_(z)

    @torch.no_grad()
    def _encode(self, X_t: Tensor, batch: int = 1024) -> Tensor:
        """mu of every sample, in eval mode, on the modules' device."""
        self.encoder_.eval()
        device = next(self.encoder_.parameters()).device
        return torch.cat([self.encoder_(X_t[i:i + batch].to(device)).mu
                          for i in range(0, len(X_t), batch)])

    def _embed(self, X_t: Tensor) -> np.ndarray:
        """The embedding the clusters live in (subclasses)."""
        raise NotImplementedError

    def _assign(self, X_t: Tensor, embedding: np.ndarray) -> np.ndarray:
        """Nearest fitted centre: the ids of ``labels_``, no re-clustering (in chunks of
        scikit-learn's working memory)."""
        return pairwise_distances_argmin(embedding, self.cluster_centers_).astype(np.int64)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self._embed(self._to_tensor(X))

    def _predict(self, X: np.ndarray) -> np.ndarray:
        X_t = self._to_tensor(X)
        return self._assign(X_t, self._embed(X_t))
