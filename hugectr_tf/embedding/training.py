"""The training lookup: a forward that inserts unseen keys, and a backward that updates the table.

TensorFlow has no gradient for a hash-table row. `train_lookup` returns the combined embeddings
as a function of a scalar `trigger` variable through `tf.custom_gradient`: when the gradient of
the embeddings arrives, it is aggregated per unique key and handed to the table's sparse optimizer
(one update per step, docs/EMBEDDING_SEMANTICS.md); the trigger's "gradient" is the update op's
output, so any train step that differentiates the loss runs the update and cannot prune it.
"""

import tensorflow as tf

from hugectr_tf.ops import embedding_ops

# The lookup ops have no TensorFlow gradient: gradients go through `train_lookup` instead.
for _op in ("HugeCTR>EmbeddingLookupTrain", "HugeCTR>EmbeddingLookupInference"):
    try:
        tf.no_gradient(_op)
    except KeyError:  # already registered (module reloaded)
        pass


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
):
    """Combined embeddings `[batch, slot_num, vec]` whose gradient trains the table.

    Args:
        handle: The table's resource handle.
        values, splits: CSR keys (`keys_to_csr`).
        slot_num, embedding_vec_size, combiner: The layer's configuration.
        learning_rate: Scalar float32 tensor or variable read when the update runs.
        trigger: Scalar trainable variable that stays 0 (see module docstring).
        gradient_scale: Float. Incoming gradients are divided by it first (loss scaling).
    """
    emb, unique_keys, inverse = embedding_ops.lookup_train(
        handle, values, splits, slot_num, embedding_vec_size, combiner
    )
    scale = float(gradient_scale)

    @tf.custom_gradient
    def attach(trigger_value):
        def grad(d_emb):
            d_emb = tf.cast(tf.convert_to_tensor(d_emb), tf.float32)
            if scale != 1.0:
                d_emb = d_emb / scale
            key_grads = embedding_ops.backward(d_emb, splits, inverse, unique_keys, combiner)
            zero = embedding_ops.apply_gradients(
                handle, unique_keys, key_grads, tf.convert_to_tensor(learning_rate)
            )
            return tf.cast(zero, trigger_value.dtype)

        return tf.identity(emb), grad

    return attach(tf.convert_to_tensor(trigger))
