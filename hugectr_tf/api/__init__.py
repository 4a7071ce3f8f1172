"""The HugeCTR 3.1 Python API, re-exported at the top level: `import hugectr_tf as hugectr`.

The enums and parameter objects live in `hugectr_tf.config` (the bottom of the package); this
facade adds `Model` on top of them.
"""

from hugectr_tf.api.lr_scheduler import LearningRateScheduler
from hugectr_tf.api.model import Model
from hugectr_tf.api.oversubscription import ModelOversubscriber
from hugectr_tf.config import (
    Activation_t,
    Alignment_t,
    AllReduceAlgo,
    AsyncParam,
    Check_t,
    CommunicationType,
    CreateMOS,
    CreateOptimizer,
    CreateSolver,
    DataReaderParams,
    DataReaderSparseParam,
    DataReaderType_t,
    DenseLayer,
    DeviceLayout,
    Embedding_t,
    FcPosition_t,
    HybridEmbeddingParam,
    HybridEmbeddingType,
    Initializer_t,
    Input,
    Layer_t,
    LrPolicy_t,
    MetricsType,
    ModelOversubscriberParams,
    Optimizer_t,
    OptParamsPy,
    Regularizer_t,
    Solver,
    SparseEmbedding,
    Update_t,
)
from hugectr_tf.data import DataReader

# HugeCTR names its reader classes by key type; `Model.get_data_reader_*` returns them.
DataReader32 = DataReader64 = DataReader

__all__ = [
    "Activation_t",
    "Alignment_t",
    "AllReduceAlgo",
    "AsyncParam",
    "Check_t",
    "CommunicationType",
    "CreateMOS",
    "CreateOptimizer",
    "CreateSolver",
    "DataReader32",
    "DataReader64",
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
    "LearningRateScheduler",
    "LrPolicy_t",
    "MetricsType",
    "Model",
    "ModelOversubscriber",
    "ModelOversubscriberParams",
    "OptParamsPy",
    "Optimizer_t",
    "Regularizer_t",
    "Solver",
    "SparseEmbedding",
    "Update_t",
]
