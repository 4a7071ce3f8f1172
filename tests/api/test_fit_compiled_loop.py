"""`Model.fit`'s compiled loop (several iterations per call, batches read inside the step function)
trains exactly as the one-step-per-iteration loop it replaced: same weights, losses, logs,
learning rates and iteration counts, in iteration and epoch mode, with a changing learning rate.

The reference is the same Trainer with its compiled loop switched off (`_train_steps = None`,
the path `fit` takes under a tf.distribute strategy and with jit_compile)."""

import re

import keras
import numpy as np
import pytest
from model_builders import SLOT_SIZES, add_dcn, make_model

from hugectr_tf.api import training
from hugectr_tf.tools import DataGenerator


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    return DataGenerator(
        tmp_path_factory.mktemp("loop"),
        "Norm",
        num_train_samples=5_000,
        num_eval_samples=1_000,
        num_files=2,
        dense_dim=4,
        slot_size_array=SLOT_SIZES,
        seed=5,
    ).generate()


def _fit(gen, capsys, compiled, repeat=True, fit_kwargs=None, **solver_kwargs):
    keras.utils.set_random_seed(7)  # the same initial weights and dropout masks for both runs
    model, opt = make_model(gen, batchsize=256, repeat=repeat, **solver_kwargs)
    add_dcn(model, opt, gen, dropout_rate=0.2)
    model.compile()
    trainer = model._trainer
    assert trainer._train_steps is not None  # one device: the compiled loop is built
    if not compiled:
        trainer._train_steps = None
    capsys.readouterr()
    history = model.fit(**fit_kwargs)
    log = capsys.readouterr().out
    # Times differ between runs; everything else must not.
    log = re.sub(r"\d+\.\d+s|\[\d+d\d+h\d+m\d+s\]", "<t>", log)
    weights = [w.numpy() for w in model.keras_model.weights]
    return {
        "log": log,
        "weights": weights,
        "loss": history.series("loss")[1],
        "mean_loss": history.series("mean_loss")[1],
        "iteration": trainer.iteration,
        "current_loss": trainer.current_loss,
        "lr": model.get_learning_rate_scheduler().get_lr(),
        "step": model.get_learning_rate_scheduler().step,
        "eof": trainer.train_reader().is_eof(),
    }


def _assert_same(a, b):
    assert a["log"] == b["log"]
    assert a["iteration"] == b["iteration"]
    assert a["lr"] == b["lr"] and a["step"] == b["step"] and a["eof"] == b["eof"]
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-6)
    np.testing.assert_allclose(a["mean_loss"], b["mean_loss"], rtol=1e-6)
    np.testing.assert_allclose(a["current_loss"], b["current_loss"], rtol=1e-6)
    assert len(a["weights"]) == len(b["weights"])
    for x, y in zip(a["weights"], b["weights"]):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)


def test_iteration_mode_with_a_changing_learning_rate(gen, capsys):
    # Warm-up over 7 iterations and a decay from 20 to 30: chunks of one rate, and of one
    # iteration where the rate changes every iteration; displays and evaluations cut chunks too.
    fit = {"max_iter": 41, "display": 6, "eval_interval": 15, "snapshot": 0}
    schedule = {"warmup_steps": 7, "decay_start": 20, "decay_steps": 10, "end_lr": 1e-4}
    compiled = _fit(gen, capsys, True, fit_kwargs=fit, **schedule)
    stepwise = _fit(gen, capsys, False, fit_kwargs=fit, **schedule)
    assert compiled["iteration"] == 41
    _assert_same(compiled, stepwise)


def test_epoch_mode_stops_at_the_end_of_the_data(gen, capsys):
    # 5,000 samples / 256 = 19 full batches and a short one per epoch; the last chunk of an
    # epoch runs dry inside the compiled loop.
    fit = {"num_epochs": 2, "display": 8, "eval_interval": 100, "snapshot": 0}
    compiled = _fit(gen, capsys, True, repeat=False, fit_kwargs=fit)
    stepwise = _fit(gen, capsys, False, repeat=False, fit_kwargs=fit)
    assert compiled["iteration"] == 40 and compiled["eof"]
    _assert_same(compiled, stepwise)


def test_next_stop_is_the_first_point_where_fit_acts():
    assert training._next_stop(0, 10, 25, 0, 100) == 10
    assert training._next_stop(10, 10, 25, 0, 100) == 20
    assert training._next_stop(20, 10, 25, 0, 100) == 25
    assert training._next_stop(20, 10, 25, 7, 100) == 21
    assert training._next_stop(95, 1000, 1000, 0, 97) == 97
    assert training._next_stop(95, 1000, 1000, 0, None) == 1000
