"""HugeCTR-style training scripts run end to end through hugectr_tf on generated data.

The generator plants a logistic model, so each test knows the best achievable AUC. Sizes are
small (8 slots, tens of thousands of samples) to keep the suite fast on two cores.
"""

import numpy as np
import pytest
import tensorflow as tf
from model_builders import (
    SLOT_SIZES,
    add_dcn,
    add_deepfm,
    add_dlrm,
    add_wide_and_deep,
    make_model,
)
from sklearn.metrics import roc_auc_score

import hugectr_tf as hugectr
from hugectr_tf.data import dataset_from_params
from hugectr_tf.examples.keras_reference import build_keras_dcn
from hugectr_tf.tools import DataGenerator


def _generate(folder, kind="Norm", train=60_000, evaluation=20_000, **kwargs):
    return DataGenerator(
        folder,
        kind,
        num_train_samples=train,
        num_eval_samples=evaluation,
        num_files=3,
        dense_dim=4,
        slot_size_array=SLOT_SIZES,
        power_law_alpha=0.8,
        signal=1.5,
        seed=11,
        **kwargs,
    ).generate()


@pytest.fixture(scope="module")
def norm_data(tmp_path_factory):
    return _generate(tmp_path_factory.mktemp("norm"))


def _evaluate(model, batches):
    for _ in range(batches):
        if not model.eval():
            break
    return dict(model.get_eval_metrics())


