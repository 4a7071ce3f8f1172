"""`SparseEmbedding` and `DenseLayer`: the layers of a HugeCTR model, and the table of the
arguments each dense layer type takes.

`DENSE_LAYER_ARGUMENTS` is the one place that says, for every `Layer_t`, which `DenseLayer`
arguments it reads and where HugeCTR's graph JSON keeps each of them. `DenseLayer` validates
against it, the Model passes exactly these arguments (with HugeCTR's defaults) to the Keras layer,
and `hugectr_tf.api.graph_json` reads and writes the JSON from it.
"""

from dataclasses import dataclass, field

from hugectr_tf.config.checks import is_int, non_empty_str, positive_int, require
from hugectr_tf.config.enums import (
    Activation_t,
    CommunicationType,
    Embedding_t,
    FcPosition_t,
    HybridEmbeddingType,
    Initializer_t,
    Layer_t,
    Regularizer_t,
)
from hugectr_tf.config.optimizer import OptParamsPy
from hugectr_tf.config.slots import check_slot_size_array

# Embedding types whose table is a dense array of sum(slot_size_array) rows addressed by
# key + slot offset; HugeCTR sizes them from the slot sizes and ignores the workspace.
SLOT_SIZED_EMBEDDINGS = (
    Embedding_t.LocalizedSlotSparseEmbeddingOneHot,
    Embedding_t.HybridSparseEmbedding,
)


@dataclass
class HybridEmbeddingParam:
    """HugeCTR's `HybridEmbeddingParam` (MLPerf DLRM's `HybridSparseEmbedding`).

    HugeCTR splits the categories of a hybrid embedding into frequent ones (replicated on every
    GPU) and infrequent ones (sharded), choosing the split from these bandwidth and sample
    statistics. The split changes where rows live and how they travel, never the values a lookup
    returns, so on TensorFlow the table is one table over `slot_size_array` (sharded across
    replicas like the other tables); these tuning values have no TensorFlow counterpart and are
    validated, stored and written to the graph JSON only.
    """

    max_num_frequent_categories: int
    max_num_infrequent_samples: int
    p_dup_max: float
    max_all_reduce_bandwidth: float
    max_all_to_all_bandwidth: float
    efficiency_bandwidth_ratio: float
    communication_type: CommunicationType
    hybrid_embedding_type: HybridEmbeddingType

    def __post_init__(self):
        positive_int(self.max_num_frequent_categories, "max_num_frequent_categories")
        require(
            is_int(self.max_num_infrequent_samples) and self.max_num_infrequent_samples >= -1,
            "max_num_infrequent_samples",
            self.max_num_infrequent_samples,
            "an integer >= -1 (-1: no limit)",
        )
        require(0 <= self.p_dup_max <= 1, "p_dup_max", self.p_dup_max, "in [0, 1]")
        for name in ("max_all_reduce_bandwidth", "max_all_to_all_bandwidth"):
            require(getattr(self, name) > 0, name, getattr(self, name), "positive")
        require(
            self.efficiency_bandwidth_ratio > 0,
            "efficiency_bandwidth_ratio",
            self.efficiency_bandwidth_ratio,
            "positive",
        )
        self.communication_type = CommunicationType.parse(
            self.communication_type, "communication_type"
        )
        self.hybrid_embedding_type = HybridEmbeddingType.parse(
            self.hybrid_embedding_type, "hybrid_embedding_type"
        )


def default_hybrid_embedding_param():
    """HugeCTR's `SparseEmbedding(hybrid_embedding_param=...)` default."""
    return HybridEmbeddingParam(
        1,
        -1,
        0.01,
        1.3e11,
        1.9e11,
        1.0,
        CommunicationType.NVLink_SingleNode,
        HybridEmbeddingType.Distributed,
    )


