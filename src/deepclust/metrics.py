"""Clustering scores: Hungarian accuracy, NMI and ARI."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

from .exceptions import DeepclustError


def _check_labelings(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise DeepclustError(
            f"y_true has {y_true.size} labels but y_pred has {y_pred.size}; "
            "score the predictions of the same samples."
        )
    if y_true.size == 0:
        raise DeepclustError("cannot score an empty labelling.")
    return y_true, y_pred


def cluster_accuracy(y_true: object, y_pred: object) -> float:
    """Unsupervised accuracy: the best one-to-one map of clusters to classes (Hungarian).

    Works when the number of clusters differs from the number of classes: clusters left
    without a class count as errors.
    """
    y_true, y_pred = _check_labelings(y_true, y_pred)
    counts = contingency_matrix(y_true, y_pred)  # classes x clusters
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / y_true.size)


def matched_confusion(y_true: object, y_pred: object
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The confusion matrix after Hungarian matching: counts of classes (rows) × clusters
    (columns), ordered so that each matched pair of class and cluster lies on the diagonal
    (classes or clusters left without a match come last). Returns the counts, the class ids
    in row order and the cluster ids in column order."""
    y_true, y_pred = _check_labelings(y_true, y_pred)
    counts = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    row_order = np.concatenate([rows, np.setdiff1d(np.arange(counts.shape[0]), rows)])
    col_order = np.concatenate([cols, np.setdiff1d(np.arange(counts.shape[1]), cols)])
    return (counts[np.ix_(row_order, col_order)], np.unique(y_true)[row_order],
            np.unique(y_pred)[col_order])


def evaluate(y_true: object, y_pred: object) -> dict[str, float]:
    """ACC (Hungarian), NMI (arithmetic normaliser) and ARI of a clustering."""
    y_true, y_pred = _check_labelings(y_true, y_pred)
    return {
        "acc": cluster_accuracy(y_true, y_pred),
        "nmi": float(normalized_mutual_info_score(y_true, y_pred, average_method="arithmetic")),
        "ari": float(adjusted_rand_score(y_true, y_pred)),
    }
