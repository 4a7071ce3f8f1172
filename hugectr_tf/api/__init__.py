"""The HugeCTR 3.1 Python API, re-exported at the top level: `import hugectr_tf as hugectr`."""

from hugectr_tf.api.config import (
    CreateMOS,
    CreateOptimizer,
    CreateSolver,
    DataReaderParams,
    DataReaderSparseParam,
    DenseLayer,
    Input,
    ModelOversubscriberParams,
    OptParamsPy,
    Solver,
    SparseEmbedding,
)
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
from hugectr_tf.api.model import Model

__all__ = [
    "Check_t",
    "CreateMOS",
    "CreateOptimizer",
    "CreateSolver",
    "DataReaderParams",
    "DataReaderSparseParam",
    "DataReaderType_t",
    "DenseLayer",
    "Embedding_t",
    "Initializer_t",
    "Input",
    "Layer_t",
    "LrPolicy_t",
    "MetricsType",
    "Model",
    "ModelOversubscriberParams",
    "OptParamsPy",
    "Optimizer_t",
    "Regularizer_t",
    "Solver",
    "SparseEmbedding",
    "Update_t",
]
