"""HugeCTR's `*_t` enums. Each value is the name HugeCTR writes in its graph JSON files."""

from enum import Enum


class _NamedEnum(Enum):
    def __repr__(self):
        return f"hugectr.{type(self).__name__}.{self.name}"

    @classmethod
    def parse(cls, value, argument):
        """Accepts a member or its JSON name; raises ValueError naming `argument` otherwise."""
        if isinstance(value, cls):
            return value
        for member in cls:
            if value in (member.value, member.name):
                return member
        names = ", ".join(m.name for m in cls)
        raise ValueError(
            f"`{argument}` must be one of {cls.__name__}.{{{names}}}. Received: "
            f"{argument}={value!r}"
        )


class DataReaderType_t(_NamedEnum):  # noqa: N801 (HugeCTR's name)
    Norm = "Norm"
    Raw = "Raw"
    Parquet = "Parquet"
    RawAsync = "RawAsync"  # HugeCTR's asynchronous Raw reader (AsyncParam); Raw files


class Check_t(_NamedEnum):  # noqa: N801
    Sum = "Sum"
    Non = "None"


class Optimizer_t(_NamedEnum):  # noqa: N801
    Adam = "Adam"
    Adagrad = "AdaGrad"
    MomentumSGD = "MomentumSGD"
    Nesterov = "Nesterov"
    SGD = "SGD"


class Update_t(_NamedEnum):  # noqa: N801
    Local = "Local"
    Global = "Global"
    LazyGlobal = "LazyGlobal"


class Embedding_t(_NamedEnum):  # noqa: N801
    DistributedSlotSparseEmbeddingHash = "DistributedSlotSparseEmbeddingHash"
    LocalizedSlotSparseEmbeddingHash = "LocalizedSlotSparseEmbeddingHash"
    LocalizedSlotSparseEmbeddingOneHot = "LocalizedSlotSparseEmbeddingOneHot"
    HybridSparseEmbedding = "HybridSparseEmbedding"  # MLPerf DLRM: a table over slot_size_array


class Initializer_t(_NamedEnum):  # noqa: N801
    Default = "Default"
    Uniform = "Uniform"
    XavierNorm = "XavierNorm"
    XavierUniform = "XavierUniform"
    Zero = "Zero"


class Regularizer_t(_NamedEnum):  # noqa: N801
    L1 = "L1"
    L2 = "L2"


class LrPolicy_t(_NamedEnum):  # noqa: N801
    fixed = "fixed"


class Alignment_t(_NamedEnum):  # noqa: N801
    """AsyncParam's I/O alignment of the Raw file (direct I/O)."""

    Auto = "Auto"
    Non = "None"


class FcPosition_t(_NamedEnum):  # noqa: N801
    """Where a FusedInnerProduct sits in a chain of fused layers (HugeCTR's MLPerf DLRM)."""

    Non = "None"
    Head = "Head"
    Body = "Body"
    Tail = "Tail"
    Isolated = "Isolated"


class Activation_t(_NamedEnum):  # noqa: N801
    """The activation of a FusedInnerProduct."""

    Relu = "Relu"
    Non = "None"


class CommunicationType(_NamedEnum):
    """HybridEmbeddingParam: how the hybrid embedding exchanges vectors between GPUs."""

    IB_NVLink_Hier = "IB_NVLink_Hierarchical"  # HugeCTR's graph JSON spelling
    IB_NVLink = "IB_NVLink"
    NVLink_SingleNode = "NVLink_SingleNode"


class HybridEmbeddingType(_NamedEnum):
    """HybridEmbeddingParam: how the hybrid embedding's infrequent categories are placed."""

    Distributed = "Distributed"


class DeviceLayout(_NamedEnum):
    """How `vvgpu` devices are numbered across nodes (HugeCTR's `DeviceMap::Layout`)."""

    LocalFirst = "LocalFirst"
    NodeFirst = "NodeFirst"


class AllReduceAlgo(_NamedEnum):
    """The all-reduce of dense gradients across devices: HugeCTR's one-shot kernel or NCCL."""

    OneShot = "OneShot"
    NCCL = "NCCL"


class MetricsType(_NamedEnum):
    AUC = "AUC"
    AverageLoss = "AverageLoss"
    HitRate = "HitRate"


class Layer_t(_NamedEnum):  # noqa: N801
    Add = "Add"
    BatchNorm = "BatchNorm"
    Cast = "Cast"
    Concat = "Concat"
    DotProduct = "DotProduct"
    Dropout = "Dropout"
    ELU = "ELU"
    FmOrder2 = "FmOrder2"
    FusedInnerProduct = "FusedInnerProduct"
    InnerProduct = "InnerProduct"
    Interaction = "Interaction"
    MultiCross = "MultiCross"
    ReLU = "ReLU"
    ReduceSum = "ReduceSum"
    Reshape = "Reshape"
    Sigmoid = "Sigmoid"
    Slice = "Slice"
    WeightMultiply = "WeightMultiply"
    ElementwiseMultiply = "ElementwiseMultiply"
    GRU = "GRU"
    Scale = "Scale"
    FusedReshapeConcat = "FusedReshapeConcat"
    FusedReshapeConcatGeneral = "FusedReshapeConcatGeneral"
    Softmax = "Softmax"
    PReLU_Dice = "PReLU_Dice"
    ReduceMean = "ReduceMean"
    Sub = "Sub"
    Gather = "Gather"
    BinaryCrossEntropyLoss = "BinaryCrossEntropyLoss"
    CrossEntropyLoss = "CrossEntropyLoss"
    MultiCrossEntropyLoss = "MultiCrossEntropyLoss"


LOSS_LAYERS = (
    Layer_t.BinaryCrossEntropyLoss,
    Layer_t.CrossEntropyLoss,
    Layer_t.MultiCrossEntropyLoss,
)
