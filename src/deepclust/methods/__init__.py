"""The estimators, and lookup of a method by its CLI name."""

from __future__ import annotations

from typing import Any

from .._validation import suggest
from ..exceptions import DeepclustError
from .base import BaseClusterer
from .classical import KMeans, SpectralClustering
from .dcfae import DCFAE
from .dec import DEC, IDEC
from .dscdan import DSCDAN
from .n2d import N2D
from .spectralnet import SpectralNet

METHODS: dict[str, type[BaseClusterer]] = {
    "dscdan": DSCDAN,
    "dcfae": DCFAE,
    "kmeans": KMeans,
    "spectral": SpectralClustering,
    "dec": DEC,
    "idec": IDEC,
    "spectralnet": SpectralNet,
    "n2d": N2D,
}


def get_method(name: str) -> type[BaseClusterer]:
    """The estimator class registered under ``name``."""
    if name not in METHODS:
        raise DeepclustError(
            f"unknown method {name!r}; choose one of {', '.join(METHODS)}.{suggest(name, METHODS)}"
        )
    return METHODS[name]


def make_method(name: str, **params: Any) -> BaseClusterer:
    """The estimator registered under ``name``, built with ``params`` (checked by name)."""
    klass = get_method(name)
    valid = klass().get_params(deep=False)
    for key in params:
        if key not in valid:
            raise DeepclustError(
                f"{klass.__name__} has no parameter {key!r}; its parameters are "
                f"{', '.join(sorted(valid))}.{suggest(key, valid)}"
            )
    return klass(**params)


__all__ = [
    "DCFAE", "DEC", "DSCDAN", "IDEC", "METHODS", "N2D", "BaseClusterer", "KMeans",
    "SpectralClustering", "SpectralNet", "get_method", "make_method",
]