@dataclass
class SparseEmbedding:
    """An embedding table over one sparse input (HugeCTR's `SparseEmbedding`).

    `LocalizedSlotSparseEmbeddingOneHot` and `HybridSparseEmbedding` tables hold
    `sum(slot_size_array)` rows, as HugeCTR sizes them; their `workspace_size_per_gpu_in_mb` is
    not used (HugeCTR's graph JSON carries none for them), so 0 is accepted there.
    """

    embedding_type: Embedding_t
    workspace_size_per_gpu_in_mb: int
    embedding_vec_size: int
    combiner: str
    sparse_embedding_name: str
    bottom_name: str
    slot_size_array: list = field(default_factory=list)
    optimizer: OptParamsPy | None = None
    hybrid_embedding_param: HybridEmbeddingParam = field(
        default_factory=default_hybrid_embedding_param
    )

    def __post_init__(self):
        self.embedding_type = Embedding_t.parse(self.embedding_type, "embedding_type")
        workspace = self.workspace_size_per_gpu_in_mb
        if self.sized_by_slots:
            require(
                is_int(workspace) and workspace >= 0,
                "workspace_size_per_gpu_in_mb",
                workspace,
                "a non-negative integer (unused: the table is sized from slot_size_array)",
            )
        else:
            positive_int(self.workspace_size_per_gpu_in_mb, "workspace_size_per_gpu_in_mb")
        positive_int(self.embedding_vec_size, "embedding_vec_size")
        if isinstance(self.combiner, int) and not isinstance(self.combiner, bool):
            # HugeCTR's JSON files spell the combiner 0 (sum) / 1 (mean).
            self.combiner = {0: "sum", 1: "mean"}.get(self.combiner, self.combiner)
        require(self.combiner in ("sum", "mean"), "combiner", self.combiner, "'sum' or 'mean'")
        non_empty_str(self.sparse_embedding_name, "sparse_embedding_name")
        non_empty_str(self.bottom_name, "bottom_name")
        self.slot_size_array = check_slot_size_array(self.slot_size_array)
        if self.sized_by_slots:
            require(
                len(self.slot_size_array) > 0,
                "slot_size_array",
                self.slot_size_array,
                f"given for {self.embedding_type.name}",
            )
        require(
            self.optimizer is None or isinstance(self.optimizer, OptParamsPy),
            "optimizer",
            self.optimizer,
            "None or the result of hugectr.CreateOptimizer",
        )
        require(
            isinstance(self.hybrid_embedding_param, HybridEmbeddingParam),
            "hybrid_embedding_param",
            self.hybrid_embedding_param,
            "a hugectr.HybridEmbeddingParam",
        )

    @property
    def sized_by_slots(self):
        """True for tables of sum(slot_size_array) rows (OneHot, Hybrid)."""
        return self.embedding_type in SLOT_SIZED_EMBEDDINGS


# HugeCTR's DenseLayer defaults: one per argument name, whatever the layer type.
DENSE_DEFAULTS = {
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
    "pos_type": FcPosition_t.Non,
    "act_type": Activation_t.Relu,
}
_INITIALIZER_ARGS = ("gamma_init_type", "beta_init_type", "weight_init_type", "bias_init_type")


@dataclass(frozen=True)
class DenseArg:
    """One argument of a dense layer type and where HugeCTR's graph JSON keeps it.

    `json` is a dotted path into the layer's JSON entry ("fc_param.num_output"); None when the
    argument is not stored but implied by other fields (Reshape's `selected`, a loss layer's
    `use_regularizer`). `optional` arguments are written only when they differ from the default.
    """

    name: str
    json: str | None
    optional: bool = False


def _fc(block):
    return (
        DenseArg("num_output", f"{block}.num_output"),
        DenseArg("weight_init_type", f"{block}.weight_init", optional=True),
        DenseArg("bias_init_type", f"{block}.bias_init", optional=True),
    )


_LOSS = (
    DenseArg("use_regularizer", None),
    DenseArg("regularizer_type", "regularizer"),
    DenseArg("lambda", "lambda"),
)

DENSE_LAYER_ARGUMENTS = {
    Layer_t.Add: (),
    Layer_t.BatchNorm: (
        DenseArg("factor", "bn_param.factor"),
        DenseArg("eps", "bn_param.eps"),
        DenseArg("gamma_init_type", "bn_param.gamma_init", optional=True),
        DenseArg("beta_init_type", "bn_param.beta_init", optional=True),
    ),
    Layer_t.Cast: (),
    Layer_t.Concat: (),
    Layer_t.DotProduct: (),
    Layer_t.Dropout: (DenseArg("dropout_rate", "rate"),),
    Layer_t.ELU: (DenseArg("elu_alpha", "elu_param.alpha"),),
    Layer_t.FmOrder2: (DenseArg("out_dim", "out_dim"),),
    Layer_t.FusedInnerProduct: (
        *_fc("fc_param"),
        DenseArg("pos_type", "position"),
        DenseArg("act_type", "activation"),
    ),
    Layer_t.InnerProduct: _fc("fc_param"),
    Layer_t.Interaction: (),
    Layer_t.MultiCross: (
        DenseArg("num_layers", "mc_param.num_layers"),
        DenseArg("weight_init_type", "mc_param.weight_init", optional=True),
        DenseArg("bias_init_type", "mc_param.bias_init", optional=True),
    ),
    Layer_t.ReLU: (),
    Layer_t.ReduceSum: (DenseArg("axis", "axis"),),
    Layer_t.Reshape: (
        DenseArg("leading_dim", "leading_dim"),
        DenseArg("selected", None),
        DenseArg("selected_slots", "selected"),
        DenseArg("time_step", "time_step"),
    ),
    Layer_t.Sigmoid: (),
    Layer_t.Slice: (DenseArg("ranges", "ranges"),),
    Layer_t.WeightMultiply: (
        DenseArg("weight_dims", "weight_dims"),
        DenseArg("weight_init_type", "weight_init", optional=True),
    ),
    Layer_t.ElementwiseMultiply: (),
    Layer_t.GRU: (
        DenseArg("num_output", "gru_param.num_output"),
        DenseArg("batchsize", "gru_param.batchsize"),
        DenseArg("SeqLength", "gru_param.SeqLength"),
        DenseArg("vector_size", "gru_param.vector_size"),
        DenseArg("weight_init_type", "gru_param.weight_init", optional=True),
        DenseArg("bias_init_type", "gru_param.bias_init", optional=True),
    ),
    Layer_t.Scale: (
        DenseArg("axis", "scale_param.axis"),
        DenseArg("factor", "scale_param.factor"),
    ),
    Layer_t.FusedReshapeConcat: (),
    Layer_t.FusedReshapeConcatGeneral: (),
    Layer_t.Softmax: (),
    Layer_t.PReLU_Dice: (
        DenseArg("elu_alpha", "prelu_dice_param.elu_alpha"),
        DenseArg("eps", "prelu_dice_param.eps"),
    ),
    Layer_t.ReduceMean: (DenseArg("axis", "axis"),),
    Layer_t.Sub: (),
    Layer_t.Gather: (DenseArg("indices", "indices"),),
    Layer_t.BinaryCrossEntropyLoss: _LOSS,
    Layer_t.CrossEntropyLoss: _LOSS,
    Layer_t.MultiCrossEntropyLoss: (
        DenseArg("target_weight_vec", "target_weight", optional=True),
        *_LOSS,
    ),
}


