"""The peer every benchmark and quality test compares with: a DCN in plain Keras.

Same architecture as the hugectr DCN of `dcn_demo` (embedding -> reshape -> concat with dense ->
cross network + MLP -> logit), but the embedding is `keras.layers.Embedding` over
`key % vocabulary_size` with Keras' Adam: what a TensorFlow user writes without this plugin.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="hugectr_tf_examples")
class ModuloEmbeddingBag(keras.layers.Layer):
    """Sums `Embedding(key % vocabulary_size)` per slot: [B, slots, (nnz)] -> [B, slots, E]."""

    def __init__(self, vocabulary_size, embedding_dim, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim)

    def build(self, input_shape):
        self.embedding.build((None,))

    def call(self, keys):
        ids = tf.math.floormod(keys.flat_values, self.vocabulary_size)
        rows = self.embedding(ids)
        # Segment-sum the rows of each (sample, slot).
        per_slot = keys.values.row_lengths()
        segment = tf.repeat(tf.range(tf.shape(per_slot)[0]), per_slot)
        summed = tf.math.unsorted_segment_sum(rows, segment, tf.shape(per_slot)[0])
        return tf.reshape(summed, [-1, keys.shape[1], self.embedding_dim])

    def compute_output_shape(self, input_shape):
        # Declaring the shape keeps Keras from tracing `call` with a dense placeholder in place of
        # the ragged input while it builds the functional graph.
        return (input_shape[0], input_shape[1], self.embedding_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
        }


@keras.saving.register_keras_serializable(package="hugectr_tf_examples")
class CrossNetwork(keras.layers.Layer):
    """DCN v1 cross layers written with plain Keras ops (x_{l+1} = x0 (x_l . w_l) + b_l + x_l)."""

    def __init__(self, num_layers, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = num_layers

    def build(self, input_shape):
        n = input_shape[-1]
        self.ws = [self.add_weight(shape=(n, 1), name=f"w{i}") for i in range(self.num_layers)]
        self.bs = [
            self.add_weight(shape=(n,), initializer="zeros", name=f"b{i}")
            for i in range(self.num_layers)
        ]

    def call(self, x0):
        x = x0
        for w, b in zip(self.ws, self.bs):
            x = x0 * keras.ops.matmul(x, w) + b + x
        return x

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers}


def build_keras_dcn(
    dense_dim,
    slot_num,
    embedding_vec_size,
    vocabulary_size,
    sparse_name="data1",
    dense_name="dense",
    num_cross_layers=3,
    hidden_units=(256, 128),
    dropout_rate=0.0,
):
    """Functional Keras DCN over {dense_name: [B, dense], sparse_name: ragged [B, slots, (nnz)]}."""
    dense = keras.Input(shape=(dense_dim,), name=dense_name)
    sparse = keras.Input(shape=(slot_num, None), name=sparse_name, dtype="int64", ragged=True)
    emb = ModuloEmbeddingBag(vocabulary_size, embedding_vec_size)(sparse)
    flat = keras.layers.Reshape((slot_num * embedding_vec_size,))(emb)
    x0 = keras.layers.Concatenate()([flat, dense])
    cross = CrossNetwork(num_cross_layers)(x0)
    deep = x0
    for i, units in enumerate(hidden_units):
        deep = keras.layers.Dense(units, activation="relu", name=f"fc{i + 1}")(deep)
        if dropout_rate:
            deep = keras.layers.Dropout(dropout_rate, name=f"dropout{i + 1}")(deep)
    joined = keras.layers.Concatenate(name="concat_cross_deep")([cross, deep])
    logit = keras.layers.Dense(1, name="logit")(joined)
    return keras.Model({dense_name: dense, sparse_name: sparse}, logit)
