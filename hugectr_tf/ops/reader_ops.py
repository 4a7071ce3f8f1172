"""Wrappers of the C++ reader ops: the Norm/Raw reader `HugeCTR>BinaryReaderDataset` as a tf.data
source, and `HugeCTR>ReadNormHeader`, a Norm file's header as that reader parses it."""

import collections
import re

import tensorflow as tf
from tensorflow.python.data.ops import dataset_ops

from hugectr_tf.ops import load_library

NormHeader = collections.namedtuple(
    "NormHeader", ["check_sum", "number_of_records", "label_dim", "dense_dim", "slot_num"]
)

# What eager execution wraps around an op's message: "{{function_node ...}} " and " [Op:...]".
_EAGER_WRAPPING = re.compile(r"^\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\].*$", re.S)


def read_norm_header(path):
    """The header of Norm file `path` as a `NormHeader` (check_sum: written with Check_t.Sum,
    detected from its framing), parsed by the C++ reader's own code (eagerly).

    Raises `tf.errors.DataLossError` naming the file and field for a short file, a bad frame or
    checksum, or fields no Norm file has.
    """
    try:
        fields = load_library().huge_ctr_read_norm_header(filename=tf.constant(str(path)))
    except tf.errors.OpError as err:  # the reader's message alone (keyset tools print it)
        raise type(err)(err.node_def, err.op, _EAGER_WRAPPING.sub("", err.message)) from None
    check_sum, *counts = (f.numpy() for f in fields)
    return NormHeader(bool(check_sum), *(int(c) for c in counts))


class BinaryReaderDataset(dataset_ops.DatasetSource):
    """Batches of a list of Norm or Raw files, decoded by C++ threads, in file-list order.

    Elements are tuples `(label [B, label_dim] float32, dense [B, dense_dim] float32,
    *row_splits, *values)` with one int64 `row_splits` ([B * slots + 1]) and one int64 `values`
    vector per sparse input. Rows are (record, slot) pairs, record-major.
    `hugectr_tf.data` turns them into dicts of RaggedTensors; use that module unless you need the
    raw CSR form. Without `repeat`, a Norm dataset's cardinality is the batch count of the
    records its headers declare (unknown if a header is bad: the reader then names the problem).
    """

    def __init__(
        self,
        filenames,
        *,
        file_format,
        label_dim,
        dense_dim,
        slots_per_input,
        max_nnz,
        fixed_length,
        input_names,
        batch_size,
        num_workers=1,
        repeat=False,
        check_sum=False,
        key_i64=False,
        float_label_dense=True,
        slot_sizes=(),
        num_samples=0,
    ):
        n = len(slots_per_input)
        self._spec = (
            tf.TensorSpec([None, label_dim], tf.float32),
            tf.TensorSpec([None, dense_dim], tf.float32),
            *[tf.TensorSpec([None], tf.int64) for _ in range(2 * n)],
        )
        variant = load_library().huge_ctr_binary_reader_dataset(
            filenames=tf.convert_to_tensor(list(filenames), tf.string),
            format=file_format,
            label_dim=int(label_dim),
            dense_dim=int(dense_dim),
            slots_per_input=[int(s) for s in slots_per_input],
            max_nnz=[int(m) for m in max_nnz],
            fixed_length=[bool(f) for f in fixed_length],
            input_names=list(input_names),
            check_sum=bool(check_sum),
            key_i64=bool(key_i64),
            float_label_dense=bool(float_label_dense),
            slot_sizes=[int(s) for s in slot_sizes],
            num_samples=int(num_samples),
            batch_size=int(batch_size),
            num_workers=int(num_workers),
            repeat=bool(repeat),
        )
        super().__init__(variant)

    @property
    def element_spec(self):
        return self._spec
