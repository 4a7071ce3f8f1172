"""HugeCTR 3.1's configuration objects, with its argument names and defaults.

`CreateSolver`, `CreateMOS`, `CreateOptimizer` return these dataclasses; `DataReaderParams`,
`DataReaderSparseParam`, `Input`, `SparseEmbedding` and `DenseLayer` are the classes themselves.
Each validates in `__post_init__` and names the argument and the value it received.
"""

from dataclasses import dataclass, field
from typing import Any

from hugectr_tf.api.enums import (
    Check_t,
    DataReaderType_t,
    Embedding_t,
    Initializer_t,
    Layer_t,
    LrPolicy_t,
    MetricsType,
    Optimizer_t,
    Regularizer_t,
    Update_t,
)


def _require(cond, argument, value, what):
    if not cond:
        raise ValueError(f"`{argument}` must be {what}. Received: {argument}={value!r}")


def _positive_int(value, argument):
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value > 0,
        argument,
        value,
        "a positive integer",
    )


def _non_negative_int(value, argument):
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        argument,
        value,
        "a non-negative integer",
    )


@dataclass
class Solver:
    """Training resources and schedule (HugeCTR's `CreateSolver`)."""

    seed: int = 0
    lr_policy: LrPolicy_t = LrPolicy_t.fixed
    lr: float = 0.001
    warmup_steps: int = 1
    decay_start: int = 0
    decay_steps: int = 1
    decay_power: float = 2.0
    end_lr: float = 0.0
    max_eval_batches: int = 100
    batchsize_eval: int = 2048
    batchsize: int = 2048
    vvgpu: list = field(default_factory=lambda: [[0]])
    repeat_dataset: bool = True
    use_mixed_precision: bool = False
    enable_tf32_compute: bool = False
    scaler: float = 1.0
    metrics_spec: dict = field(default_factory=lambda: {MetricsType.AUC: 1.0})
    i64_input_key: bool = False
    use_algorithm_search: bool = True
    use_cuda_graph: bool = True

    def __post_init__(self):
        self.lr_policy = LrPolicy_t.parse(self.lr_policy, "lr_policy")
        _require(self.lr > 0, "lr", self.lr, "positive")
        _positive_int(self.warmup_steps, "warmup_steps")
        _non_negative_int(self.decay_start, "decay_start")
        _positive_int(self.decay_steps, "decay_steps")
        _require(self.end_lr >= 0, "end_lr", self.end_lr, "non-negative")
        _positive_int(self.max_eval_batches, "max_eval_batches")
        _positive_int(self.batchsize_eval, "batchsize_eval")
        _positive_int(self.batchsize, "batchsize")
        _require(
            isinstance(self.vvgpu, (list, tuple))
            and len(self.vvgpu) > 0
            and all(isinstance(n, (list, tuple)) and len(n) > 0 for n in self.vvgpu),
            "vvgpu",
            self.vvgpu,
            "a non-empty list of non-empty lists of device indices, e.g. [[0]]",
        )
        if self.use_mixed_precision:
            _require(
                self.scaler in (128, 256, 512, 1024),
                "scaler",
                self.scaler,
                "one of 128, 256, 512, 1024 when use_mixed_precision=True",
            )
        self.metrics_spec = {
            MetricsType.parse(k, "metrics_spec"): float(v) for k, v in self.metrics_spec.items()
        }

    @property
    def num_devices(self):
        return sum(len(node) for node in self.vvgpu)


def CreateSolver(**kwargs):  # noqa: N802 (HugeCTR's name)
    """Returns a `Solver`; every argument is a keyword with HugeCTR 3.1's default."""
    return Solver(**kwargs)


@dataclass
class ModelOversubscriberParams:
    """Model oversubscription (HugeCTR's `CreateMOS`): train tables larger than device memory."""

    train_from_scratch: bool = True
    use_host_memory_ps: bool = True
    trained_sparse_models: list = field(default_factory=list)
    dest_sparse_models: list = field(default_factory=list)

    def __post_init__(self):
        if not self.train_from_scratch:
            _require(
                len(self.trained_sparse_models) > 0,
                "trained_sparse_models",
                self.trained_sparse_models,
                "non-empty when train_from_scratch=False",
            )


def CreateMOS(**kwargs):  # noqa: N802
    return ModelOversubscriberParams(**kwargs)