def _eval_batches(gen, batchsize=256):
    return -(-gen.num_eval_samples // batchsize)


def _trained_dcn(gen, iterations=470, dropout_rate=0.1, **kwargs):
    model, opt = make_model(gen, **kwargs)
    add_dcn(model, opt, gen, dropout_rate=dropout_rate)
    model.compile()
    model.fit(max_iter=iterations, display=10_000, eval_interval=10_000, snapshot=0)
    return model


def test_dcn_reaches_the_optimum_and_matches_plain_keras(norm_data, tmp_path):
    gen = norm_data
    model = _trained_dcn(gen)  # 470 x 256 = 2 epochs of 60k samples
    auc = _evaluate(model, _eval_batches(gen))["AUC"]

    # AUC equals sklearn's on the exported predictions.
    model.export_predictions(str(tmp_path / "pred.txt"), str(tmp_path / "label.txt"))
    preds, labels = np.loadtxt(tmp_path / "pred.txt"), np.loadtxt(tmp_path / "label.txt")
    assert preds.size == gen.num_eval_samples
    assert abs(roc_auc_score(labels, preds) - auc) < 1e-6

    # The same architecture in plain Keras, same data through the same reader, same steps.
    keras_model = build_keras_dcn(
        gen.dense_dim, len(SLOT_SIZES), 8, sum(SLOT_SIZES), num_cross_layers=2,
        hidden_units=(64,), dropout_rate=0.1,
    )  # fmt: skip
    keras_model.compile(
        optimizer=tf.keras.optimizers.Adam(0.005),
        loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
    )

    def pairs(train):
        ds = dataset_from_params(gen.reader_params(), gen.input(), 256, train=train, repeat=train)
        return ds.map(lambda b: ({k: b[k] for k in ("dense", "data1")}, b["label"]))

    keras_model.fit(pairs(True), steps_per_epoch=470, epochs=1, verbose=0)
    k_preds, k_labels = [], []
    for x, y in pairs(False):
        k_preds.append(tf.sigmoid(keras_model(x, training=False)).numpy().ravel())
        k_labels.append(y.numpy().ravel())
    keras_auc = roc_auc_score(np.concatenate(k_labels), np.concatenate(k_preds))

    print(f"hugectr_tf DCN AUC {auc:.4f}, plain Keras {keras_auc:.4f}, best {gen.bayes_auc:.4f}")
    assert auc >= gen.bayes_auc - 0.02
    assert auc >= keras_auc - 0.005


@pytest.mark.parametrize("builder", [add_wide_and_deep, add_deepfm, add_dlrm])
def test_sample_networks_learn(norm_data, builder):
    gen = norm_data
    model, opt = make_model(gen)
    builder(model, opt, gen)
    model.compile()
    first = None
    for i in range(240):
        model.set_learning_rate(model.get_learning_rate_scheduler().get_next())
        assert model.train()
        if i == 0:
            first = model.get_current_loss()
    assert model.get_current_loss() < first
    auc = _evaluate(model, _eval_batches(gen))["AUC"]
    assert auc >= gen.bayes_auc - 0.05, f"{builder.__name__}: {auc} vs best {gen.bayes_auc}"


@pytest.mark.parametrize("kind", ["Raw", "Parquet"])
def test_dcn_on_raw_and_parquet(tmp_path, kind):
    gen = _generate(tmp_path, kind, train=40_000, evaluation=10_000)
    model, opt = make_model(gen)
    # Raw holds per-slot ids that the OneHot table offsets itself (as HugeCTR's Raw samples do);
    # the Parquet reader already offsets keys by slot_size_array, so a hash table takes them.
    onehot = hugectr.Embedding_t.LocalizedSlotSparseEmbeddingOneHot
    add_dcn(model, opt, gen, embedding_type=onehot if kind == "Raw" else None)
    model.compile()
    model.fit(max_iter=300, display=10_000, eval_interval=10_000, snapshot=0)
    auc = _evaluate(model, _eval_batches(gen))["AUC"]
    assert auc >= gen.bayes_auc - 0.04, f"{kind}: {auc} vs best {gen.bayes_auc}"


def test_save_load_gives_identical_predictions(norm_data, tmp_path):
    gen = norm_data
    model = _trained_dcn(gen, iterations=40, dropout_rate=0.0)  # no random masks: exact losses
    model.graph_to_json(str(tmp_path / "dcn.json"))
    names = model.save_params_to_files(str(tmp_path / "dcn"), 40)

    fresh, _ = make_model(gen)
    fresh.construct_from_json(str(tmp_path / "dcn.json"), include_dense_network=True)
    fresh.compile()
    assert fresh.summary_text() == model.summary_text()
    fresh.load_dense_weights(names["dense"])
    fresh.load_dense_optimizer_states(names["opt_dense"])
    fresh.load_sparse_weights(names["sparse"])
    fresh.load_sparse_optimizer_states(names["opt_sparse"])

    batch = next(iter(dataset_from_params(gen.reader_params(), gen.input(), 512, train=False)))
    features = {k: batch[k] for k in ("dense", "data1")}
    np.testing.assert_array_equal(
        fresh.keras_model(features, training=False).numpy(),
        model.keras_model(features, training=False).numpy(),
    )
    # Optimizer states came back too: one more step of each model gives the same loss.
    assert (
        fresh.network.dense_optimizer.iterations.numpy()
        == model.network.dense_optimizer.iterations.numpy()
    )
    model.get_data_reader_train().set_source()
    fresh.get_data_reader_train().set_source()
    for m in (model, fresh):
        m.set_learning_rate(0.005)
        m.train()
    assert fresh.get_current_loss() == pytest.approx(model.get_current_loss(), rel=1e-6)


def test_freeze_and_unfreeze_change_exactly_what_they_say(norm_data):
    gen = norm_data
    model, opt = make_model(gen)
    add_dcn(model, opt, gen)
    model.compile()
    model.train()  # inserts the first keys
    table = model.embedding_layers[0]

    def snapshot():
        dense = [w.numpy().copy() for w in model.network.dense_weights]
        state = table.table.export()
        return dense, dict(zip(state["keys"].numpy().tolist(), state["rows"].numpy()))

    def changed(before, after):
        dense = any(not np.array_equal(a, b) for a, b in zip(before[0], after[0]))
        rows = any(not np.array_equal(before[1][k], after[1][k]) for k in before[1])
        return dense, rows

    model.freeze_dense()
    before = snapshot()
    model.train()
    assert changed(before, snapshot()) == (False, True)

    model.unfreeze_dense()
    model.freeze_embedding()
    before = snapshot()
    model.train()
    after = snapshot()
    assert changed(before, after) == (True, False)
    assert set(after[1]) == set(before[1])  # a frozen table inserts no keys

    model.unfreeze_embedding()
    before = snapshot()
    model.train()
    assert changed(before, snapshot()) == (True, True)


def test_epoch_mode_reads_each_sample_once_per_epoch(norm_data):
    gen = norm_data
    model, opt = make_model(gen, batchsize=4096, repeat=False)
    add_dcn(model, opt, gen)
    model.compile()
    model.fit(num_epochs=2, display=10_000, eval_interval=10_000, snapshot=0)
    per_epoch = -(-gen.num_train_samples // 4096)
    assert model.iteration == 2 * per_epoch
    reader = model.get_data_reader_train()
    assert reader.is_eof() and not model.train()
    reader.set_source()
    assert model.train() and not reader.is_eof()
    model.set_source(gen.eval_source, gen.eval_source)  # train on the eval files now
    batches = 0
    while model.train():
        batches += 1
    assert batches == -(-gen.num_eval_samples // 4096)


def test_fit_snapshots_and_stops_at_the_auc_threshold(norm_data, tmp_path):
    gen = norm_data
    model, opt = make_model(gen, metrics_spec={hugectr.MetricsType.AUC: 0.6})
    add_dcn(model, opt, gen)
    model.compile()
    prefix = str(tmp_path / "snap")
    model.fit(max_iter=400, display=20, eval_interval=20, snapshot=20, snapshot_prefix=prefix)
    assert model.iteration < 400  # AUC 0.6 is reached long before 400 iterations
    assert (tmp_path / "snap_dense_20.model").is_file()
    assert (tmp_path / "snap0_sparse_20.model" / "key").is_file()


def test_inference_session_matches_the_model(norm_data, tmp_path):
    gen = norm_data
    model = _trained_dcn(gen, iterations=60)
    model.graph_to_json(str(tmp_path / "dcn.json"))
    names = model.save_params_to_files(str(tmp_path / "dcn"), 60)
    params = hugectr.inference.InferenceParams(
        model_name="dcn",
        max_batchsize=1000,
        hit_rate_threshold=1.0,
        dense_model_file=names["dense"],
        sparse_model_files=names["sparse"],
        device_id=0,
        use_gpu_embedding_cache=False,
        cache_size_percentage=0.5,
        i64_input_key=False,
    )
    session = hugectr.inference.CreateInferenceSession(str(tmp_path / "dcn.json"), params)
    preds = session.predict(2, gen.eval_source, hugectr.DataReaderType_t.Norm, hugectr.Check_t.Sum)
    assert preds.shape == (2000,)
    # 20 batches of 1000 = the whole eval set, as the model's own evaluation.
    auc = session.evaluate(20, gen.eval_source, hugectr.DataReaderType_t.Norm, hugectr.Check_t.Sum)
    model.get_data_reader_eval().set_source()
    assert abs(auc - _evaluate(model, _eval_batches(gen))["AUC"]) < 1e-6

    # The array form: two samples with one key per slot.
    batch = next(iter(dataset_from_params(gen.reader_params(), gen.input(), 2, train=False)))
    keys = batch["data1"].flat_values.numpy()
    row_ptrs = list(range(2 * len(SLOT_SIZES) + 1))
    got = session.predict(batch["dense"].numpy().ravel().tolist(), keys.tolist(), row_ptrs)
    features = {k: batch[k] for k in ("dense", "data1")}
    want = tf.sigmoid(model.keras_model(features, training=False)).numpy().ravel()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_low_level_training_loop_as_in_hugectr_samples(norm_data):
    gen = norm_data
    model, opt = make_model(gen, warmup_steps=10)
    add_dcn(model, opt, gen)
    model.compile()
    model.start_data_reading()
    lr_sch = model.get_learning_rate_scheduler()
    for _ in range(20):
        lr = lr_sch.get_next()
        model.set_learning_rate(lr)
        model.train()
    assert lr_sch.get_lr() == pytest.approx(0.005)
    assert np.isfinite(model.get_current_loss())
    for _ in range(3):
        model.eval()
    metrics = dict(model.get_eval_metrics())
    assert set(metrics) == {"AUC"} and 0.5 < metrics["AUC"] <= 1.0


def test_eval_metrics_against_their_definitions(norm_data, tmp_path):
    gen = norm_data
    spec = {hugectr.MetricsType.AUC: 1.0, hugectr.MetricsType.AverageLoss: 0.0,
            hugectr.MetricsType.HitRate: 1.0}  # fmt: skip
    model = _trained_dcn(gen, iterations=30, metrics_spec=spec)
    model.get_data_reader_eval().set_source()
    for _ in range(4):
        model.eval()
    metrics = dict(model.get_eval_metrics())
    model.export_predictions(str(tmp_path / "p.txt"), str(tmp_path / "l.txt"))
    p, y = np.loadtxt(tmp_path / "p.txt"), np.loadtxt(tmp_path / "l.txt")
    assert p.size == 4 * 256
    assert abs(metrics["AUC"] - roc_auc_score(y, p)) < 1e-6
    # Four equal batches: the mean of the batch losses equals the mean log loss.
    log_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert metrics["AverageLoss"] == pytest.approx(log_loss, rel=1e-4)
    # HitRate as HugeCTR 3.1: share of label 1 among predictions above 0.8 (0/0 is NaN).
    confident = p > 0.8
    expected = np.mean(y[confident] == 1) if confident.any() else float("nan")
    assert metrics["HitRate"] == pytest.approx(expected, nan_ok=True, rel=1e-6)


def test_dcn_trains_on_the_converted_real_criteo_sample(criteo_dir, tmp_path):
    from hugectr_tf.tools import convert_criteo

    info = convert_criteo(
        criteo_dir / "criteo_kaggle_head999.tsv", str(tmp_path), "Norm", eval_fraction=0.2
    )
    rows = len((criteo_dir / "criteo_kaggle_head999.tsv").read_text().splitlines())
    assert info["num_train_samples"] + info["num_eval_samples"] == rows  # 1000: no final newline
    solver = hugectr.CreateSolver(batchsize=100, batchsize_eval=100, max_eval_batches=2, lr=0.01)
    reader = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Norm,
        source=[info["source"]],
        eval_source=info["eval_source"],
        check_type=hugectr.Check_t.Sum,
        slot_size_array=info["slot_size_array"],
        num_workers=1,
    )
    model = hugectr.Model(solver, reader, hugectr.CreateOptimizer())

    class Criteo:  # the shape add_dcn needs
        dense_dim = 13
        slot_size_array = info["slot_size_array"]

        @staticmethod
        def input():
            return hugectr.Input(
                label_dim=1,
                label_name="label",
                dense_dim=13,
                dense_name="dense",
                data_reader_sparse_param_array=[
                    hugectr.DataReaderSparseParam("data1", 1, True, 26)
                ],
            )

    add_dcn(model, model.opt_params, Criteo)
    model.compile()
    losses = []
    for _ in range(24):  # three epochs of 800 rows
        model.train()
        losses.append(model.get_current_loss())
    assert all(np.isfinite(losses)) and np.mean(losses[-8:]) < np.mean(losses[:8])
    for _ in range(2):
        assert model.eval()
    metrics = dict(model.get_eval_metrics())
    assert 0.0 <= metrics["AUC"] <= 1.0
    assert model.embedding_layers[0].size() > 26  # real keys were inserted


def test_mixed_precision_training_scales_and_unscales_the_loss(norm_data):
    import keras

    gen = norm_data
    model, opt = make_model(gen, use_mixed_precision=True, scaler=1024)
    add_dcn(model, opt, gen)
    model.compile()
    # The Model's layers compute in float16; the user's global policy is left alone (issue 13).
    assert keras.mixed_precision.global_policy().name == "float32"
    assert {layer.dtype_policy.name for layer in model.network.dense_layers} == {"mixed_float16"}
    for _ in range(60):
        model.train()
    assert np.isfinite(model.get_current_loss())
    assert model.embedding_layers[0].gradient_scale == 1024.0
    auc = _evaluate(model, _eval_batches(gen))["AUC"]
    assert auc > 0.6  # scaled gradients unscaled correctly still learn


def test_incremental_model_returns_rows_updated_since_the_last_call(norm_data):
    gen = norm_data
    model, opt = make_model(gen)  # Adam, Local: only rows hit by a batch are updated
    add_dcn(model, opt, gen)
    model.compile()
    model.train()
    first = model.get_incremental_model()
    table = model.embedding_layers[0]
    assert len(first) == 1 and len(first[0][0]) == table.size()
    batch = model.get_data_reader_train().next_batch()  # peek the keys of the next step
    model.train_on_batch(batch)
    keys, vectors = model.get_incremental_model()[0]
    np.testing.assert_array_equal(keys, np.unique(batch["data1"].flat_values.numpy()))
    state = table.table.export()
    rows = dict(zip(state["keys"].numpy().tolist(), state["rows"].numpy()))
    np.testing.assert_array_equal(vectors, np.stack([rows[k] for k in keys.tolist()]))
    assert all(len(k) == 0 for k, _ in model.get_incremental_model())


def test_repeated_evaluations_each_see_the_whole_eval_set(norm_data):
    gen = norm_data
    model, opt = make_model(gen)
    add_dcn(model, opt, gen)
    model.compile()
    model.train()
    batches = _eval_batches(gen)  # max_eval_batches is exactly one pass
    first = dict(model.evaluate())
    second = dict(model.evaluate())  # starts at the end of the data: must rewind, not give NaN
    assert np.isfinite(first["AUC"]) and second["AUC"] == pytest.approx(first["AUC"], abs=1e-12)
    assert model.last_evaluation[0].size == gen.num_eval_samples and batches == 79
