import numpy as np
import pytest

from deepclust.exceptions import DeepclustError
from deepclust.metrics import cluster_accuracy, evaluate, matched_confusion


def test_permuted_perfect_labelling_scores_one():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=500)
    perm = rng.permutation(10)
    scores = evaluate(y, perm[y])
    assert scores == pytest.approx({"acc": 1.0, "nmi": 1.0, "ari": 1.0})


def test_accuracy_on_hand_made_case():
    y_true = [0, 0, 0, 1, 1, 1]
    y_pred = [1, 1, 0, 0, 0, 0]  # best map: 1->0 (2 right), 0->1 (3 right)
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(5 / 6)


def test_more_clusters_than_classes():
    y_true = [0, 0, 0, 0, 1, 1, 1, 1]
    y_pred = [0, 0, 1, 1, 2, 2, 3, 3]  # only two clusters can be matched
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(0.5)


def test_fewer_clusters_than_classes():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 0, 1, 1]
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 6)


def test_matched_confusion_puts_a_known_permutation_on_the_diagonal():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 6, size=300)
    perm = rng.permutation(6)
    counts, classes, clusters = matched_confusion(y, perm[y])
    assert (counts == np.diag(np.bincount(y))).all()
    assert list(classes) == list(range(6)) and list(clusters) == list(perm)
    # two classes, three clusters: the unmatched cluster is the last column
    counts, classes, clusters = matched_confusion([0, 0, 0, 1, 1, 1], [5, 5, 9, 7, 7, 7])
    assert counts.tolist() == [[2, 0, 1], [0, 3, 0]] and list(clusters) == [5, 7, 9]
    # three classes, two clusters: the unmatched class is the last row
    counts, classes, _ = matched_confusion([0, 0, 1, 1, 2, 2], [1, 1, 1, 1, 0, 0])
    assert trace_fraction(counts) == pytest.approx(cluster_accuracy([0, 0, 1, 1, 2, 2],
                                                                    [1, 1, 1, 1, 0, 0]))
    assert classes[-1] in (0, 1) and counts.shape == (3, 2)


def trace_fraction(counts):
    k = min(counts.shape)
    return counts[range(k), range(k)].sum() / counts.sum()


def test_nmi_uses_arithmetic_normaliser():
    from sklearn.metrics import normalized_mutual_info_score

    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1, 1]
    expected = normalized_mutual_info_score(y_true, y_pred, average_method="arithmetic")
    geometric = normalized_mutual_info_score(y_true, y_pred, average_method="geometric")
    assert expected != pytest.approx(geometric)
    assert evaluate(y_true, y_pred)["nmi"] == pytest.approx(expected)


def test_length_mismatch_is_a_clear_error():
    with pytest.raises(DeepclustError, match="3 labels but y_pred has 2"):
        evaluate([0, 1, 1], [0, 1])
