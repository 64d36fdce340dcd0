import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

# The tests train tiny networks: one thread is as fast, and immune to a busy second core.
torch.set_num_threads(1)


def shape_images(per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of 16x16 images: bright top, bright left, bright centre (+ noise)."""
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 16, 16), np.float32)
    masks[0, :6], masks[1, :, :6], masks[2, 5:11, 5:11] = 1, 1, 1
    y = np.repeat(np.arange(3), per_class)
    X = np.clip(masks[y] * 0.8 + rng.normal(0, 0.1, (3 * per_class, 16, 16)), 0, 1)
    return X[:, None].astype(np.float32), y


@pytest.fixture(scope="module")
def blobs():
    """240 samples of 3 well-separated blobs in 20-D, scaled to [0, 1]."""
    X, y = make_blobs(240, n_features=20, centers=3, cluster_std=1.0, random_state=0)
    X = (X - X.min()) / (X.max() - X.min())
    return X.astype(np.float32), y