@dataclass
class DataReaderParams:
    """Where and how the data reader reads (HugeCTR's `DataReaderParams`)."""

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

    def __post_init__(self):
        self.data_reader_type = DataReaderType_t.parse(self.data_reader_type, "data_reader_type")
        self.check_type = Check_t.parse(self.check_type, "check_type")
        if isinstance(self.source, str):
            self.source = [self.source]
        _require(
            isinstance(self.source, (list, tuple))
            and len(self.source) > 0
            and all(isinstance(s, str) and s for s in self.source),
            "source",
            self.source,
            "a non-empty list of file names",
        )
        self.source = list(self.source)
        _require(isinstance(self.eval_source, str), "eval_source", self.eval_source, "a string")
        _non_negative_int(self.cache_eval_data, "cache_eval_data")
        _non_negative_int(self.num_samples, "num_samples")
        _non_negative_int(self.eval_num_samples, "eval_num_samples")
        _positive_int(self.num_workers, "num_workers")
        for size in self.slot_size_array:
            _positive_int(size, "slot_size_array")


@dataclass
class OptParamsPy:
    """Optimizer hyper-parameters (HugeCTR's `CreateOptimizer`)."""

    optimizer_type: Optimizer_t = Optimizer_t.Adam
    update_type: Update_t = Update_t.Global
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-7
    momentum_factor: float = 0.0
    atomic_update: bool = True
    # HugeCTR reads Adagrad's initial accumulator and epsilon from the same structure.
    initial_accu_value: float = 0.0

    def __post_init__(self):
        self.optimizer_type = Optimizer_t.parse(self.optimizer_type, "optimizer_type")
        self.update_type = Update_t.parse(self.update_type, "update_type")
        _require(0 <= self.beta1 < 1, "beta1", self.beta1, "in [0, 1)")
        _require(0 <= self.beta2 < 1, "beta2", self.beta2, "in [0, 1)")
        _require(self.epsilon > 0, "epsilon", self.epsilon, "positive")
        _require(
            0 <= self.momentum_factor < 1, "momentum_factor", self.momentum_factor, "in [0, 1)"
        )


def CreateOptimizer(**kwargs):  # noqa: N802
    return OptParamsPy(**kwargs)


@dataclass
class DataReaderSparseParam:
    """One sparse input of `Input`: its name, slots and keys per slot."""

    sparse_name: str
    nnz_per_slot: Any
    is_fixed_length: bool
    slot_num: int

    def __post_init__(self):
        _require(
            isinstance(self.sparse_name, str) and self.sparse_name,
            "sparse_name",
            self.sparse_name,
            "a non-empty string",
        )
        _positive_int(self.slot_num, "slot_num")
        if isinstance(self.nnz_per_slot, (list, tuple)):
            _require(
                len(self.nnz_per_slot) == self.slot_num,
                "nnz_per_slot",
                self.nnz_per_slot,
                f"a list of slot_num={self.slot_num} entries",
            )
            for n in self.nnz_per_slot:
                _positive_int(n, "nnz_per_slot")
            self.nnz_per_slot = list(self.nnz_per_slot)
        else:
            _positive_int(self.nnz_per_slot, "nnz_per_slot")

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
        _positive_int(self.label_dim, "label_dim")
        _non_negative_int(self.dense_dim, "dense_dim")
        _require(
            isinstance(self.label_name, str) and self.label_name,
            "label_name",
            self.label_name,
            "a non-empty string",
        )
        _require(
            isinstance(self.dense_name, str) and self.dense_name,
            "dense_name",
            self.dense_name,
            "a non-empty string",
        )
        params = list(self.data_reader_sparse_param_array)
        for p in params:
            _require(
                isinstance(p, DataReaderSparseParam),
                "data_reader_sparse_param_array",
                p,
                "a list of hugectr.DataReaderSparseParam",
            )
        names = [p.sparse_name for p in params]
        _require(
            len(set(names)) == len(names),
            "data_reader_sparse_param_array",
            names,
            "made of distinct sparse_name values",
        )
        self.data_reader_sparse_param_array = params

    @property
    def total_slot_num(self):
        return sum(p.slot_num for p in self.data_reader_sparse_param_array)


