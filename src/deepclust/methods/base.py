"""The estimator contract every deepclust method follows (scikit-learn conventions)."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.metaestimators import available_if
from torch import nn

from .. import __version__
from .._io import load_torch, save_torch
from .._validation import check_k_max, check_n_clusters, check_samples
from ..exceptions import DeepclustError, NotFittedError
from ..graph import estimate_n_clusters
from ..train import seed_from, seeded

_REGISTRY: dict[str, type[BaseClusterer]] = {}
COLLAPSE_FRACTION = 0.9  # ours: one cluster with more than 90% of the samples is a collapse


class CollapseWarning(UserWarning):
    """A fit ended with empty clusters or one cluster holding almost every sample."""
_FORMAT = "deepclust-model"


class BaseClusterer(ClusterMixin, BaseEstimator):
    """Base class: validation, seeding, ``predict``/``transform`` and ``save``/``load``.

    Subclasses implement ``_fit(X, y)`` (set ``labels_`` and their fitted state) and
    ``_predict(X)``; deep methods also ``_transform(X)`` and ``_build_modules()``.
    Fitted attributes end in ``_``: numpy arrays and numbers are saved as they are,
    ``torch.nn.Module`` attributes as state dicts (rebuilt by ``_build_modules`` on load).
    """

    _fitted_attrs: ClassVar[tuple[str, ...]] = ("labels_",)
    #: samples needed beyond n_clusters (eigensolvers need more samples than components)
    _extra_samples: ClassVar[int] = 0
    #: whether ``n_clusters="auto"`` is offered (K from the eigengap; needs ``k_max``)
    _estimates_clusters: ClassVar[bool] = False
    #: whether the method has an embedding for ``transform`` (SC-Ncut has none)
    _has_embedding: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    # --- public API -------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, resume: bool = False) -> BaseClusterer:
        """Cluster ``X``; ``y`` (optional) is only used to report metrics while training."""
        X = check_samples(X)
        if self._estimates_clusters and self.n_clusters == "auto":
            self.n_clusters_ = None  # estimated during the fit (_resolve_clusters)
            check_k_max(self.k_max, X.shape[0], self._extra_samples)
        else:
            self.n_clusters_ = check_n_clusters(self.n_clusters, X.shape[0], self._extra_samples)
        y = None if y is None else np.asarray(y).ravel()
        if y is not None and y.shape[0] != X.shape[0]:
            raise DeepclustError(f"y has {y.shape[0]} labels for {X.shape[0]} samples.")
        self.input_shape_ = tuple(int(s) for s in X.shape[1:])
        self.n_features_in_ = int(np.prod(self.input_shape_))
        with seeded(seed_from(getattr(self, "random_state", None))) as rng:
            self._fit(X, y, rng, resume=resume)
        self._report_collapse()
        return self

    def fit_predict(self, X: Any, y: Any = None, **kwargs: Any) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X, y, **kwargs).labels_

    def predict(self, X: Any) -> np.ndarray:
        """Assign new samples to the fitted clusters, with the ids of ``labels_``."""
        return self._predict(self._check_new(X))

    @available_if(lambda self: self._has_embedding)
    def transform(self, X: Any) -> np.ndarray:
        """The embedding the clusters are found in."""
        return self._transform(self._check_new(X))

    def save(self, path: str | Path) -> Path:
        """Write parameters and fitted state to one file that loads on a CPU-only machine."""
        self._check_fitted()
        params = self.get_params(deep=False)
        for name, value in params.items():
            if not isinstance(value, str | int | float | bool | tuple | list | type(None)):
                raise DeepclustError(
                    f"parameter {name}={value!r} cannot be saved; save() supports plain "
                    "values only: save the module's weights yourself with torch.save."
                )
        state: dict[str, Any] = {}
        for name in self._saved_attrs():
            value = getattr(self, name)
            if isinstance(value, nn.Module):
                value = {k: v.cpu() for k, v in value.state_dict().items()}
            elif isinstance(value, np.ndarray):
                value = torch.from_numpy(np.ascontiguousarray(value))
            state[name] = value
        payload = {"format": _FORMAT, "version": __version__, "class": type(self).__name__,
                   "params": params, "state": state}
        return save_torch(payload, path)

    @classmethod
    def load(cls, path: str | Path) -> BaseClusterer:
        """Load a model written by :meth:`save` (onto the CPU)."""
        path = Path(path)
        if not path.is_file():
            raise DeepclustError(f"model file {path} does not exist.")
        try:
            payload = load_torch(path)
        except Exception as exc:
            raise DeepclustError(f"{path} is not a readable deepclust model ({exc}).") from exc
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise DeepclustError(f"{path} is not a deepclust model file.")
        klass = _REGISTRY.get(payload["class"])
        if klass is None or not issubclass(klass, cls):
            raise DeepclustError(f"{path} holds a {payload['class']}, not a {cls.__name__}.")
        est = klass(**payload["params"])
        state = payload["state"]
        modules = {}
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                value = value.numpy()
            if isinstance(value, dict):
                modules[name] = value
            else:
                setattr(est, name, value)
        for name, module in est._build_modules().items():
            module.load_state_dict(modules[name])
            module.eval()
            setattr(est, name, module)
        return est

    # --- hooks for subclasses ---------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray | None, rng: np.random.Generator, *,
             resume: bool) -> None:
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _build_modules(self) -> dict[str, nn.Module]:
        """Fresh (untrained) torch modules of a fitted model, by attribute name."""
        return {}

    def _resolve_clusters(self, Z: Callable[[], Any], rng: np.random.Generator) -> bool:
        """With ``n_clusters="auto"``: K from the eigengap of the neighbour graph of ``Z()``
        (``graph.estimate_n_clusters``, at most ``k_max``) into ``n_clusters_``, the
        eigenvalues into ``eigenvalues_``; returns whether K was estimated. Otherwise
        ``eigenvalues_`` is None."""
        self.eigenvalues_ = None
        if self.n_clusters_ is not None:
            return False
        seed = int(rng.integers(2**31 - 1))
        self.n_clusters_, self.eigenvalues_ = estimate_n_clusters(Z(), self.k_max, seed)
        return True

    def _report_collapse(self) -> None:
        """Warn, and note in ``history_``, when clusters are empty or one holds almost all."""
        sizes = np.bincount(self.labels_, minlength=self.n_clusters_)
        largest = sizes.max() / sizes.sum()
        empty = int((sizes == 0).sum())
        self.collapse_ = {"empty_clusters": empty, "largest_fraction": float(largest)}
        if empty or largest > COLLAPSE_FRACTION:
            message = (f"{type(self).__name__} found a collapsed clustering: {empty} of "
                       f"{self.n_clusters_} clusters are empty and the largest holds "
                       f"{largest:.0%} of the samples. Check n_clusters, the input scale or "
                       "the training schedule.")
            warnings.warn(message, CollapseWarning, stacklevel=3)
            if getattr(self, "history_", None):
                self.history_[-1]["collapse"] = message

    # --- helpers ----------------------------------------------------------------------
    def _saved_attrs(self) -> list[str]:
        common = ["n_clusters_", "input_shape_", "n_features_in_"]
        return common + [a for a in self._fitted_attrs if a not in common]

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(X) first."
            )

    def _check_new(self, X: Any) -> np.ndarray:
        self._check_fitted()
        X = check_samples(X)
        if X.ndim == 2 and len(self.input_shape_) == 3 and X.shape[1] == self.n_features_in_:
            X = X.reshape(-1, *self.input_shape_)
        if X.ndim == 2 and len(self.input_shape_) == 1 and X.shape[1] != self.n_features_in_:
            raise DeepclustError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input; pass data shaped like the training data."
            )
        if tuple(X.shape[1:]) != self.input_shape_:
            raise DeepclustError(
                f"X has samples of shape {tuple(X.shape[1:])} but the model was fitted on "
                f"{self.input_shape_} (n_features_in_={self.n_features_in_}); pass data "
                "shaped like the training data."
            )
        return X

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.non_deterministic = getattr(self, "random_state", 0) is None
        return tags


def with_defaults(init: Callable[..., None], **defaults: Any) -> Callable[..., None]:
    """``init`` with other defaults for some keyword parameters, and the signature to say so
    (scikit-learn reads parameters and their defaults from it): a variant of an estimator
    (IDEC is DEC with ``w_rec=0.1``) without a copy of its ``__init__``."""
    signature = inspect.signature(init)
    signature = signature.replace(parameters=[
        p.replace(default=defaults.pop(p.name)) if p.name in defaults else p
        for p in signature.parameters.values()])
    if defaults:
        raise TypeError(f"{init.__qualname__} has no parameters {sorted(defaults)}.")

    @functools.wraps(init)
    def variant_init(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        init(*bound.args, **bound.kwargs)

    variant_init.__signature__ = signature  # type: ignore[attr-defined]
    return variant_init


class EmbeddingMixin(TransformerMixin):
    """For estimators whose ``transform`` gives an embedding (computed in float32)."""

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
