"""`CreateOptimizer`: optimizer hyper-parameters, shared by the dense and the sparse optimizers."""

from dataclasses import asdict, dataclass

from hugectr_tf.config.checks import require
from hugectr_tf.config.enums import Optimizer_t, Update_t


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
        require(0 <= self.beta1 < 1, "beta1", self.beta1, "in [0, 1)")
        require(0 <= self.beta2 < 1, "beta2", self.beta2, "in [0, 1)")
        require(self.epsilon > 0, "epsilon", self.epsilon, "positive")
        require(0 <= self.momentum_factor < 1, "momentum_factor", self.momentum_factor, "in [0, 1)")
        require(
            self.initial_accu_value >= 0,
            "initial_accu_value",
            self.initial_accu_value,
            "non-negative",
        )

    def to_config(self):
        """A JSON-able dict of the arguments (enum members by name); `parse_optimizer` reads it."""
        config = asdict(self)
        config["optimizer_type"] = self.optimizer_type.name
        config["update_type"] = self.update_type.name
        return config


def CreateOptimizer(**kwargs):  # noqa: N802 (HugeCTR's name)
    return OptParamsPy(**kwargs)


def parse_optimizer(optimizer, argument="optimizer"):
    """None | OptParamsPy | dict of CreateOptimizer arguments | optimizer name -> OptParamsPy."""
    if optimizer is None:
        return OptParamsPy()
    if isinstance(optimizer, OptParamsPy):
        return optimizer
    if isinstance(optimizer, (str, Optimizer_t)):
        return OptParamsPy(optimizer_type=Optimizer_t.parse(optimizer, argument))
    if isinstance(optimizer, dict):
        try:
            return OptParamsPy(**optimizer)
        except TypeError as err:
            raise ValueError(
                f"`{argument}` dict must hold CreateOptimizer arguments ({err}). "
                f"Received: {argument}={optimizer!r}"
            ) from None
    raise ValueError(
        f"`{argument}` must be None, hugectr_tf.CreateOptimizer(...), a dict of its arguments or "
        f"an optimizer name such as 'Adam'. Received: {argument}={optimizer!r}"
    )
