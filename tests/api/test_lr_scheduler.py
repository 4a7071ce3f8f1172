"""HugeCTR's learning-rate schedule against its formula at chosen steps."""

import pytest

from hugectr_tf.api.lr_scheduler import LearningRateScheduler


def test_warmup_constant_decay_and_floor():
    s = LearningRateScheduler(
        0.1, warmup_steps=4, decay_start=10, decay_steps=5, decay_power=2.0, end_lr=0.001
    )
    got = [s.get_next() for _ in range(20)]
    # warm-up: s/4 * 0.1
    assert got[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    # constant until decay_start (step 10 included)
    assert got[4:10] == pytest.approx([0.1] * 6)
    # step 11..15: 0.1 * ((15 - s) / 5) ** 2, floored at end_lr
    expected = [max(0.1 * ((15 - s) / 5) ** 2, 0.001) for s in range(11, 16)]
    assert got[10:15] == pytest.approx(expected)
    assert got[12] == pytest.approx(0.016)  # step 13 by hand: 0.1 * ((15 - 13) / 5) ** 2
    assert got[14] == pytest.approx(0.001)  # (0/5)^2 = 0 -> end_lr
    assert got[15:] == pytest.approx([0.001] * 5)
    assert s.get_lr() == pytest.approx(0.001)


def test_no_decay_when_decay_start_is_zero():
    s = LearningRateScheduler(0.5, warmup_steps=1)
    assert [s.get_next() for _ in range(3)] == pytest.approx([0.5, 0.5, 0.5])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"base_lr": 0.0}, "base_lr"),
        ({"base_lr": 0.1, "warmup_steps": 0}, "warmup_steps"),
        ({"base_lr": 0.1, "decay_steps": 0}, "decay_steps"),
        ({"base_lr": 0.1, "decay_power": 0.5}, "decay_power"),
        ({"base_lr": 0.1, "end_lr": -1.0}, "end_lr"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        LearningRateScheduler(**kwargs)
