"""Model construction: validation in add, summary, graph JSON round trip, dense model files."""

import json

import numpy as np
import pytest

import hugectr_tf as hugectr
from hugectr_tf.api.model_files import read_floats_into

L = hugectr.Layer_t


def _model(**solver_kwargs):
    solver = hugectr.CreateSolver(batchsize=16, lr=0.01, **solver_kwargs)
    reader = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Norm,
        source=["unused_train.txt"],
        eval_source="unused_eval.txt",
        check_type=hugectr.Check_t.Non,
    )
    return hugectr.Model(solver, reader, hugectr.CreateOptimizer())


def _input():
    return hugectr.Input(
        label_dim=1,
        label_name="label",
        dense_dim=6,
        dense_name="dense",
        data_reader_sparse_param_array=[hugectr.DataReaderSparseParam("data1", 1, True, 2)],
    )


def _dense_network(model):
    model.add(_input())
    model.add(hugectr.DenseLayer(L.InnerProduct, ["dense"], ["fc1"], num_output=5))
    model.add(hugectr.DenseLayer(L.ReLU, ["fc1"], ["relu1"]))
    model.add(hugectr.DenseLayer(L.Slice, ["relu1"], ["s1", "s2"], ranges=[(0, 3), (1, 5)]))
    model.add(hugectr.DenseLayer(L.Concat, ["s1", "s2"], ["concat1"]))
    model.add(hugectr.DenseLayer(L.MultiCross, ["concat1"], ["mc1"], num_layers=2))
    model.add(hugectr.DenseLayer(L.Dropout, ["mc1"], ["drop1"], dropout_rate=0.3))
    model.add(hugectr.DenseLayer(L.InnerProduct, ["drop1"], ["fc2"], num_output=1))
    model.add(hugectr.DenseLayer(L.BinaryCrossEntropyLoss, ["fc2", "label"], ["loss"]))
    return model


@pytest.mark.parametrize(
    "layer, message",
    [
        (hugectr.DenseLayer(L.ReLU, ["nowhere"], ["r"]), "no tensor named 'nowhere'"),
        (hugectr.DenseLayer(L.ReLU, ["fc1"], ["fc1"]), "top name 'fc1' is already used"),
        (
            hugectr.DenseLayer(L.Slice, ["fc1"], ["a"], ranges=[(0, 9)]),
            r"Slice layer \(bottom \['fc1'\], top \['a'\]\).*9",
        ),
        (hugectr.DenseLayer(L.ReLU, ["label"], ["r"]), "only a loss layer may take the label"),
        (
            hugectr.DenseLayer(L.BinaryCrossEntropyLoss, ["fc1", "dense"], ["loss"]),
            "loss layer takes",
        ),
    ],
)
def test_add_rejects_bad_layers_at_once(layer, message):
    model = _model()
    model.add(_input())
    model.add(hugectr.DenseLayer(L.InnerProduct, ["dense"], ["fc1"], num_output=4))
    with pytest.raises(ValueError, match=message):
        model.add(layer)


def test_add_before_input_and_compile_without_loss_fail():
    model = _model()
    with pytest.raises(ValueError, match="add the hugectr.Input layer first"):
        model.add(hugectr.DenseLayer(L.ReLU, ["dense"], ["r"]))
    model.add(_input())
    with pytest.raises(ValueError, match="no loss layer"):
        model.compile()


def test_several_devices_give_a_clear_error():
    with pytest.raises(ValueError, match=r"vvgpu=\[\[0, 1\]\] asks for 2 devices"):
        _model(vvgpu=[[0, 1]])


def test_graph_json_round_trip_gives_the_same_summary(tmp_path):
    model = _dense_network(_model())
    model.compile()
    path = tmp_path / "graph.json"
    model.graph_to_json(str(path))
    document = json.loads(path.read_text())
    first = document["layers"][0]
    assert first["type"] == "Data" and first["dense"] == {"top": "dense", "dense_dim": 6}
    fc = document["layers"][1]
    assert fc == {
        "type": "InnerProduct",
        "bottom": "dense",
        "top": "fc1",
        "fc_param": {"num_output": 5},
    }
    assert document["layers"][3]["ranges"] == [[0, 3], [1, 5]]
    assert document["layers"][6]["rate"] == pytest.approx(0.3)
    again = _model()
    again.construct_from_json(str(path), include_dense_network=True)
    again.compile()
    assert again.summary_text() == model.summary_text()
    sparse_only = _model()
    sparse_only.construct_from_json(str(path), include_dense_network=False)
    assert "InnerProduct" not in sparse_only.summary_text()


def test_graph_json_refuses_an_unknown_sparse_input_type(tmp_path):
    # Found by the reliability campaign: a damaged "DistributedSlot" was accepted unnoticed.
    model = _dense_network(_model())
    path = tmp_path / "graph.json"
    model.graph_to_json(str(path))
    path.write_text(path.read_text().replace('"DistributedSlot"', '"DistributedS.ot"'))
    with pytest.raises(ValueError, match="type 'DistributedS.ot'; HugeCTR knows 'DistributedSlot'"):
        _model().construct_from_json(str(path), include_dense_network=True)


def test_dense_model_file_is_raw_float32_in_layer_order(tmp_path):
    model = _dense_network(_model())
    model.compile()
    names = model.save_params_to_files(str(tmp_path / "m"), 7)
    assert names["dense"] == str(tmp_path / "m_dense_7.model")
    layers = [layer for layer in model.network.dense_layers]
    expected = np.concatenate(
        [np.asarray(w).reshape(-1) for layer in layers for w in layer.trainable_weights]
    ).astype("<f4")
    raw = (tmp_path / "m_dense_7.model").read_bytes()
    # fc1: 6*5 + 5; concat of widths 3 and 4 -> multicross: 2 * (7 + 7); fc2: 7 + 1
    assert len(raw) == 4 * (35 + 28 + 8)
    assert raw == expected.tobytes()
    kernel = np.frombuffer(raw, "<f4")[:30].reshape(6, 5)
    np.testing.assert_array_equal(kernel, np.asarray(layers[0].trainable_weights[0]))


def test_load_dense_weights_restores_and_rejects_wrong_sizes(tmp_path):
    model = _dense_network(_model())
    model.compile()
    model.save_params_to_files(str(tmp_path / "m"), 0)
    other = _dense_network(_model(seed=5))
    other.compile()
    before = [np.asarray(w) for w in other.network.dense_weights]
    other.load_dense_weights(str(tmp_path / "m_dense_0.model"))
    for mine, theirs in zip(other.network.dense_weights, model.network.dense_weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    assert any(
        not np.array_equal(b, np.asarray(w)) for b, w in zip(before, model.network.dense_weights)
    )
    short = tmp_path / "short.model"
    short.write_bytes(b"\0" * 8)
    with pytest.raises(ValueError, match="holds 8 bytes but the model needs 71 float32 values"):
        other.load_dense_weights(str(short))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        other.load_dense_weights(str(tmp_path / "missing.model"))


def test_read_floats_splits_in_order(tmp_path):
    path = tmp_path / "f.model"
    path.write_bytes(np.arange(7, dtype="<f4").tobytes())
    a, b = read_floats_into(str(path), [(2, 2), (3,)], "test")
    np.testing.assert_array_equal(a, [[0, 1], [2, 3]])
    np.testing.assert_array_equal(b, [4, 5, 6])
