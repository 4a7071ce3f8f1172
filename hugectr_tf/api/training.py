"""`Trainer`: the step functions, the readers, evaluation metrics and `fit` of a compiled Model.

One training iteration: the HugeCTR scheduler gives the learning rate, the step function runs the
forward pass, the loss layer (plus the loss layer's L1/L2 term) and the backward pass; the Keras
optimizer updates the dense weights (Adam through one fused op where that is exact,
`optimizers.fused_apply`) and each SparseEmbedding updates its own table with its sparse
optimizer during the backward pass.

`fit` on one device runs the iterations between two points where it has to act in Python (a
display, an evaluation, a snapshot, `max_iter`, a change of the learning rate) as one call of a
compiled loop that reads its batches from the reader's iterator itself, as Keras'
`steps_per_execution` does: the same steps in the same order, without a Python round trip, a batch
conversion and a loss read per iteration.
"""

import time

import numpy as np
import tensorflow as tf

from hugectr_tf import distributed
from hugectr_tf.api.history import FitHistory, eval_line, eval_time_line, iter_line
from hugectr_tf.api.log import log
from hugectr_tf.api.metrics import exact_auc, hit_rate
from hugectr_tf.api.optimizers import fused_apply
from hugectr_tf.config import MetricsType
from hugectr_tf.data import DataReader
from hugectr_tf.keras.split_step import SplitNetwork


