"""GRU: HugeCTR's cuDNN GRU (one layer, unidirectional, input biases only)."""

import math

import keras

from hugectr_tf.config import Initializer_t
from hugectr_tf.keras import initializers
from hugectr_tf.keras.layers._base import check_rank, layer_error, positive_int, serializable


@serializable
class GRU(keras.layers.Layer):
    """One-layer GRU with cuDNN's equations, run over `SeqLength` steps from a zero state.

    With reset gate r, update gate z and new gate n (cuDNN `CUDNN_RNN_SINGLE_INP_BIAS`):
    `r = sigmoid(W_r x + R_r h + b_r)`, `z = sigmoid(W_z x + R_z h + b_z)`,
    `n = tanh(W_n x + b_n + r * (R_n h))`, `h' = (1 - z) * n + z * h`.

    HugeCTR layout (2-D input): the input `[batchsize * SeqLength, vector_size]` is read in
    cuDNN's sequence-major order, row `t * batchsize + b` being step t of sequence b; the
    output `[batchsize * SeqLength, num_output]` holds every step's hidden state in the same
    order. A 3-D input `[B, S, E]` (batch-major, the Keras habit) gives `[B, S, num_output]`.

    Weights, in HugeCTR's order: `weights [1, 3*H*E + 3*H*H + 3*H]`, the cuDNN weight space
    (`W_r, W_z, W_n` each `[H, E]` row-major, `R_r, R_z, R_n` each `[H, H]`, then
    `b_r, b_z, b_n` each `[H]`); then the non-trainable zero initial state `hx [1, batchsize*H]`
    that HugeCTR keeps in its weight buffer. `Initializer_t.Default` for the weight space is
    U(-1/sqrt(H), 1/sqrt(H)) (see docs/layers.md for why).

    Args:
        num_output: Integer. Hidden size H.
        batchsize: Integer. Number of sequences B in the 2-D layout.
        SeqLength: Integer. Steps per sequence S.
        vector_size: Integer. Input vector size E.
        weight_init_type: `Initializer_t`, its name, or a Keras initializer for the weights.
        bias_init_type: Accepted for HugeCTR compatibility; the biases share the weight space
            and its initializer.

    Input shape:
        `(batchsize * SeqLength, vector_size)` or `(B, S, vector_size)`.

    Output shape:
        `(batchsize * SeqLength, num_output)` or `(B, S, num_output)`.

    Example:
    >>> gru = GRU(num_output=4, batchsize=2, SeqLength=3, vector_size=5)
    >>> tuple(gru(keras.ops.ones((6, 5))).shape)
    (6, 4)
    """

    def __init__(
        self,
        num_output=1,
        batchsize=1,
        SeqLength=1,  # noqa: N803 (HugeCTR's argument name)
        vector_size=1,
        weight_init_type=Initializer_t.Default,
        bias_init_type=Initializer_t.Default,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_output = positive_int(num_output, "num_output")
        self.batchsize = positive_int(batchsize, "batchsize")
        self.SeqLength = positive_int(SeqLength, "SeqLength")
        self.vector_size = positive_int(vector_size, "vector_size")
        self.weight_init_type = initializers.parse(weight_init_type, "weight_init_type")
        self.bias_init_type = initializers.parse(bias_init_type, "bias_init_type")

    def _sizes(self):
        h, e = self.num_output, self.vector_size
        return 3 * h * e, 3 * h * h, 3 * h

    def build(self, input_shape):
        shape = tuple(input_shape)
        check_rank(self, shape, (2, 3))
        if shape[-1] != self.vector_size:
            raise layer_error(
                self,
                f"input vector size must be vector_size={self.vector_size}, received shape {shape}",
            )
        rows = self.batchsize * self.SeqLength
        if len(shape) == 2 and shape[0] is not None and shape[0] != rows:
            raise layer_error(
                self,
                f"a 2-D input must have batchsize * SeqLength = {rows} rows, received shape "
                f"{shape}",
            )
        if len(shape) == 3 and shape[1] is not None and shape[1] != self.SeqLength:
            raise layer_error(
                self, f"a 3-D input must have SeqLength={self.SeqLength} steps, received {shape}"
            )
        h = self.num_output
        limit = 1.0 / math.sqrt(h)
        self.gru_weights = self.add_weight(
            name="weights",
            shape=(1, sum(self._sizes())),
            initializer=initializers.to_keras(
                self.weight_init_type,
                self.vector_size,
                h,
                default=keras.initializers.RandomUniform(-limit, limit),
            ),
        )
        self.hx = self.add_weight(
            name="hx", shape=(1, self.batchsize * h), initializer="zeros", trainable=False
        )

    def _unpack(self):
        h, e = self.num_output, self.vector_size
        n_w, n_r, _ = self._sizes()
        flat = keras.ops.reshape(self.gru_weights, (-1,))
        w = keras.ops.reshape(flat[:n_w], (3, h, e))
        r = keras.ops.reshape(flat[n_w : n_w + n_r], (3, h, h))
        b = keras.ops.reshape(flat[n_w + n_r :], (3, h))
        return w, r, b

    def _run(self, steps):
        """steps: list over time of `[B, E]`; returns the list of hidden states `[B, H]`."""
        w, r, b = self._unpack()
        h = keras.ops.zeros_like(keras.ops.matmul(steps[0], keras.ops.transpose(w[0])))
        outputs = []
        for x in steps:
            gx = [keras.ops.matmul(x, keras.ops.transpose(w[g])) + b[g] for g in range(3)]
            gh = [keras.ops.matmul(h, keras.ops.transpose(r[g])) for g in range(3)]
            reset = keras.ops.sigmoid(gx[0] + gh[0])
            update = keras.ops.sigmoid(gx[1] + gh[1])
            new = keras.ops.tanh(gx[2] + reset * gh[2])
            h = (1.0 - update) * new + update * h
            outputs.append(h)
        return outputs

    def call(self, inputs):
        s, e = self.SeqLength, self.vector_size
        if len(inputs.shape) == 3:
            outputs = self._run([inputs[:, t, :] for t in range(s)])
            return keras.ops.stack(outputs, axis=1)
        seq_major = keras.ops.reshape(inputs, (s, -1, e))
        outputs = self._run([seq_major[t] for t in range(s)])
        return keras.ops.reshape(keras.ops.stack(outputs, axis=0), (-1, self.num_output))

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.num_output)

    def get_config(self):
        return {
            **super().get_config(),
            "num_output": self.num_output,
            "batchsize": self.batchsize,
            "SeqLength": self.SeqLength,
            "vector_size": self.vector_size,
            "weight_init_type": initializers.serialize(self.weight_init_type),
            "bias_init_type": initializers.serialize(self.bias_init_type),
        }
