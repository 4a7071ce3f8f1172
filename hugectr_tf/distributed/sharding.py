"""Which shard owns a row: the project-wide split rule, and the table state cut and joined by it.

ARCHITECTURE.md fixes the rule for every table of the project (the CUDA core splits the same
way, so a table trained on either is laid out alike):
    DistributedSlotSparseEmbeddingHash    owner = key  mod N   (non-negative modulo)
    LocalizedSlotSparseEmbedding{Hash,OneHot}  owner = slot mod N
A key of a Localized table belongs to the slot it is looked up in (its `slot_id` in saved state).
"""

import tensorflow as tf

from hugectr_tf.embedding.table import LOCALIZED_TYPES, STATE_NAMES

# Per-key entries of a table state (first dimension = number of keys); the others are scalars
# or per-step (`step`, `lr_history`) and equal in every shard.
PER_KEY = ("keys", "rows", "slot_ids", "optimizer_slots", "last_step")


def splits_by_slot(embedding_type):
    """True when `embedding_type` (an `Embedding_t`) is split by slot, False when by key."""
    return embedding_type in LOCALIZED_TYPES


def owners(keys, slots, num_shards, by_slot):
    """int64 shard index of each key: `slot mod N` (by_slot) or `key mod N` (floormod, >= 0)."""
    return tf.math.floormod(slots if by_slot else keys, tf.cast(num_shards, tf.int64))


def owned_csr(values, splits, *, shard, num_shards, slot_num, by_slot):
    """The keys of a CSR batch that `shard` owns, as a CSR with the same rows.

    Rows (sample, slot) are kept so that the slot of every row, and the shape of the combined
    output, stay those of the whole batch; a row whose keys all live elsewhere becomes empty.
    """
    num_rows = tf.shape(splits, out_type=tf.int64)[0] - 1
    row_of_key = tf.ragged.row_splits_to_segment_ids(splits, out_type=tf.int64)
    slot_of_key = tf.math.floormod(row_of_key, slot_num)
    mine = tf.equal(owners(values, slot_of_key, num_shards, by_slot), shard)
    kept_per_row = tf.math.unsorted_segment_sum(tf.cast(mine, tf.int64), row_of_key, num_rows)
    new_splits = tf.concat([tf.zeros([1], tf.int64), tf.cumsum(kept_per_row)], axis=0)
    return tf.boolean_mask(values, mine), new_splits


def check_state(state, embedding_vec_size, owner):
    """Raises ValueError unless the per-key entries of a whole-table state add up.

    Every per-key entry must hold one entry per key (`slot_ids` may also be empty: a table
    imported without slot ids), rows must be `[n, embedding_vec_size]` and the learning-rate
    history must hold one rate per step. Checked where the sizes are known (eager restores).
    """
    n = tf.convert_to_tensor(state["keys"]).shape[0]
    if n is None:
        return
    sizes = {name: tf.convert_to_tensor(state[name]).shape for name in PER_KEY}
    bad = [
        f"{name} {list(shape)}"
        for name, shape in sizes.items()
        if shape.rank
        and shape[0] is not None
        and shape[0] != n
        and not (name == "slot_ids" and shape[0] == 0)
    ]
    rows = sizes["rows"]
    if rows.rank != 2 or rows[1] not in (None, embedding_vec_size):
        bad.append(f"rows {list(rows)} (want [{n}, {embedding_vec_size}])")
    history = tf.convert_to_tensor(state["lr_history"]).shape[0]
    step = tf.get_static_value(state["step"])
    if step is not None and history is not None and int(step) != history:
        bad.append(f"lr_history of {history} rates for step={int(step)}")
    if bad:
        raise ValueError(
            f"{owner}: the saved table does not add up: {n} keys but " + ", ".join(bad)
        )


def shard_masks(keys, slot_ids, num_shards, by_slot):
    """[bool mask of the keys shard i owns for i in range(N)] (slot_ids: one per key, or None
    for a table split by key)."""
    keys = tf.convert_to_tensor(keys, tf.int64)
    if by_slot:
        slot_ids = tf.convert_to_tensor(slot_ids, tf.int64)
        if slot_ids.shape[0] != keys.shape[0]:
            raise ValueError(
                "A Localized table is split by slot: every key needs its slot id. "
                f"Received: {keys.shape[0]} keys, {slot_ids.shape[0]} slot ids"
            )
    owner = owners(keys, slot_ids if by_slot else keys, num_shards, by_slot)
    return [tf.equal(owner, shard) for shard in range(num_shards)]


def split_state(state, num_shards, by_slot):
    """[state of shard 0, ..., shard N-1] of a whole-table state (dict of `STATE_NAMES`)."""
    keys = tf.convert_to_tensor(state["keys"], tf.int64)
    slot_ids = tf.convert_to_tensor(state["slot_ids"], tf.int64)
    per_key_slots = slot_ids.shape[0] == keys.shape[0]
    shards = []
    for mine in shard_masks(keys, slot_ids, num_shards, by_slot):
        part = {name: tf.boolean_mask(state[name], mine) for name in PER_KEY if name != "slot_ids"}
        # A state without slot ids (imported rows of a table split by key) stays without.
        part["slot_ids"] = tf.boolean_mask(slot_ids, mine) if per_key_slots else slot_ids
        part["step"] = state["step"]
        part["lr_history"] = state["lr_history"]
        shards.append(part)
    return shards


def merge_states(states):
    """The whole-table state of the shards' states: rows by ascending key, as one table exports.

    The shards take one optimizer step each per global step, so they agree on the step counter
    and the learning-rate history; shards that do not raise ValueError (InvalidArgumentError
    when traced into a graph, e.g. by tf.saved_model.save).
    """
    histories = [tf.convert_to_tensor(s["lr_history"]) for s in states]
    if tf.executing_eagerly():
        steps = [int(s["step"]) for s in states]
        if len(set(steps)) != 1:
            raise ValueError(
                f"The shards of a table have taken different numbers of optimizer steps: {steps}; "
                "each takes one per global step, so these shards do not belong together"
            )
        for i, history in enumerate(histories[1:], start=1):
            if not bool(tf.reduce_all(tf.equal(history, histories[0]))):
                raise ValueError(
                    f"Shard {i} of a table has a different learning-rate history from shard 0"
                )
        checks = []
    else:
        checks = [
            tf.debugging.assert_equal(
                s["step"], states[0]["step"], message="shards disagree on the optimizer step"
            )
            for s in states[1:]
        ]
    with tf.control_dependencies(checks):
        merged = {name: tf.concat([s[name] for s in states], axis=0) for name in PER_KEY}
        order = tf.argsort(merged["keys"], stable=True)  # a key on two shards: shard order
    merged = {name: tf.gather(value, order) for name, value in merged.items()}
    merged["step"] = states[0]["step"]
    merged["lr_history"] = histories[0]
    return {name: merged[name] for name in STATE_NAMES}
