"""Model.fit's history (CSV, TensorBoard events, the demo's plot) and HugeCTR's log layout.

The layout is HugeCTR 3.1's (`MESSAGE_` in HugeCTR/include/common.hpp, `Model::fit` in
HugeCTR/src/pybind/model.cpp): the line formats below are written from that source, and the
fields are read back as public HugeCTR log parsers read them (split on spaces, field positions).
"""

import csv
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from model_builders import SLOT_SIZES, add_dcn, make_model

from hugectr_tf.api import history as hist
from hugectr_tf.api.log import prefix
from hugectr_tf.examples.dcn_demo import plot_history
from hugectr_tf.tools import DataGenerator

# MESSAGE_: "[" %02d day "d" %02d hour "h" %02d min "m" %02d sec "s" "][HUGECTR][INFO]: " msg
PREFIX = r"\[\d{2}d\d{2}h\d{2}m\d{2}s\]\[HUGECTR\]\[INFO\]: "
# std::to_string(float) prints "%f": digits, a point, six decimals.
F = r"-?\d+\.\d{6}"
ITER = re.compile(PREFIX + rf"Iter: (\d+) Time\((\d+) iters\): ({F})s Loss: ({F}) lr:({F})$")
EVAL = re.compile(PREFIX + rf"Evaluation, (AUC|AverageLoss|HitRate): ({F})$")
EVAL_TIME = re.compile(PREFIX + rf"Eval Time for (\d+) iters: ({F})s$")


def test_line_formats_match_hugectr():
    now = time.mktime((2026, 11, 3, 4, 5, 6, 0, 0, -1))
    assert prefix(now) == "[03d04h05m06s][HUGECTR][INFO]: "
    # A line of a real HugeCTR 3.1 log, rebuilt from its values.
    line = prefix(now) + hist.iter_line(200, 100, 2.2034409, 0.4752881, 0.001)
    assert line.endswith("Iter: 200 Time(100 iters): 2.203441s Loss: 0.475288 lr:0.001000")
    assert ITER.match(line)
    assert hist.eval_line("AUC", 0.4844512) == "Evaluation, AUC: 0.484451"
    assert hist.eval_time_line(49, 3.9172151) == "Eval Time for 49 iters: 3.917215s"


def parse_like_hugectr_log_tools(lines):
    """Fields by position, as scripts written for HugeCTR logs read them."""
    iters, aucs = [], []
    for line in lines:
        ss = line.split(" ")
        if len(ss) < 3:
            continue
        if ss[1] == "Iter:":
            iters.append((int(ss[2]), int(ss[3].split("(")[1]), float(ss[5][:-1]), float(ss[7])))
        elif ss[2] == "AUC:":
            aucs.append(float(ss[3]))
    return iters, aucs


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    gen = DataGenerator(
        tmp_path_factory.mktemp("data"),
        "Norm",
        num_train_samples=12_000,
        num_eval_samples=2_000,
        num_files=2,
        dense_dim=4,
        slot_size_array=SLOT_SIZES,
        seed=5,
    ).generate()
    model, opt = make_model(gen, batchsize=256)
    add_dcn(model, opt, gen)
    model.compile()
    return model


def test_fit_logs_hugectr_lines_and_returns_the_history(fitted, capsys):
    history = fitted.fit(max_iter=40, display=10, eval_interval=20, snapshot=0)
    lines = capsys.readouterr().out.splitlines()
    iter_lines = [m for m in map(ITER.match, lines) if m]
    eval_lines = [m for m in map(EVAL.match, lines) if m]
    assert len(iter_lines) == 4 and len(eval_lines) == 2  # AUC (HugeCTR's default metric)
    assert len([m for m in map(EVAL_TIME.match, lines) if m]) == 2

    assert [r["iteration"] for r in history.train] == [10, 20, 30, 40]
    assert [r["iteration"] for r in history.evaluations] == [20, 40]
    iters, aucs = parse_like_hugectr_log_tools(lines)
    assert [i[0] for i in iters] == [10, 20, 30, 40] and {i[1] for i in iters} == {10}
    np.testing.assert_allclose([i[3] for i in iters], history.series("loss")[1], atol=5e-7)
    np.testing.assert_allclose([i[2] for i in iters], [r["seconds"] for r in history.train],
                               atol=5e-7)  # fmt: skip
    np.testing.assert_allclose(aucs, history.series("AUC")[1], atol=5e-7)
    assert all(0.5 < a <= 1 for a in aucs)
    lrs = [float(m.group(5)) for m in iter_lines]
    np.testing.assert_allclose(lrs, history.series("lr")[1], atol=5e-7)
    assert history.metric_names() == ["AUC"]


def test_history_writes_csv_and_tensorboard_events(fitted, tmp_path):
    history = fitted.fit(max_iter=fitted.iteration + 20, display=10, eval_interval=20, snapshot=0)
    path = history.to_csv(tmp_path / "history.csv")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["iteration", "loss", "mean_loss", "lr", "AUC"]
    assert [int(r["iteration"]) for r in rows] == [r["iteration"] for r in history.train]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], history.series("loss")[1])
    assert rows[0]["AUC"] == "" and float(rows[1]["AUC"]) == history.evaluations[0]["AUC"]

    logdir = history.write_tensorboard(tmp_path / "tb")
    events = {}
    for event_file in tf.io.gfile.glob(str(logdir / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            for value in event.summary.value:
                assert value.metadata.plugin_data.plugin_name == "scalars"
                scalar = tf.make_ndarray(value.tensor).item()
                events.setdefault(value.tag, []).append((event.step, scalar))
    assert set(events) == {"loss", "mean_loss", "lr", "eval/AUC"}
    steps, losses = history.series("loss")
    assert [s for s, _ in events["loss"]] == steps
    np.testing.assert_allclose([v for _, v in events["loss"]], losses, rtol=1e-6)
    np.testing.assert_allclose([v for _, v in events["eval/AUC"]], history.series("AUC")[1])


def test_tensorboard_reads_the_event_files(fitted, tmp_path):
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="tensorboard is optional: install it to check that TensorBoard reads the files",
    )
    history = fitted.fit(max_iter=fitted.iteration + 10, display=10, eval_interval=10, snapshot=0)
    acc = accumulator.EventAccumulator(str(history.write_tensorboard(tmp_path / "tb")))
    acc.Reload()
    assert "loss" in acc.Tags()["tensors"] and "eval/AUC" in acc.Tags()["tensors"]


def test_demo_plot_is_a_png_or_a_note_without_matplotlib(fitted, tmp_path, monkeypatch, capsys):
    history = fitted.fit(max_iter=fitted.iteration + 20, display=10, eval_interval=10, snapshot=0)
    try:
        import matplotlib  # noqa: F401

        path = plot_history(history, str(tmp_path / "curves.png"))
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    except ImportError:
        pass
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert plot_history(history, str(tmp_path / "none.png")) is None
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "none.png").exists()
