"""Exact AUC against sklearn's roc_auc_score, ties included; HitRate by hand."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hugectr_tf.api.metrics import exact_auc, hit_rate


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 5000
    labels = rng.integers(0, 2, n).astype(np.float32)
    scores = np.round(rng.random(n) * 0.5 + labels * 0.2, 2).astype(np.float32)  # many ties
    assert abs(exact_auc(labels, scores) - roc_auc_score(labels, scores)) < 1e-6


def test_auc_hand_values():
    assert exact_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert exact_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


def test_auc_single_class_is_an_error():
    with pytest.raises(ValueError, match="single class"):
        exact_auc([1, 1, 1], [0.1, 0.2, 0.3])


def test_hit_rate_counts_positives_above_threshold():
    assert hit_rate([1, 1, 0, 1], [0.9, 0.2, 0.99, 0.5]) == pytest.approx(2 / 3)
