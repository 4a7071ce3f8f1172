"""Shared by the parameter-server tests: specs, random row blocks and a dict reference."""

import numpy as np

import hugectr_tf as hugectr
from hugectr_tf.ps import RowBlock, TableSpec


def make_spec(optimizer="Adam", update="Local", vec=4, kind="DistributedSlotSparseEmbeddingHash"):
    opt = hugectr.CreateOptimizer(optimizer_type=optimizer, update_type=update,
                                  initial_accu_value=0.25)  # fmt: skip
    return TableSpec(vec, opt, hugectr.Embedding_t.parse(kind, "embedding_type"))


def random_block(spec, keys, rng, step):
    """Rows for `keys` (sorted, distinct) with last steps in [0, step]."""
    keys = np.unique(np.asarray(keys, np.int64))
    n, vec, k = len(keys), spec.embedding_vec_size, spec.optimizer_slots
    return RowBlock(
        keys,
        rng.normal(size=(n, vec)).astype(np.float32),
        rng.integers(0, 5, n).astype(np.int64),
        rng.normal(size=(n, k, vec)).astype(np.float32),
        rng.integers(0, step + 1, n).astype(np.int64),
    )


class Reference:
    """What a PS must hold: key -> row tuple, plus step and learning-rate history."""

    def __init__(self):
        self.rows = {}
        self.step = 0
        self.lr_history = np.zeros(0, np.float32)

    def push(self, block, step, lr_history):
        for i, key in enumerate(block.keys.tolist()):
            self.rows[key] = (
                block.rows[i], block.slot_ids[i], block.optimizer_slots[i], block.last_step[i]
            )  # fmt: skip
        self.step, self.lr_history = step, np.asarray(lr_history, np.float32)


def assert_holds(ps, ref):
    """The PS holds exactly the reference's rows (read through `blocks`, no catch-up needed)."""
    block = RowBlock.concat(list(ps.blocks()), ps.spec).sorted()
    keys = sorted(ref.rows)
    np.testing.assert_array_equal(block.keys, keys)
    if keys:
        rows, slots, opts, lasts = (np.stack(v) for v in zip(*(ref.rows[k] for k in keys)))
        np.testing.assert_array_equal(block.rows, rows)
        np.testing.assert_array_equal(block.slot_ids, slots)
        np.testing.assert_array_equal(block.optimizer_slots, opts)
        np.testing.assert_array_equal(block.last_step, lasts)
    assert ps.size == len(keys) and ps.step == ref.step
    np.testing.assert_array_equal(ps.lr_history, ref.lr_history)


def lr_history(step):
    return (0.001 * (1 + np.arange(step))).astype(np.float32)