class Trainer:
    """Runs batches through a `Network` as HugeCTR's training and evaluation loops do.

    Args:
        solver: `Solver` (batch sizes, metrics, mixed precision, repeat_dataset).
        reader_params: `DataReaderParams` of both readers.
        network: `Network` to train.
        dense_frozen: Boolean. Train the tables only (`Model.freeze_dense`).
        strategy: None (one device) or the tf.distribute strategy the network was built in:
            each step then runs on the replicas, each on its share of the global batch.
        jit_compile: Boolean. Compile the dense network of each step with XLA, the embedding
            lookups and sparse updates running outside it (hugectr_tf/keras/split_step.py).
            One device only.
    """

    def __init__(
        self, solver, reader_params, network, dense_frozen=False, strategy=None, jit_compile=False
    ):
        if jit_compile and strategy is not None:
            raise ValueError(
                "`jit_compile=True` runs on one device: the XLA split step does not run under a "
                f"tf.distribute strategy. Received: jit_compile=True with vvgpu of "
                f"{strategy.num_replicas_in_sync} devices"
            )
        self.solver = solver
        self.strategy = strategy
        self.jit_compile = bool(jit_compile)
        self.reader_params = reader_params
        self.network = network
        self.iteration = 0
        self.current_loss = float("nan")
        self.dense_frozen = dense_frozen
        self.last_evaluation = (np.zeros(0), np.zeros(0))  # (predictions, labels)
        self._train_reader = None
        self._eval_reader = None
        self._eval_labels, self._eval_preds, self._eval_losses = [], [], []
        self.build_steps()

    # --------------------------------------------------------------------------- step functions
    def build_steps(self):
        """(Re)traces the step functions; freezing changes which weights they train."""
        network = self.network
        scaler = float(self.solver.scaler) if self.solver.use_mixed_precision else 1.0
        for layer in network.embedding_layers:
            layer.gradient_scale = scaler
        train_dense = [] if self.dense_frozen else list(network.dense_weights)
        trained_tables = [layer for layer in network.embedding_layers if layer.trainable]
        embedding_vars = [v for layer in trained_tables for v in layer.trainable_weights]
        sources = train_dense + embedding_vars
        optimizer = network.dense_optimizer
        self._train_steps = None  # the compiled loop of `fit` (one device, no XLA split)
        if self.jit_compile:
            self._train_step, self._eval_step = _split_steps(
                network, train_dense, optimizer, scaler
            )
            return

        strategy = self.strategy

        def train_replica(features, labels, global_batch, weight):
            # `weight` is this replica's share of the global batch (1.0 on one device): the
            # replicas' weighted losses add up to the global batch's loss, and the optimizer
            # sums their gradients (docs/distributed.md).
            with tf.GradientTape() as tape:
                logits, _, loss = network.loss(features, labels, True)
                total = loss + network.regularization(global_batch)
                total = tf.math.multiply_no_nan(total, weight)
                scaled = total * scaler
            grads = tape.gradient(scaled, sources) if sources else []
            dense_grads = [g / scaler for g in grads[: len(train_dense)]]
            if train_dense and strategy is None:
                fused_apply(optimizer, train_dense)(dense_grads)  # decided when traced
            elif train_dense:
                optimizer.apply(dense_grads, train_dense)  # all-reduces the replicas' gradients
            return total

        def eval_replica(features, labels, global_batch, weight):
            logits, labels, loss = network.loss(features, labels, False)
            return tf.math.multiply_no_nan(loss, weight), network.probabilities(logits), labels

        @tf.function(reduce_retracing=True)
        def train_step(features, labels):
            if strategy is None:
                return train_replica(features, labels, tf.shape(labels)[0], 1.0)
            totals = distributed.run_on_shares(strategy, train_replica, features, labels)
            return strategy.reduce(tf.distribute.ReduceOp.SUM, totals, axis=None)

        @tf.function(reduce_retracing=True)
        def eval_step(features, labels):
            if strategy is None:
                return eval_replica(features, labels, tf.shape(labels)[0], 1.0)
            loss, probs, labels = distributed.run_on_shares(
                strategy, eval_replica, features, labels
            )
            return (
                strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.gather(probs, axis=0),
                strategy.gather(labels, axis=0),
            )

        @tf.function(reduce_retracing=True)
        def train_steps(iterator, count):
            # Up to `count` steps on the iterator's next batches; their losses (fewer at the end
            # of the data).
            losses = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
            for i in tf.range(count):
                batch = iterator.get_next_as_optional()
                if not batch.has_value():
                    break
                features, labels = network.split(batch.get_value())
                total = train_replica(features, labels, tf.shape(labels)[0], 1.0)
                losses = losses.write(i, tf.cast(total, tf.float32))
            return losses.stack()

        self._train_step = train_step
        self._eval_step = eval_step
        if strategy is None:
            self._train_steps = train_steps

    def train_on_batch(self, batch):
        """One training step on a reader batch dict; returns the loss (float)."""
        self.current_loss = float(self._train_step(*self.network.split(batch)))
        self.iteration += 1
        return self.current_loss

    # ------------------------------------------------------------------------ data readers
    def _reader(self, train):
        batch = self.solver.batchsize if train else self.solver.batchsize_eval
        # The eval reader makes one pass (its last batch may be short) and is rewound when it runs
        # dry, so an evaluation never counts a sample twice.
        return DataReader(
            self.reader_params,
            self.network.input,
            batch,
            train=train,
            repeat_dataset=self.solver.repeat_dataset and train,
            i64_input_key=self.solver.i64_input_key,
        )

    def train_reader(self):
        if self._train_reader is None:
            self._train_reader = self._reader(train=True)
        return self._train_reader

    def eval_reader(self):
        if self._eval_reader is None:
            self._eval_reader = self._reader(train=False)
        return self._eval_reader

    def set_sources(self, source, eval_source):
        """Points the readers that exist at new sources (the others read them when opened)."""
        if self._train_reader is not None:
            self._train_reader.set_source(source)
        if self._eval_reader is not None:
            self._eval_reader.set_source(eval_source)

    # ------------------------------------------------------------------------ low-level API
    def set_learning_rate(self, lr):
        if not lr > 0:
            raise ValueError(f"`lr` must be positive. Received: lr={lr!r}")
        self.network.dense_optimizer.learning_rate = float(lr)
        for layer in self.network.embedding_layers:
            layer.set_learning_rate(float(lr))

    def train(self):
        """Trains on the next batch. Returns False (and trains nothing) at the end of an epoch."""
        batch = self.train_reader().next_batch()
        if batch is None:
            return False
        self.train_on_batch(batch)
        return True

    def eval(self):
        """Evaluates the next eval batch into the running metrics.

        With `repeat_dataset=True` the eval reader loops, as HugeCTR's does: the call after the
        last batch of a pass starts the next pass (so HugeCTR's `for _ in range(n): eval()` after
        `fit` reads data). Returns False at the end of the data in epoch mode, or when the eval
        source holds no batch at all.
        """
        reader = self.eval_reader()
        batch = reader.next_batch()
        if batch is None and self.solver.repeat_dataset:
            reader.set_source()
            batch = reader.next_batch()
        return batch is not None and self._evaluate_batch(batch)

    def _evaluate_batch(self, batch):
        loss, preds, labels = self._eval_step(*self.network.split(batch))
        self._eval_losses.append(float(loss))
        self._eval_preds.append(preds.numpy().reshape(-1))
        self._eval_labels.append(labels.numpy()[:, : preds.shape[1]].reshape(-1))
        return True

    def get_eval_metrics(self):
        """[(name, value)] over the batches evaluated since the last call, as HugeCTR returns."""
        labels = np.concatenate(self._eval_labels) if self._eval_labels else np.zeros(0)
        preds = np.concatenate(self._eval_preds) if self._eval_preds else np.zeros(0)
        out = []
        for metric in self.solver.metrics_spec:
            if metric == MetricsType.AUC:
                value = exact_auc(labels, preds) if labels.size else float("nan")
            elif metric == MetricsType.AverageLoss:
                value = float(np.mean(self._eval_losses)) if self._eval_losses else float("nan")
            else:
                value = hit_rate(labels, preds)
            out.append((metric.value, value))
        self.last_evaluation = (preds, labels)
        self._eval_labels, self._eval_preds, self._eval_losses = [], [], []
        return out

    def export_predictions(self, output_prediction_file_name, output_label_file_name):
        """Writes the predictions and labels of the last evaluation, one value per line."""
        preds, labels = self.last_evaluation
        if preds.size == 0 and self._eval_preds:
            preds, labels = np.concatenate(self._eval_preds), np.concatenate(self._eval_labels)
        if preds.size == 0:
            raise RuntimeError("export_predictions: run an evaluation (eval or fit) first")
        np.savetxt(output_prediction_file_name, preds, fmt="%.9g")
        np.savetxt(output_label_file_name, labels, fmt="%.9g")

    # --------------------------------------------------------------------------------- fit
    def evaluate(self):
        """`max_eval_batches` batches; the eval source is rewound when it runs dry (the end of
        the data shows only on the call after the last batch, so that call may start a round)."""
        reader = self.eval_reader()
        done = 0
        while done < self.solver.max_eval_batches:
            batch = reader.next_batch()
            if batch is None:
                reader.set_source()
                if done > 0 or (batch := reader.next_batch()) is None:
                    break  # a full pass ended this round (or the source holds no batch at all)
            self._evaluate_batch(batch)
            done += 1
        return self.get_eval_metrics()

    def fit(
        self,
        scheduler,
        snapshot_fn,
        *,
        num_epochs,
        max_iter,
        display,
        eval_interval,
        snapshot,
        snapshot_prefix,
    ):
        """Trains in epoch mode (repeat_dataset=False) or iteration mode (max_iter).

        Logs in HugeCTR's layout (hugectr_tf.api.history) and returns the `FitHistory`.

        Args:
            scheduler: `LearningRateScheduler` giving each iteration's rate.
            snapshot_fn: Callable(prefix, iteration) saving the parameters.
            num_epochs, max_iter, display, eval_interval, snapshot, snapshot_prefix: As
                `Model.fit`.
        """
        for name, value in (("display", display), ("eval_interval", eval_interval)):
            if not (isinstance(value, int) and value > 0):
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if isinstance(snapshot, bool) or not isinstance(snapshot, int) or snapshot < 0:
            raise ValueError(
                "`snapshot` must be a non-negative integer (0: no snapshots). "
                f"Received: snapshot={snapshot!r}"
            )
        epoch_mode = not self.solver.repeat_dataset
        if epoch_mode and not (isinstance(num_epochs, int) and num_epochs > 0):
            raise ValueError(
                "epoch mode (repeat_dataset=False) needs `num_epochs` > 0. "
                f"Received: num_epochs={num_epochs!r}"
            )
        if not epoch_mode and not (isinstance(max_iter, int) and max_iter > 0):
            raise ValueError(f"`max_iter` must be positive. Received: max_iter={max_iter!r}")
        auc_goal = self.solver.metrics_spec.get(MetricsType.AUC)
        reader = self.train_reader()
        started = window = time.time()
        losses = []
        history = FitHistory()
        applied_lr = None  # the schedule is mostly flat: assign the rate only when it changes
        for epoch in range(num_epochs if epoch_mode else 1):
            if epoch_mode:
                reader.set_source()
                log(f"{'-' * 35}Epoch {epoch}{'-' * 35}")  # HugeCTR's separator
            while epoch_mode or self.iteration < max_iter:
                if self._train_steps is not None and hasattr(scheduler, "rate_at"):
                    stop = _next_stop(
                        self.iteration,
                        display,
                        eval_interval,
                        snapshot,
                        None if epoch_mode else max_iter,
                    )
                    trained, applied_lr, more = self._train_iterations(scheduler, stop, applied_lr)
                    losses.extend(trained)
                    if not more:
                        break  # the end of the data (epoch mode), after the steps it held
                else:
                    lr = scheduler.get_next()
                    if lr != applied_lr:
                        self.set_learning_rate(lr)
                        applied_lr = lr
                    if not self.train():
                        break
                    losses.append(self.current_loss)
                it = self.iteration
                if it % display == 0:
                    # HugeCTR logs the loss of the current iteration; the history also keeps
                    # the interval's mean.
                    seconds, lr = time.time() - window, scheduler.get_lr()
                    log(iter_line(it, display, seconds, self.current_loss, lr))
                    history.record_train(it, self.current_loss, lr, seconds, np.mean(losses))
                    window, losses = time.time(), []
                if snapshot and it % snapshot == 0:
                    snapshot_fn(snapshot_prefix, it)
                    log(f"Dumped model parameters, iter {it}, prefix {snapshot_prefix!r}")
                if it % eval_interval == 0 and self.evaluate_and_log(it, history, auc_goal):
                    return history
        log(f"Finished {self.iteration} iterations in {time.time() - started:.2f}s")
        return history

    def _train_iterations(self, scheduler, stop, applied_lr):
        """Trains the iterations up to `stop` that share the next learning rate, as one call of
        the compiled loop. Returns (their losses, the rate applied, False when the data ended
        first: the steps before its end ran and count). The scheduler advances as the one-step
        loop advances it: once per iteration, and once more for the failed read."""
        lr = scheduler.rate_at(scheduler.step + 1)
        count = 1
        while (
            count < min(stop - self.iteration, _MAX_STEPS_PER_CALL)
            and scheduler.rate_at(scheduler.step + count + 1) == lr
        ):
            count += 1
        if lr != applied_lr:
            self.set_learning_rate(lr)
        reader = self.train_reader()
        iterator = reader.tf_iterator()
        losses = []
        if iterator is not None:
            losses = self._train_steps(iterator, tf.constant(count)).numpy().tolist()
        ended = len(losses) < count
        if ended:
            reader.mark_eof()
        for _ in range(len(losses) + ended):
            scheduler.get_next()
        self.iteration += len(losses)
        if losses:
            self.current_loss = losses[-1]
        return losses, lr, not ended

    def evaluate_and_log(self, it, history, auc_goal=None):
        """Evaluates, logs HugeCTR's evaluation lines and records them in `history`; True when
        the AUC reached `auc_goal` (a threshold below 1.0; None never stops)."""
        started = time.time()
        metrics = self.evaluate()
        seconds = time.time() - started
        for name, value in metrics:
            log(eval_line(name, value))
        log(eval_time_line(self.solver.max_eval_batches, seconds))
        history.record_evaluation(it, metrics, seconds)
        auc = dict(metrics).get("AUC")
        if auc_goal is not None and auc is not None and auc_goal < 1.0 and auc >= auc_goal:
            log(f"Hit target AUC {auc_goal} at iteration {it} with AUC {auc:.6f}; stop training")
            return True
        return False


