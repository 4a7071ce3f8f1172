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


def test_hit_rate_is_hugectrs_precision_above_0_8():
    # Hand count as HugeCTR 3.1's metrics.cu: checked = prediction > 0.8 (0.8 itself is not),
    # hit = checked and label == 1; HitRate = hits / checked.
    labels = [1, 0, 1, 1, 0, 1, 0]
    preds = [0.95, 0.81, 0.80, 0.2, 0.99, 0.9, 0.5]
    # checked: 0.95 (hit), 0.81 (miss), 0.99 (miss), 0.9 (hit) -> 2 hits / 4 checked
    assert hit_rate(labels, preds) == pytest.approx(0.5)
    # recall at 0.5 (what this metric was before) would be 2/4 positives -> also 0.5; this case
    # tells them apart: all confident predictions right, half the positives missed.
    assert hit_rate([1, 1, 0, 0], [0.9, 0.3, 0.1, 0.2]) == pytest.approx(1.0)


def test_hit_rate_without_confident_predictions_is_nan_as_hugectrs_0_over_0():
    assert np.isnan(hit_rate([1, 0, 1], [0.8, 0.5, 0.1]))


def test_hit_rate_size_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in size"):
        hit_rate([1, 0], [0.9])
