"""`DataReaderParams`, `DataReaderSparseParam` and `Input`: what the data reader reads."""

from dataclasses import dataclass, field
from typing import Any

from hugectr_tf.config.checks import non_empty_str, non_negative_int, positive_int, require
from hugectr_tf.config.enums import Alignment_t, Check_t, DataReaderType_t
from hugectr_tf.config.slots import check_slot_size_array


@dataclass
class AsyncParam:
    """HugeCTR's `AsyncParam`: the asynchronous Raw reader (`DataReaderType_t.RawAsync`).

    Every argument is required, as in HugeCTR's binding. On TensorFlow, `num_threads` is the
    number of reader threads, `num_batches_per_thread` how many batches each may hold ready
    (the prefetch depth is their product) and `shuffle` reads the batches in a shuffled order
    (a buffer of that many batches). `io_block_size`, `io_depth`, `io_alignment` and
    `aligned_type` tune HugeCTR's direct-I/O engine, which has no TensorFlow counterpart.
    """

    num_threads: int
    num_batches_per_thread: int
    io_block_size: int
    io_depth: int
    io_alignment: int
    shuffle: bool
    aligned_type: Alignment_t

    def __post_init__(self):
        positive_int(self.num_threads, "num_threads")
        positive_int(self.num_batches_per_thread, "num_batches_per_thread")
        positive_int(self.io_block_size, "io_block_size")
        positive_int(self.io_depth, "io_depth")
        positive_int(self.io_alignment, "io_alignment")
        require(isinstance(self.shuffle, bool), "shuffle", self.shuffle, "True or False")
        self.aligned_type = Alignment_t.parse(self.aligned_type, "aligned_type")

    @property
    def prefetch_batches(self):
        return self.num_threads * self.num_batches_per_thread


def _default_async_param():
    # HugeCTR's DataReaderParams default.
    return AsyncParam(16, 4, 512000, 4, 512, False, Alignment_t.Non)


@dataclass
class DataReaderParams:
    """Where and how the data reader reads (HugeCTR's `DataReaderParams`).

    `slot_size_array` entries may be 0: such a slot adds nothing to the offsets, so its keys
    share the key range of the slots after it (HugeCTR's DIN samples give the history slots 0 so
    that they read the item ids of the item slot that follows).
    """

    data_reader_type: DataReaderType_t
    source: Any
    eval_source: str
    check_type: Check_t
    keyset: list = field(default_factory=list)
    cache_eval_data: int = 0
    num_samples: int = 0
    eval_num_samples: int = 0
    float_label_dense: bool = True
    num_workers: int = 12
    slot_size_array: list = field(default_factory=list)
    async_param: AsyncParam = field(default_factory=_default_async_param)

    def __post_init__(self):
        self.data_reader_type = DataReaderType_t.parse(self.data_reader_type, "data_reader_type")
        self.check_type = Check_t.parse(self.check_type, "check_type")
        if isinstance(self.source, str):
            self.source = [self.source]
        require(
            isinstance(self.source, (list, tuple))
            and len(self.source) > 0
            and all(isinstance(s, str) and s for s in self.source),
            "source",
            self.source,
            "a non-empty list of file names",
        )
        self.source = list(self.source)
        if isinstance(self.keyset, str):
            self.keyset = [self.keyset]
        require(
            isinstance(self.keyset, (list, tuple)) and all(isinstance(k, str) for k in self.keyset),
            "keyset",
            self.keyset,
            "a list of keyset file names (one per source, with model oversubscription)",
        )
        self.keyset = list(self.keyset)
        require(isinstance(self.eval_source, str), "eval_source", self.eval_source, "a string")
        non_negative_int(self.cache_eval_data, "cache_eval_data")
        non_negative_int(self.num_samples, "num_samples")
        non_negative_int(self.eval_num_samples, "eval_num_samples")
        positive_int(self.num_workers, "num_workers")
        self.slot_size_array = check_slot_size_array(self.slot_size_array)
        require(
            isinstance(self.async_param, AsyncParam),
            "async_param",
            self.async_param,
            "a hugectr.AsyncParam",
        )


@dataclass
class DataReaderSparseParam:
    """One sparse input of `Input`: its name, slots and keys per slot."""

    sparse_name: str
    nnz_per_slot: Any
    is_fixed_length: bool
    slot_num: int

    def __post_init__(self):
        non_empty_str(self.sparse_name, "sparse_name")
        positive_int(self.slot_num, "slot_num")
        if isinstance(self.nnz_per_slot, (list, tuple)):
            require(
                len(self.nnz_per_slot) == self.slot_num,
                "nnz_per_slot",
                self.nnz_per_slot,
                f"a list of slot_num={self.slot_num} entries",
            )
            self.nnz_per_slot = [positive_int(n, "nnz_per_slot") for n in self.nnz_per_slot]
        else:
            positive_int(self.nnz_per_slot, "nnz_per_slot")

    @property
    def nnz_list(self):
        """Maximum keys per slot, one entry per slot."""
        if isinstance(self.nnz_per_slot, list):
            return list(self.nnz_per_slot)
        return [self.nnz_per_slot] * self.slot_num

    @property
    def max_feature_num(self):
        return sum(self.nnz_list)


@dataclass
class Input:
    """The data layer: label, dense features and sparse inputs with their names."""

    label_dim: int
    label_name: str
    dense_dim: int
    dense_name: str
    data_reader_sparse_param_array: list

    def __post_init__(self):
        positive_int(self.label_dim, "label_dim")
        non_negative_int(self.dense_dim, "dense_dim")
        non_empty_str(self.label_name, "label_name")
        non_empty_str(self.dense_name, "dense_name")
        params = list(self.data_reader_sparse_param_array)
        for p in params:
            require(
                isinstance(p, DataReaderSparseParam),
                "data_reader_sparse_param_array",
                p,
                "a list of hugectr.DataReaderSparseParam",
            )
        names = [p.sparse_name for p in params]
        require(
            len(set(names)) == len(names),
            "data_reader_sparse_param_array",
            names,
            "made of distinct sparse_name values",
        )
        self.data_reader_sparse_param_array = params

    @property
    def total_slot_num(self):
        return sum(p.slot_num for p in self.data_reader_sparse_param_array)

    def sparse_param(self, sparse_name):
        """The `DataReaderSparseParam` named `sparse_name`, or None."""
        for p in self.data_reader_sparse_param_array:
            if p.sparse_name == sparse_name:
                return p
        return None

    def first_slot(self, sparse_name):
        """Index of the first slot of `sparse_name` among all slots, in declaration order."""
        start = 0
        for p in self.data_reader_sparse_param_array:
            if p.sparse_name == sparse_name:
                return start
            start += p.slot_num
        raise KeyError(sparse_name)
