"""Training and evaluation for `Model`: the step functions, `fit`, and the low-level API.

One training iteration: the HugeCTR scheduler gives the learning rate, the step function runs the
forward pass, the loss layer (plus the loss layer's L1/L2 term) and the backward pass; the Keras
optimizer updates the dense weights and each SparseEmbedding updates its own table with its sparse
optimizer during the backward pass.
"""

import time

import numpy as np
import tensorflow as tf

from hugectr_tf.api.enums import Layer_t, MetricsType
from hugectr_tf.api.metrics import exact_auc, hit_rate


def _log(message):
    print(f"[HCTR_TF][{time.strftime('%H:%M:%S')}][INFO]: {message}", flush=True)


class ModelTraining:
    """Mixin of `Model` holding everything that runs batches."""

    def _init_training_state(self):
        self._train_reader = None
        self._eval_reader = None
        self._current_loss = float("nan")
        self._eval_labels = []
        self._eval_preds = []
        self._eval_losses = []
        self._last_eval = (np.zeros(0), np.zeros(0))
        self._dense_frozen = False
        self._iteration = 0

    # --------------------------------------------------------------------------- step functions
    def _build_steps(self):
        model, loss_layer = self._keras_model, self._loss_layer
        scaler = float(self.solver.scaler) if self.solver.use_mixed_precision else 1.0
        for layer in self._embedding_layers:
            layer.gradient_scale = scaler
        train_dense = [] if self._dense_frozen else list(self._dense_weights)
        trained_tables = [layer for layer in self._embedding_layers if layer.trainable]
        embedding_vars = [v for layer in trained_tables for v in layer.trainable_weights]
        sources = train_dense + embedding_vars
        optimizer = self._dense_optimizer
        regularize = self._regularizer()

        def loss_of(features, labels, training):
            logits = model(features, training=training)
            labels = tf.cast(labels, tf.float32)
            loss = tf.cast(loss_layer([tf.cast(logits, tf.float32), labels]), tf.float32)
            return logits, labels, loss

        @tf.function(reduce_retracing=True)
        def train_step(features, labels):
            with tf.GradientTape() as tape:
                logits, _, loss = loss_of(features, labels, True)
                total = loss + regularize(self._dense_weights, tf.shape(logits)[0])
                scaled = total * scaler
            grads = tape.gradient(scaled, sources) if sources else []
            dense_grads = [g / scaler for g in grads[: len(train_dense)]]
            if train_dense:
                optimizer.apply(dense_grads, train_dense)
            return total

        @tf.function(reduce_retracing=True)
        def eval_step(features, labels):
            logits, labels, loss = loss_of(features, labels, False)
            return loss, self._predictions(logits), labels

        self._train_step = train_step
        self._eval_step = eval_step

    def _regularizer(self):
        """The loss layer's L1/L2 term over the dense weights (0 when it has none)."""
        if not self._loss_param.use_regularizer or self._loss_param.lambda_ == 0:
            return lambda weights, batch: 0.0
        return self._loss_layer.regularization

    def _predictions(self, logits):
        logits = tf.cast(logits, tf.float32)
        if self._loss_param.layer_type == Layer_t.CrossEntropyLoss:
            return tf.nn.softmax(logits)[:, -1:]
        return tf.sigmoid(logits)

    def _split(self, batch):
        """(model inputs, labels) of a reader batch."""
        features = {name: batch[name] for name in self._model_inputs}
        return features, batch[self._input.label_name]

    # ------------------------------------------------------------------------ data readers
    def _reader(self, train):
        from hugectr_tf.data import DataReader

        batch = self.solver.batchsize if train else self.solver.batchsize_eval
        # The eval reader makes one pass (its last batch may be short) and is rewound when it runs
        # dry, so an evaluation never counts a sample twice.
        return DataReader(
            self.reader_params,
            self._input,
            batch,
            train=train,
            repeat_dataset=self.solver.repeat_dataset and train,
            i64_input_key=self.solver.i64_input_key,
        )

    def get_data_reader_train(self):
        self._require_compiled("get_data_reader_train")
        if self._train_reader is None:
            self._train_reader = self._reader(train=True)
        return self._train_reader

    def get_data_reader_eval(self):
        self._require_compiled("get_data_reader_eval")
        if self._eval_reader is None:
            self._eval_reader = self._reader(train=False)
        return self._eval_reader

    def start_data_reading(self):
        """Opens both readers (HugeCTR starts its reader threads here; tf.data starts lazily)."""
        self.get_data_reader_train()
        self.get_data_reader_eval()

    def get_learning_rate_scheduler(self):
        return self._lr_scheduler

    def get_model_oversubscriber(self):
        raise RuntimeError(
            "Model oversubscription is not available: hash tables grow in host memory as keys "
            "arrive, so tables larger than a device are trained without it"
        )

    # ------------------------------------------------------------------------ low-level API
    def set_learning_rate(self, lr):
        if not lr > 0:
            raise ValueError(f"`lr` must be positive. Received: lr={lr!r}")
        self._require_compiled("set_learning_rate")
        self._dense_optimizer.learning_rate = float(lr)
        for layer in self._embedding_layers:
            layer.set_learning_rate(float(lr))

    def train(self):
        """Trains on the next batch. Returns False (and trains nothing) at the end of an epoch."""
        batch = self.get_data_reader_train().next_batch()
        if batch is None:
            return False
        self._current_loss = float(self._train_step(*self._split(batch)))
        self._iteration += 1
        return True

    def get_current_loss(self):
        return self._current_loss

    def eval(self):
        """Evaluates the next eval batch into the running metrics. False at the end of the data."""
        batch = self.get_data_reader_eval().next_batch()
        if batch is None:
            return False
        loss, preds, labels = self._eval_step(*self._split(batch))
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
        self._last_eval = (preds, labels)
        self._eval_labels, self._eval_preds, self._eval_losses = [], [], []
        return out

    def export_predictions(self, output_prediction_file_name, output_label_file_name):
        """Writes the predictions and labels of the last evaluation, one value per line."""
        preds, labels = self._last_eval
        if preds.size == 0 and self._eval_preds:
            preds, labels = np.concatenate(self._eval_preds), np.concatenate(self._eval_labels)
        if preds.size == 0:
            raise RuntimeError("export_predictions: run an evaluation (eval or fit) first")
        np.savetxt(output_prediction_file_name, preds, fmt="%.9g")
        np.savetxt(output_label_file_name, labels, fmt="%.9g")

    # --------------------------------------------------------------------------------- fit
    def _evaluate(self):
        """`max_eval_batches` batches; the eval source is rewound when it runs dry (the end of
        the data shows only on the call after the last batch, so that call may start a round)."""
        reader = self.get_data_reader_eval()
        done = 0
        while done < self.solver.max_eval_batches:
            if self.eval():
                done += 1
                continue
            reader.set_source()
            if done > 0 or not self.eval():
                break  # a full pass ended this round (or the source holds no batch at all)
            done += 1
        return self.get_eval_metrics()

    def fit(
        self,
        num_epochs=0,
        max_iter=2000,
        display=200,
        eval_interval=1000,
        snapshot=10000,
        snapshot_prefix="",
    ):
        """Trains in epoch mode (repeat_dataset=False) or iteration mode (max_iter)."""
        self._require_compiled("fit")
        for name, value in (("display", display), ("eval_interval", eval_interval)):
            if not (isinstance(value, int) and value > 0):
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        epoch_mode = not self.solver.repeat_dataset
        if epoch_mode and not (isinstance(num_epochs, int) and num_epochs > 0):
            raise ValueError(
                "epoch mode (repeat_dataset=False) needs `num_epochs` > 0. "
                f"Received: num_epochs={num_epochs!r}"
            )
        if not epoch_mode and not (isinstance(max_iter, int) and max_iter > 0):
            raise ValueError(f"`max_iter` must be positive. Received: max_iter={max_iter!r}")
        auc_goal = self.solver.metrics_spec.get(MetricsType.AUC)
        reader = self.get_data_reader_train()
        started = window = time.time()
        losses = []
        applied_lr = None  # the schedule is mostly flat: assign the rate only when it changes
        epochs = num_epochs if epoch_mode else 1
        for epoch in range(epochs):
            if epoch_mode:
                reader.set_source()
                _log(f"{'-' * 30} Epoch {epoch} {'-' * 30}")
            while epoch_mode or self._iteration < max_iter:
                lr = self._lr_scheduler.get_next()
                if lr != applied_lr:
                    self.set_learning_rate(lr)
                    applied_lr = lr
                if not self.train():
                    break
                losses.append(self._current_loss)
                it = self._iteration
                if it % display == 0:
                    _log(
                        f"Iter: {it} Time({display} iters): {time.time() - window:.3f}s "
                        f"Loss: {np.mean(losses):.6f} lr: {self._lr_scheduler.get_lr():.6g}"
                    )
                    window, losses = time.time(), []
                if snapshot and it % snapshot == 0:
                    self.save_params_to_files(snapshot_prefix, it)
                    _log(f"Dumped model parameters, iter {it}, prefix {snapshot_prefix!r}")
                if it % eval_interval == 0 and self._eval_reached(auc_goal, it):
                    return
        _log(f"Finished {self._iteration} iterations in {time.time() - started:.2f}s")

    def _eval_reached(self, auc_goal, it):
        metrics = self._evaluate()
        _log(f"Evaluation, Iter: {it} " + ", ".join(f"{k}: {v:.6f}" for k, v in metrics))
        auc = dict(metrics).get("AUC")
        if auc_goal is not None and auc is not None and auc_goal < 1.0 and auc >= auc_goal:
            _log(f"Hit target AUC {auc_goal} at iteration {it} with AUC {auc:.6f}; stop training")
            return True
        return False

    # ------------------------------------------------------------------------ freeze/unfreeze
    def freeze_dense(self):
        self._dense_frozen = True
        self._rebuild_if_compiled()

    def unfreeze_dense(self):
        self._dense_frozen = False
        self._rebuild_if_compiled()

    def freeze_embedding(self):
        for layer in self._embedding_layers:
            layer.trainable = False
        self._rebuild_if_compiled()

    def unfreeze_embedding(self):
        for layer in self._embedding_layers:
            layer.trainable = True
        self._rebuild_if_compiled()

    def _rebuild_if_compiled(self):
        if self._keras_model is not None:
            self._build_steps()

    def reset_learning_rate_scheduler(
        self, base_lr, warmup_steps=1, decay_start=0, decay_steps=1, decay_power=2.0, end_lr=0.0
    ):
        from hugectr_tf.api.lr_scheduler import LearningRateScheduler

        self._lr_scheduler = LearningRateScheduler(
            base_lr, warmup_steps, decay_start, decay_steps, decay_power, end_lr
        )

    def set_source(self, source, eval_source):
        """Epoch mode: point the train and eval readers at new sources."""
        if self.solver.repeat_dataset:
            raise RuntimeError("Model.set_source is for epoch mode (repeat_dataset=False)")
        sources = [source] if isinstance(source, str) else list(source)
        if len(sources) != 1:
            raise ValueError(
                "Model.set_source takes one training source without model oversubscription. "
                f"Received: source={source!r}"
            )
        self.reader_params.source = sources
        self.reader_params.eval_source = eval_source
        if self._train_reader is not None:
            self._train_reader.set_source(sources[0])
        if self._eval_reader is not None:
            self._eval_reader.set_source(eval_source)
