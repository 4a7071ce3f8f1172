"""How an `Input` maps onto reader output: slot counts, nnz limits and the batch dict."""

from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class InputLayout:
    """The shape facts of a `hugectr_tf.Input` the readers need."""

    label_name: str
    label_dim: int
    dense_name: str
    dense_dim: int
    sparse_names: tuple
    slots_per_input: tuple
    max_nnz: tuple  # nnz_per_slot of every slot, all inputs in declaration order
    fixed_length: tuple

    @classmethod
    def from_input(cls, input):  # noqa: A002 (HugeCTR's argument name)
        params = input.data_reader_sparse_param_array
        return cls(
            label_name=input.label_name,
            label_dim=input.label_dim,
            dense_name=input.dense_name,
            dense_dim=input.dense_dim,
            sparse_names=tuple(p.sparse_name for p in params),
            slots_per_input=tuple(p.slot_num for p in params),
            max_nnz=tuple(n for p in params for n in p.nnz_list),
            fixed_length=tuple(bool(p.is_fixed_length) for p in params),
        )

    @property
    def total_slots(self):
        return sum(self.slots_per_input)

    def element_spec(self):
        """The `element_spec` of the batch dicts the readers yield."""
        spec = {
            self.label_name: tf.TensorSpec([None, self.label_dim], tf.float32),
            self.dense_name: tf.TensorSpec([None, self.dense_dim], tf.float32),
        }
        for name, slots in zip(self.sparse_names, self.slots_per_input):
            spec[name] = tf.RaggedTensorSpec([None, slots, None], tf.int64, ragged_rank=2)
        return spec

    def to_dict(self, label, dense, *csr):
        """Turns (label, dense, *row_splits, *values) into the batch dict of RaggedTensors."""
        n = len(self.sparse_names)
        out = {self.label_name: label, self.dense_name: dense}
        for i, (name, slots) in enumerate(zip(self.sparse_names, self.slots_per_input)):
            rows = tf.RaggedTensor.from_row_splits(csr[n + i], csr[i], validate=False)
            out[name] = tf.RaggedTensor.from_uniform_row_length(rows, slots, validate=False)
        return out
