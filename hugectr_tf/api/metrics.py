"""Evaluation metrics of HugeCTR: exact AUC, AverageLoss, HitRate."""

import numpy as np


def exact_auc(labels, scores):
    """Area under the ROC curve, exact (ties count one half), as sklearn's roc_auc_score.

    Uses the rank-sum (Mann-Whitney U) form with average ranks for tied scores. Raises ValueError
    when only one class is present, since the AUC is then undefined.
    """
    labels = np.asarray(labels).reshape(-1) > 0.5
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"labels and scores differ in size: {labels.size} vs {scores.size}")
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC is undefined when the evaluation labels hold a single class")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # Average rank (1-based) over each run of equal scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [scores.size]))
    run_rank = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(run_rank, ends - starts)
    rank_sum = ranks[labels].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


HIT_RATE_THRESHOLD = 0.8  # HugeCTR 3.1's metrics.cu: a prediction above 0.8 is "checked"


def hit_rate(labels, scores):
    """HugeCTR 3.1's HitRate: the share of labels equal to 1 among predictions above 0.8.

    HugeCTR counts `checked` = predictions > 0.8 and `hit` = checked and label == 1, and reports
    hits / checked (the precision of the confident predictions, not a recall). With no prediction
    above 0.8 the ratio is 0 / 0, which is NaN here as in HugeCTR's float division.
    """
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"labels and scores differ in size: {labels.size} vs {scores.size}")
    checked = scores > HIT_RATE_THRESHOLD
    num_checked = int(checked.sum())
    if num_checked == 0:
        return float("nan")
    return float(np.sum(checked & (labels == 1.0)) / num_checked)
