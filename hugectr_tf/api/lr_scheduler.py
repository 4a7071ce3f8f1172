"""HugeCTR's learning-rate schedule: linear warm-up, constant, then polynomial decay to end_lr."""


class LearningRateScheduler:
    """Returns the learning rate for each successive iteration (HugeCTR's `get_next`).

    Step s (1-based, counted by `get_next`):
      s <= warmup_steps:                  base_lr * s / warmup_steps
      decay_start == 0 or s <= decay_start: base_lr
      decay_start < s <= decay_start + decay_steps:
          max(base_lr * ((decay_start + decay_steps - s) / decay_steps) ** decay_power, end_lr)
      afterwards:                          end_lr
    (HugeCTR computes the last case with unsigned arithmetic that wraps; we clamp to end_lr, which
    is what its documentation describes.)
    """

    def __init__(
        self, base_lr, warmup_steps=1, decay_start=0, decay_steps=1, decay_power=2.0, end_lr=0.0
    ):
        checks = (
            (base_lr > 0, "base_lr", base_lr, "positive"),
            (int(warmup_steps) >= 1, "warmup_steps", warmup_steps, ">= 1"),
            (int(decay_start) >= 0, "decay_start", decay_start, ">= 0"),
            (int(decay_steps) >= 1, "decay_steps", decay_steps, ">= 1"),
            (decay_power >= 1.0, "decay_power", decay_power, ">= 1"),
            (end_lr >= 0, "end_lr", end_lr, ">= 0"),
        )
        for ok, name, value, what in checks:
            if not ok:
                raise ValueError(f"`{name}` must be {what}. Received: {name}={value!r}")
        self.base_lr = float(base_lr)
        self.warmup_steps = int(warmup_steps)
        self.decay_start = int(decay_start)
        self.decay_steps = int(decay_steps)
        self.decay_power = float(decay_power)
        self.end_lr = float(end_lr)
        self.step = 0
        self.current_lr = 0.0

    def rate_at(self, step):
        """The learning rate of (1-based) iteration `step`, without advancing the schedule."""
        if step <= self.warmup_steps:
            return self.base_lr * step / self.warmup_steps
        if self.decay_start == 0 or step <= self.decay_start:
            return self.base_lr
        if step <= self.decay_start + self.decay_steps:
            remaining = (self.decay_start + self.decay_steps - step) / self.decay_steps
            return max(self.base_lr * remaining**self.decay_power, self.end_lr)
        return self.end_lr

    def get_next(self):
        self.step += 1
        self.current_lr = self.rate_at(self.step)
        return self.current_lr

    def get_lr(self):
        return self.current_lr
