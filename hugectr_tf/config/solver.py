"""`CreateSolver` and `CreateMOS`: training resources, schedule and model oversubscription."""

from dataclasses import dataclass, field

from hugectr_tf.config.checks import non_negative_int, positive_int, require
from hugectr_tf.config.enums import AllReduceAlgo, DeviceLayout, LrPolicy_t, MetricsType


@dataclass
class Solver:
    """Training resources and schedule (HugeCTR's `CreateSolver`).

    The fields are HugeCTR 3.1's `CreateSolver` arguments, in its order, with its defaults
    (`HugeCTR/pybind/solver_wrapper.hpp`). The fields after `use_cuda_graph` configure HugeCTR's
    multi-GPU and MLPerf DLRM pipeline (`is_dlrm`); they are validated here with HugeCTR's own
    rules and mapped onto `tf.distribute` by the layers above.
    """

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
    async_mlp_wgrad: bool = False
    gen_loss_summary: bool = True
    overlap_lr: bool = False
    overlap_init_wgrad: bool = False
    overlap_ar_a2a: bool = False
    device_layout: DeviceLayout = DeviceLayout.LocalFirst
    use_holistic_cuda_graph: bool = False
    use_overlapped_pipeline: bool = False
    all_reduce_algo: AllReduceAlgo = AllReduceAlgo.OneShot
    grouped_all_reduce: bool = False
    num_iterations_statistics: int = 20
    is_dlrm: bool = False

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
        for name in _FLAGS:
            value = getattr(self, name)
            require(isinstance(value, bool), name, value, "True or False")
        self.device_layout = DeviceLayout.parse(self.device_layout, "device_layout")
        self.all_reduce_algo = AllReduceAlgo.parse(self.all_reduce_algo, "all_reduce_algo")
        non_negative_int(self.num_iterations_statistics, "num_iterations_statistics")
        self._check_combinations()

    def _check_combinations(self):
        """HugeCTR 3.1's own refusals of argument combinations (`CreateSolver`)."""
        require(
            not (self.use_mixed_precision and self.enable_tf32_compute),
            "enable_tf32_compute",
            self.enable_tf32_compute,
            "False when use_mixed_precision=True (HugeCTR refuses both at once)",
        )
        for name in ("use_holistic_cuda_graph", "use_overlapped_pipeline", "grouped_all_reduce"):
            require(
                self.is_dlrm or not getattr(self, name),
                name,
                getattr(self, name),
                "False unless is_dlrm=True (HugeCTR restricts it to DLRM)",
            )
        for name in ("use_holistic_cuda_graph", "async_mlp_wgrad"):
            require(
                not (getattr(self, name) and self.use_cuda_graph),
                name,
                getattr(self, name),
                "False while use_cuda_graph=True (HugeCTR: turn off the local CUDA graph first)",
            )

    @property
    def num_devices(self):
        return sum(len(node) for node in self.vvgpu)


_FLAGS = (
    "repeat_dataset",
    "use_mixed_precision",
    "enable_tf32_compute",
    "i64_input_key",
    "use_algorithm_search",
    "use_cuda_graph",
    "async_mlp_wgrad",
    "gen_loss_summary",
    "overlap_lr",
    "overlap_init_wgrad",
    "overlap_ar_a2a",
    "use_holistic_cuda_graph",
    "use_overlapped_pipeline",
    "grouped_all_reduce",
    "is_dlrm",
)


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
