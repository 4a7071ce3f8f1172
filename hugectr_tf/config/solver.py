"""`CreateSolver` and `CreateMOS`: training resources, schedule and model oversubscription."""

from dataclasses import dataclass, field

from hugectr_tf.config.checks import non_negative_int, positive_int, require
from hugectr_tf.config.enums import LrPolicy_t, MetricsType


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
        require(self.lr > 0, "lr", self.lr, "positive")
        positive_int(self.warmup_steps, "warmup_steps")
        non_negative_int(self.decay_start, "decay_start")
        positive_int(self.decay_steps, "decay_steps")
        require(self.end_lr >= 0, "end_lr", self.end_lr, "non-negative")
        positive_int(self.max_eval_batches, "max_eval_batches")
        positive_int(self.batchsize_eval, "batchsize_eval")
        positive_int(self.batchsize, "batchsize")
        require(
            isinstance(self.vvgpu, (list, tuple))
            and len(self.vvgpu) > 0
            and all(isinstance(n, (list, tuple)) and len(n) > 0 for n in self.vvgpu),
            "vvgpu",
            self.vvgpu,
            "a non-empty list of non-empty lists of device indices, e.g. [[0]]",
        )
        if self.use_mixed_precision:
            require(
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
            require(
                len(self.trained_sparse_models) > 0,
                "trained_sparse_models",
                self.trained_sparse_models,
                "non-empty when train_from_scratch=False",
            )


def CreateMOS(**kwargs):  # noqa: N802
    return ModelOversubscriberParams(**kwargs)