def dense_argument_names(layer_type):
    """The HugeCTR argument names `layer_type` reads, in table order."""
    return tuple(arg.name for arg in DENSE_LAYER_ARGUMENTS[Layer_t.parse(layer_type, "layer_type")])


def _copy(value):
    return list(value) if isinstance(value, list) else value


class DenseLayer:
    """A dense layer or loss (HugeCTR's `DenseLayer`).

    Every argument has HugeCTR's default. An argument the layer type does not read raises
    (HugeCTR would silently ignore it). `lambda` is a Python keyword, so it is passed as
    `**{"lambda": 0.1}` (as with HugeCTR's own binding) or as `lambda_=0.1`; it is read back as
    `layer.lambda_`.
    """

    def __init__(self, layer_type, bottom_names, top_names, **kwargs):
        self.layer_type = Layer_t.parse(layer_type, "layer_type")
        if "lambda_" in kwargs:
            kwargs["lambda"] = kwargs.pop("lambda_")
        unknown = sorted(set(kwargs) - set(DENSE_DEFAULTS))
        if unknown:
            raise TypeError(
                f"DenseLayer got unexpected arguments {unknown}. Known: {sorted(DENSE_DEFAULTS)}"
            )
        used = dense_argument_names(self.layer_type)
        unused = sorted(set(kwargs) - set(used))
        if unused:
            raise ValueError(
                f"DenseLayer({self.layer_type.name}) does not read {unused}; it takes "
                f"{list(used) or 'no arguments'} besides bottom_names and top_names"
            )
        for names, argument in ((bottom_names, "bottom_names"), (top_names, "top_names")):
            require(
                isinstance(names, (list, tuple))
                and len(names) > 0
                and all(isinstance(n, str) and n for n in names),
                argument,
                names,
                "a non-empty list of tensor names",
            )
        self.bottom_names = list(bottom_names)
        self.top_names = list(top_names)
        values = {k: _copy(v) for k, v in DENSE_DEFAULTS.items()}
        values.update(kwargs)
        for name in _INITIALIZER_ARGS:
            values[name] = Initializer_t.parse(values[name], name)
        values["regularizer_type"] = Regularizer_t.parse(
            values["regularizer_type"], "regularizer_type"
        )
        values["pos_type"] = FcPosition_t.parse(values["pos_type"], "pos_type")
        values["act_type"] = Activation_t.parse(values["act_type"], "act_type")
        values["ranges"] = [tuple(r) for r in values["ranges"]]
        self.lambda_ = float(values.pop("lambda"))
        for k, v in values.items():
            setattr(self, k, v)

    def argument(self, name):
        """The value of HugeCTR argument `name` ("lambda" included)."""
        return self.lambda_ if name == "lambda" else getattr(self, name)

    def arguments(self):
        """{name: value} of every argument this layer type reads, defaults included."""
        return {name: self.argument(name) for name in dense_argument_names(self.layer_type)}

    def params(self):
        """The arguments of this layer type that differ from HugeCTR's defaults."""
        return {k: v for k, v in self.arguments().items() if v != DENSE_DEFAULTS[k]}

    def __repr__(self):
        extras = "".join(f", {k}={v!r}" for k, v in self.params().items())
        return (
            f"DenseLayer({self.layer_type!r}, bottom_names={self.bottom_names}, "
            f"top_names={self.top_names}{extras})"
        )
