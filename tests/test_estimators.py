"""The estimator contract, checked on the classical baselines."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from deepclust.exceptions import DeepclustError, NotFittedError
from deepclust.methods import BaseClusterer, KMeans, SpectralClustering, make_method
from deepclust.metrics import cluster_accuracy

BASELINES = [KMeans, SpectralClustering]


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(300, n_features=5, centers=4, cluster_std=0.5, random_state=0)
    return X.astype(np.float32), y


@pytest.mark.parametrize("klass", BASELINES)
def test_clusters_well_separated_blobs(klass, blobs):
    X, y = blobs
    model = klass(4).fit(X)
    assert model.labels_.shape == (300,)
    assert cluster_accuracy(y, model.labels_) > 0.99
    assert np.array_equal(model.predict(X), model.labels_)


@pytest.mark.parametrize("klass", BASELINES)
def test_same_seed_same_labels(klass, blobs):
    X, _ = blobs
    X = X + np.random.default_rng(1).normal(0, 2, X.shape).astype(np.float32)  # ambiguous data
    a = klass(6, random_state=3).fit_predict(X)
    b = klass(6, random_state=3).fit_predict(X)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("klass", BASELINES)
def test_save_load_round_trip(klass, blobs, tmp_path):
    X, _ = blobs
    model = klass(4).fit(X)
    path = model.save(tmp_path / "model.pt")
    loaded = BaseClusterer.load(path)
    assert type(loaded) is klass
    assert loaded.get_params() == model.get_params()
    assert np.array_equal(loaded.labels_, model.labels_)
    assert np.array_equal(loaded.predict(X[:50]), model.predict(X[:50]))
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_load_checks_class_and_file(blobs, tmp_path):
    X, _ = blobs
    path = KMeans(4).fit(X).save(tmp_path / "m.pt")
    with pytest.raises(DeepclustError, match="holds a KMeans, not a SpectralClustering"):
        SpectralClustering.load(path)
    with pytest.raises(DeepclustError, match="does not exist"):
        KMeans.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(DeepclustError, match="not a readable deepclust model"):
        KMeans.load(tmp_path / "junk.pt")


def test_images_are_accepted_and_predict_checks_shape():
    rng = np.random.default_rng(0)
    X = rng.random((40, 1, 6, 6)).astype(np.float32)
    model = KMeans(3).fit(X)
    assert model.input_shape_ == (1, 6, 6)
    assert np.array_equal(model.predict(X.reshape(40, 6, 6)), model.labels_)  # (n, h, w) too
    assert np.array_equal(model.predict(X.reshape(40, -1)), model.labels_)  # flat vectors
    with pytest.raises(DeepclustError, match=r"shape \(3, 6, 6\) but the model was fitted on"):
        model.predict(rng.random((5, 3, 6, 6)))


@pytest.mark.parametrize(
    ("X", "kwargs", "message"),
    [
        (np.full((20, 3), np.nan), {}, "NaN or infinite"),
        (np.array([[1.0, np.inf]] * 20), {}, "NaN or infinite"),
        (np.zeros(20), {}, "1 dimension"),
        (np.zeros((2, 2, 2, 2, 2)), {}, "5 dimension"),
        (np.zeros((0, 3)), {}, "empty"),
        (np.array([["a", "b"]] * 20), {}, "dtype <U1"),
        (np.array([[1 + 2j, 0]] * 20), {}, "complex"),
        (np.zeros((20, 3)), {"n_clusters": 1}, "at least 2"),
        (np.zeros((20, 3)), {"n_clusters": 2.5}, "must be an integer"),
        (np.zeros((5, 3)), {"n_clusters": 6},
         r"n_clusters=6 needs at least [67] samples here, got 5"),
    ],
)
@pytest.mark.parametrize("klass", BASELINES)
def test_bad_input_is_a_clear_error(klass, X, kwargs, message):
    params = {"n_clusters": 2, **kwargs}
    with pytest.raises(DeepclustError, match=message):
        klass(**params).fit(X)


def test_unfitted_use_is_a_clear_error():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        KMeans(3).predict(np.zeros((4, 2)))
    with pytest.raises(NotFittedError):
        KMeans(3).save("/tmp/never.pt")


def test_make_method_suggests_close_names():
    with pytest.raises(DeepclustError, match="Did you mean 'kmeans'"):
        make_method("kmean")
    with pytest.raises(DeepclustError, match="Did you mean 'n_init'"):
        make_method("kmeans", n_inits=3)
    assert isinstance(make_method("spectral", n_clusters=3), SpectralClustering)