@dataclass
class SparseEmbedding:
    """An embedding table over one sparse input (HugeCTR's `SparseEmbedding`)."""

    embedding_type: Embedding_t
    workspace_size_per_gpu_in_mb: int
    embedding_vec_size: int
    combiner: str
    sparse_embedding_name: str
    bottom_name: str
    slot_size_array: list = field(default_factory=list)
    optimizer: OptParamsPy | None = None

    def __post_init__(self):
        self.embedding_type = Embedding_t.parse(self.embedding_type, "embedding_type")
        _positive_int(self.workspace_size_per_gpu_in_mb, "workspace_size_per_gpu_in_mb")
        _positive_int(self.embedding_vec_size, "embedding_vec_size")
        if isinstance(self.combiner, int) and not isinstance(self.combiner, bool):
            # HugeCTR's JSON files spell the combiner 0 (sum) / 1 (mean).
            self.combiner = {0: "sum", 1: "mean"}.get(self.combiner, self.combiner)
        _require(self.combiner in ("sum", "mean"), "combiner", self.combiner, "'sum' or 'mean'")
        for size in self.slot_size_array:
            _positive_int(size, "slot_size_array")
        if self.embedding_type == Embedding_t.LocalizedSlotSparseEmbeddingOneHot:
            _require(
                len(self.slot_size_array) > 0,
                "slot_size_array",
                self.slot_size_array,
                "given for LocalizedSlotSparseEmbeddingOneHot",
            )
        _require(
            self.optimizer is None or isinstance(self.optimizer, OptParamsPy),
            "optimizer",
            self.optimizer,
            "None or the result of hugectr.CreateOptimizer",
        )


_DENSE_DEFAULTS = {
    "factor": 1.0,
    "eps": 1e-5,
    "gamma_init_type": Initializer_t.Default,
    "beta_init_type": Initializer_t.Default,
    "dropout_rate": 0.5,
    "elu_alpha": 1.0,
    "num_output": 1,
    "weight_init_type": Initializer_t.Default,
    "bias_init_type": Initializer_t.Default,
    "num_layers": 0,
    "leading_dim": 1,
    "selected": False,
    "selected_slots": [],
    "ranges": [],
    "weight_dims": [],
    "out_dim": 0,
    "axis": 1,
    "time_step": 0,
    "batchsize": 1,
    "SeqLength": 1,
    "vector_size": 1,
    "indices": [],
    "target_weight_vec": [],
    "use_regularizer": False,
    "regularizer_type": Regularizer_t.L1,
    "lambda": 0.0,
}
_INIT_ARGS = ("gamma_init_type", "beta_init_type", "weight_init_type", "bias_init_type")


class DenseLayer:
    """A dense layer or loss (HugeCTR's `DenseLayer`).

    `lambda` is a Python keyword, so it is passed as `**{"lambda": 0.1}` (as with HugeCTR's own
    binding) or as `lambda_=0.1`; it is read back as `layer.lambda_`.
    """

    def __init__(self, layer_type, bottom_names, top_names, **kwargs):
        self.layer_type = Layer_t.parse(layer_type, "layer_type")
        if "lambda_" in kwargs:
            kwargs["lambda"] = kwargs.pop("lambda_")
        unknown = sorted(set(kwargs) - set(_DENSE_DEFAULTS))
        if unknown:
            raise TypeError(
                f"DenseLayer got unexpected arguments {unknown}. Known: {sorted(_DENSE_DEFAULTS)}"
            )
        for names, argument in ((bottom_names, "bottom_names"), (top_names, "top_names")):
            _require(
                isinstance(names, (list, tuple))
                and len(names) > 0
                and all(isinstance(n, str) and n for n in names),
                argument,
                names,
                "a non-empty list of tensor names",
            )
        self.bottom_names = list(bottom_names)
        self.top_names = list(top_names)
        values = {k: (list(v) if isinstance(v, list) else v) for k, v in _DENSE_DEFAULTS.items()}
        values.update(kwargs)
        for name in _INIT_ARGS:
            values[name] = Initializer_t.parse(values[name], name)
        values["regularizer_type"] = Regularizer_t.parse(
            values["regularizer_type"], "regularizer_type"
        )
        values["ranges"] = [tuple(r) for r in values["ranges"]]
        self.lambda_ = float(values.pop("lambda"))
        for k, v in values.items():
            setattr(self, k, v)

    def params(self):
        """The non-default parameters, by HugeCTR name (used by summaries and graph JSON)."""
        out = {}
        for k, default in _DENSE_DEFAULTS.items():
            value = self.lambda_ if k == "lambda" else getattr(self, k)
            if value != default:
                out[k] = value
        return out

    def __repr__(self):
        extras = "".join(f", {k}={v!r}" for k, v in self.params().items())
        return (
            f"DenseLayer({self.layer_type!r}, bottom_names={self.bottom_names}, "
            f"top_names={self.top_names}{extras})"
        )
