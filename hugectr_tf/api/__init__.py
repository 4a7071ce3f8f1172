"""The HugeCTR 3.1 Python API, re-exported at the top level: `import hugectr_tf as hugectr`.

The enums and parameter objects live in `hugectr_tf.config` (the bottom of the package); this
facade adds `Model` on top of them.
"""

from hugectr_tf.api.model import Model
from hugectr_tf.config import (
    Check_t,
    CreateMOS,
    CreateOptimizer,
    CreateSolver,
    DataReaderParams,
    DataReaderSparseParam,
    DataReaderType_t,
    DenseLayer,
    Embedding_t,
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