# Iterations per call of the compiled training loop at most, so that an interrupt or a long
# `max_iter` without displays still returns to Python now and then.
_MAX_STEPS_PER_CALL = 1000


def _next_stop(iteration, display, eval_interval, snapshot, max_iter):
    """The first iteration after `iteration` at which `fit` acts in Python."""
    stops = [(iteration // k + 1) * k for k in (display, eval_interval, snapshot) if k]
    if max_iter is not None:
        stops.append(max_iter)
    return min(stops)


def _split_steps(network, train_dense, optimizer, scaler):
    """Train and eval steps whose dense part XLA compiles, the lookups and sparse updates running
    outside it (the split step of hugectr_tf/keras/split_step.py); same math as the unsplit
    steps of `Trainer.build_steps`."""
    split = SplitNetwork(network.keras_model)
    count = len(train_dense)

    @tf.function(jit_compile=True, reduce_retracing=True)
    def dense_train(dense, embeddings, labels):
        with tf.GradientTape() as tape:
            tape.watch(embeddings)
            logits = split.dense_model(dense + embeddings, training=True)
            _, _, loss = network.loss_of_logits(logits, labels)
            total = loss + network.regularization(tf.shape(logits)[0])
            scaled = total * scaler
        grads = tape.gradient(scaled, train_dense + embeddings)
        if train_dense:
            optimizer.apply([g / scaler for g in grads[:count]], train_dense)
        return total, grads[count:]

    @tf.function(reduce_retracing=True)
    def train_step(features, labels):
        with tf.GradientTape() as tape:
            embeddings = split.lookups(features, training=True)
        total, embedding_grads = dense_train(split.dense_inputs(features), embeddings, labels)
        split.apply_sparse_updates(tape, embeddings, embedding_grads)
        return total

    @tf.function(jit_compile=True, reduce_retracing=True)
    def dense_eval(dense, embeddings, labels):
        logits = split.dense_model(dense + embeddings, training=False)
        logits, labels, loss = network.loss_of_logits(logits, labels)
        return loss, network.probabilities(logits), labels

    @tf.function(reduce_retracing=True)
    def eval_step(features, labels):
        embeddings = split.lookups(features, training=False)
        return dense_eval(split.dense_inputs(features), embeddings, labels)

    return train_step, eval_step
