"""HugeCTR's data formats (Norm, Raw, Parquet) as `tf.data` pipelines.

`dataset_from_params(reader_params, input, batch_size)` builds the pipeline a HugeCTR
`DataReaderParams` and `Input` describe; `DataReader` is HugeCTR's low-level reader interface.
Keyset files (`keyset.py`) list a source's keys for model oversubscription.
Norm and Raw are decoded by C++ threads (the `HugeCTR>BinaryReaderDataset` op), Parquet by pyarrow.
"""

from hugectr_tf.data.binary import norm_dataset, raw_dataset
from hugectr_tf.data.file_list import read_file_list, write_file_list
from hugectr_tf.data.keyset import keys_of_source, read_keyset, write_keyset
from hugectr_tf.data.layout import InputLayout
from hugectr_tf.data.params import dataset_from_params, split_label
from hugectr_tf.data.parquet import parquet_dataset
from hugectr_tf.data.reader import DataReader

__all__ = [
    "DataReader",
    "InputLayout",
    "dataset_from_params",
    "keys_of_source",
    "norm_dataset",
    "parquet_dataset",
    "raw_dataset",
    "read_file_list",
    "read_keyset",
    "split_label",
    "write_file_list",
    "write_keyset",
]
