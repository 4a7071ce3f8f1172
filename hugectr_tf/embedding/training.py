"""The training lookup: a forward that inserts unseen keys, and a backward that updates the table.

TensorFlow has no gradient for a hash-table row. `train_lookup` returns the combined embeddings
as a function of a scalar `trigger` variable through `tf.custom_gradient`: when the gradient of
the embeddings arrives, it is aggregated per unique key and handed to the table's sparse optimizer
(one update per step, docs/EMBEDDING_SEMANTICS.md); the trigger's "gradient" is the update op's
output, so any train step that differentiates the loss runs the update and cannot prune it.

What the update reads is decided when it runs, inside the train step: the learning rate and the
loss scale may be callables (a Keras optimizer's current rate, its current loss scale), so the
table follows schedules and callbacks without retracing. Optional pieces: `initial_rows` gives
new keys their first rows before the lookup inserts them (a Keras initializer), and
`regularized_rows=True` also returns the batch's unique rows, whose gradient (a regularization
loss on them) joins the keys' gradients.
"""

import tensorflow as tf

from hugectr_tf.ops import embedding_init_ops, embedding_ops

# The lookup ops have no TensorFlow gradient: gradients go through `train_lookup` instead.
for _op in ("HugeCTR>EmbeddingLookupTrain", "HugeCTR>EmbeddingLookupInference"):
    try:
        tf.no_gradient(_op)
    except KeyError:  # already registered (module reloaded)
        pass


def _read(value):
    """A scalar float32 tensor from a number, a tensor/variable or a callable returning one."""
    return tf.cast(tf.convert_to_tensor(value() if callable(value) else value), tf.float32)


def _unscaled(key_grads, gradient_scale):
    """`key_grads / gradient_scale`, without the pass over the gradients when the scale is the
    number 1 (no loss scaling, the usual case): dividing by 1 changes no float."""
    scale = gradient_scale() if callable(gradient_scale) else gradient_scale
    if isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale == 1:
        return key_grads
    return key_grads / _read(scale)


def insert_initialized_rows(handle, values, splits, slot_num, initial_rows):
    """Inserts the batch's new keys with `initial_rows(keys)` as their rows; returns the count."""
    keys, slot_ids = embedding_init_ops.new_keys(handle, values, splits, slot_num)
    return embedding_init_ops.insert_rows(handle, keys, initial_rows(keys), slot_ids)


def train_lookup(
    handle,
    values,
    splits,
    *,
    slot_num,
    embedding_vec_size,
    combiner,
    learning_rate,
    trigger,
    gradient_scale=1.0,
    skip_nonfinite=False,
    initial_rows=None,
    regularized_rows=False,
):
    """Combined embeddings `[batch, slot_num, vec]` whose gradient trains the table.

    Args:
        handle: The table's resource handle.
        values, splits: CSR keys (`keys_to_csr`).
        slot_num, embedding_vec_size, combiner: The layer's configuration.
        learning_rate: Number, scalar tensor/variable, or a callable returning one; read when
            the update runs.
        trigger: Scalar trainable variable that stays 0 (see module docstring).
        gradient_scale: The same forms as `learning_rate`. Incoming gradients are divided by it
            first (loss scaling).
        skip_nonfinite: Boolean. Skip the update when a gradient is not finite (a dynamic loss
            scale that overflowed: the Keras optimizer skips its step too).
        initial_rows: None (the table's own initialisation) or a callable mapping the int64 keys
            about to be inserted to their float32 rows `[n, vec]`.
        regularized_rows: Boolean. Also return the batch's unique rows `[u, vec]`, to regularize.

    Returns:
        The embeddings, or (embeddings, unique rows) with `regularized_rows`.
    """
    deps = []
    if initial_rows is not None:
        deps.append(insert_initialized_rows(handle, values, splits, slot_num, initial_rows))
    with tf.control_dependencies(deps):
        emb, unique_keys, inverse = embedding_ops.lookup_train(
            handle, values, splits, slot_num, embedding_vec_size, combiner
        )
    outputs = [emb]
    if regularized_rows:
        outputs.append(embedding_init_ops.gather_rows(handle, unique_keys, embedding_vec_size))

    def update(d_emb, d_rows):
        d_emb = tf.cast(tf.convert_to_tensor(d_emb), tf.float32)
        key_grads = embedding_ops.backward(d_emb, splits, inverse, unique_keys, combiner)
        if d_rows is not None:
            key_grads += tf.cast(tf.convert_to_tensor(d_rows), tf.float32)
        key_grads = _unscaled(key_grads, gradient_scale)

        def apply():
            return embedding_ops.apply_gradients(
                handle, unique_keys, key_grads, _read(learning_rate)
            )

        if not skip_nonfinite:
            return apply()
        finite = tf.reduce_all(tf.math.is_finite(key_grads))
        return tf.cond(finite, apply, lambda: tf.constant(0.0))

    @tf.custom_gradient
    def attach(trigger_value):
        def grad(*upstream):
            d_rows = upstream[1] if len(upstream) > 1 else None
            return tf.cast(update(upstream[0], d_rows), trigger_value.dtype)

        identities = [tf.identity(t) for t in outputs]
        return (identities if regularized_rows else identities[0]), grad

    return attach(tf.convert_to_tensor(trigger))
