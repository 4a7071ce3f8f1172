"""The vocabulary every layer of hugectr_tf shares: HugeCTR's `*_t` enums and parameter objects.

Values are parsed once, here, into their final types (enum members, lists of ints); the layers
above take them as they are. This package imports nothing else of hugectr_tf.
"""

from hugectr_tf.config.enums import (
    LOSS_LAYERS,
    Activation_t,
    Alignment_t,
    AllReduceAlgo,
    Check_t,
    CommunicationType,
    DataReaderType_t,
    DeviceLayout,
    Embedding_t,
    FcPosition_t,
    HybridEmbeddingType,
    Initializer_t,
    Layer_t,
    LrPolicy_t,
    MetricsType,
    Optimizer_t,
    Regularizer_t,
    Update_t,
)
from hugectr_tf.config.layers import (
    DENSE_DEFAULTS,
    DENSE_LAYER_ARGUMENTS,
    SLOT_SIZED_EMBEDDINGS,
    DenseArg,
    DenseLayer,
    HybridEmbeddingParam,
    SparseEmbedding,
    dense_argument_names,
)
from hugectr_tf.config.optimizer import CreateOptimizer, OptParamsPy, parse_optimizer
from hugectr_tf.config.reader import AsyncParam, DataReaderParams, DataReaderSparseParam, Input
from hugectr_tf.config.slots import check_slot_size_array, slot_key_limits, slot_offsets
from hugectr_tf.config.solver import CreateMOS, CreateSolver, ModelOversubscriberParams, Solver

__all__ = [
    # HugeCTR's API names (hugectr_tf.api re-exports them at the top level)
    "Activation_t",
    "Alignment_t",
    "AllReduceAlgo",
    "AsyncParam",
    "Check_t",
    "CommunicationType",
    "CreateMOS",
    "CreateOptimizer",
    "CreateSolver",
    "DataReaderParams",
    "DataReaderSparseParam",
    "DataReaderType_t",
    "DenseLayer",
    "DeviceLayout",
    "Embedding_t",
    "FcPosition_t",
    "HybridEmbeddingParam",
    "HybridEmbeddingType",
    "Initializer_t",
    "Input",
    "Layer_t",
    "LrPolicy_t",
    "MetricsType",
    "ModelOversubscriberParams",
    "OptParamsPy",
    "Optimizer_t",
    "Regularizer_t",
    "Solver",
    "SparseEmbedding",
    "Update_t",
    # helpers of the layers above
    "DENSE_DEFAULTS",
    "DENSE_LAYER_ARGUMENTS",
    "DenseArg",
    "LOSS_LAYERS",
    "SLOT_SIZED_EMBEDDINGS",
    "check_slot_size_array",
    "dense_argument_names",
    "parse_optimizer",
    "slot_key_limits",
    "slot_offsets",
]
