"""`CreateInferenceSession` on a graph JSON without a loss layer, as HugeCTR writes for inference.

HugeCTR's inference graphs end in a `Sigmoid` where the training graph had its
BinaryCrossEntropyLoss; a graph may also end with the logits layer. The reference is the trained
model's own prediction on the same batch.
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from model_builders import SLOT_SIZES, add_dcn, make_model

import hugectr_tf as hugectr
from hugectr_tf.tools import DataGenerator


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inference_graph")
    gen = DataGenerator(
        folder / "data",
        "Norm",
        num_train_samples=2048,
        num_eval_samples=512,
        num_files=1,
        dense_dim=4,
        slot_size_array=SLOT_SIZES,
        seed=9,
    ).generate()
    model, opt = make_model(gen, batchsize=128)
    add_dcn(model, opt, gen, dropout_rate=0.0)
    model.compile()
    for _ in range(5):
        model.train()
    model.graph_to_json(str(folder / "train.json"))
    names = model.save_params_to_files(str(folder / "dcn"), 5)
    return gen, model, names, folder


def _session(names, graph_path):
    params = hugectr.inference.InferenceParams(
        model_name="dcn",
        max_batchsize=512,
        hit_rate_threshold=1.0,
        dense_model_file=names["dense"],
        sparse_model_files=names["sparse"],
        device_id=0,
        use_gpu_embedding_cache=False,
        cache_size_percentage=0.5,
        i64_input_key=False,
    )
    return hugectr.inference.CreateInferenceSession(str(graph_path), params)


def _inference_graph(folder, last_layer):
    """The training graph with its loss layer replaced by `last_layer` (or dropped: None)."""
    document = json.loads((folder / "train.json").read_text())
    loss = document["layers"].pop()
    assert loss["type"] == "BinaryCrossEntropyLoss"
    if last_layer is not None:
        document["layers"].append(last_layer)
    path = folder / f"inference_{last_layer is not None}.json"
    path.write_text(json.dumps(document))
    return path


def _logits_of_eval_set(model, gen):
    """Logits of the first eval batch (128 samples)."""
    model.get_data_reader_eval().set_source()
    batch = model.get_data_reader_eval().next_batch()
    features, _ = model.network.split(batch)
    return model.keras_model(features, training=False).numpy().ravel()


def test_graph_ending_in_sigmoid_predicts_the_probabilities(trained):
    gen, model, names, folder = trained
    sigmoid = {"type": "Sigmoid", "bottom": "fc2", "top": "sigmoid"}
    session = _session(names, _inference_graph(folder, sigmoid))
    got = session.predict(1, gen.eval_source, hugectr.DataReaderType_t.Norm, hugectr.Check_t.Sum)
    want = tf.sigmoid(_logits_of_eval_set(model, gen)).numpy()  # the first 128 samples
    assert got.shape == (512,)
    np.testing.assert_allclose(got[: want.size], want, rtol=1e-5, atol=1e-7)


def test_graph_without_loss_or_sigmoid_predicts_its_last_layer(trained):
    gen, model, names, folder = trained
    session = _session(names, _inference_graph(folder, None))
    got = session.predict(1, gen.eval_source, hugectr.DataReaderType_t.Norm, hugectr.Check_t.Sum)
    want = _logits_of_eval_set(model, gen)
    np.testing.assert_allclose(got[: want.size], want, rtol=1e-5, atol=1e-6)


def test_training_still_needs_a_loss_layer(trained):
    gen, _, _, folder = trained
    model, _ = make_model(gen, batchsize=128)
    model.construct_from_json(str(_inference_graph(folder, None)), include_dense_network=True)
    with pytest.raises(ValueError, match="no loss layer"):
        model.compile()
