"""The layout of the campaign's seed data (shared by the worker that writes it and the runner
that judges it, without importing TensorFlow on the runner's side)."""

# Norm: label_dim 1, dense_dim 2; sparse input `a` (2 slots, up to 2 keys each, variable length)
# and `b` (1 slot, fixed length, 1 key).
NORM = {
    "label_dim": 1,
    "dense_dim": 2,
    "nnz_limits": [2, 2, 1],
    "fixed": [False, True],
    "slots_per_input": [2, 1],
}
RAW_SLOTS = [7, 5, 9]  # Raw and Parquet: one key per slot, below these sizes
RECORDS = 6
KINDS = ("norm_non", "norm_sum", "raw", "parquet")
