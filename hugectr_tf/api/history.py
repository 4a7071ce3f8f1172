"""`Model.fit`'s history and HugeCTR's log layout.

Log lines follow HugeCTR 3.1 byte for byte (its `MESSAGE_` helper in HugeCTR/include/common.hpp
and `Model::fit` in HugeCTR/src/pybind/model.cpp), so scripts that parse HugeCTR logs read ours:

    [30d16h06m36s][HUGECTR][INFO]: Iter: 200 Time(200 iters): 2.203441s Loss: 0.475288 lr:0.001000
    [30d16h06m40s][HUGECTR][INFO]: Evaluation, AUC: 0.773049
    [30d16h06m40s][HUGECTR][INFO]: Eval Time for 49 iters: 3.917215s

The prefix (`api/log.py`) is day of month, hour, minute and second, each two digits; numbers are
printed as C++'s `std::to_string` prints them (`%f`: six decimals; integers plain).

`FitHistory` keeps what those lines say (the loss of each display interval with its rate and
time, the metrics of each evaluation) and writes it as a CSV file or TensorBoard event files.
TensorBoard files are written with TensorFlow's own summary writer (`tf.summary.write` with the
scalars plugin's metadata), so the `tensorboard` package is needed only to view them.
"""

import csv
import os

import tensorflow as tf
from tensorflow.core.framework import summary_pb2


def iter_line(iteration, display, seconds, loss, lr):
    return f"Iter: {iteration} Time({display} iters): {seconds:f}s Loss: {loss:f} lr:{lr:f}"


def eval_line(name, value):
    return f"Evaluation, {name}: {value:f}"


def eval_time_line(batches, seconds):
    return f"Eval Time for {batches} iters: {seconds:f}s"


def _scalar_metadata():
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"  # what TensorBoard's scalar dashboard reads
    return metadata


class FitHistory:
    """What one or more `Model.fit` calls logged.

    Attributes:
        train: List of dicts, one per display interval: iteration, loss (the current
            iteration's, as HugeCTR's log line), mean_loss (over the interval), lr, seconds.
        evaluations: List of dicts, one per evaluation: iteration, seconds, and each metric
            by its HugeCTR name ("AUC", "AverageLoss", "HitRate").
    """

    def __init__(self):
        self.train = []
        self.evaluations = []

    def record_train(self, iteration, loss, lr, seconds, mean_loss):
        self.train.append(
            {
                "iteration": int(iteration),
                "loss": float(loss),
                "mean_loss": float(mean_loss),
                "lr": float(lr),
                "seconds": float(seconds),
            }
        )

    def record_evaluation(self, iteration, metrics, seconds):
        row = {"iteration": int(iteration), "seconds": float(seconds)}
        row.update({name: float(value) for name, value in metrics})
        self.evaluations.append(row)

    def metric_names(self):
        names = []
        for row in self.evaluations:
            names += [k for k in row if k not in ("iteration", "seconds") and k not in names]
        return names

    def series(self, name):
        """(iterations, values) of "loss", "mean_loss", "lr" or a metric such as "AUC"."""
        rows = self.train if name in ("loss", "mean_loss", "lr") else self.evaluations
        points = [(r["iteration"], r[name]) for r in rows if name in r]
        return [p[0] for p in points], [p[1] for p in points]

    def to_csv(self, path):
        """One row per iteration that logged something: iteration, loss, mean_loss, lr, then the
        metrics (empty where that iteration logged none of them)."""
        metrics = self.metric_names()
        rows = {}
        for r in self.train:
            rows.setdefault(r["iteration"], {}).update(
                loss=r["loss"], mean_loss=r["mean_loss"], lr=r["lr"]
            )
        for r in self.evaluations:
            rows.setdefault(r["iteration"], {}).update({m: r[m] for m in metrics if m in r})
        columns = ["iteration", "loss", "mean_loss", "lr", *metrics]
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for it in sorted(rows):
                writer.writerow([it] + [rows[it].get(c, "") for c in columns[1:]])
        return path

    def write_tensorboard(self, logdir):
        """Event files under `logdir`: scalars "loss", "mean_loss", "lr" and "eval/<metric>"."""
        os.makedirs(logdir, exist_ok=True)
        writer = tf.summary.create_file_writer(str(logdir))
        metadata = _scalar_metadata()
        with writer.as_default():
            for r in self.train:
                for tag in ("loss", "mean_loss", "lr"):
                    tf.summary.write(tag, tf.constant(r[tag], tf.float32), r["iteration"], metadata)
            for r in self.evaluations:
                for name in self.metric_names():
                    if name in r:
                        value = tf.constant(r[name], tf.float32)
                        tf.summary.write(f"eval/{name}", value, r["iteration"], metadata)
        writer.flush()
        writer.close()
        return logdir
