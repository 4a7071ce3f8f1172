"""The model-oversubscription and inference parts of HugeCTR 3.1's Python interface document
(`../shared/spec/hugectr_python_interface.md`) run as written on generated data: its CreateMOS
example (read from the document and executed, the path it names created first), set_source with
`file_list.1.txt`/`file_list.2.txt` and their keysets, the low-level update/train loop with
get_incremental_model on the HM-PS, and InferenceParams/CreateInferenceSession/predict/evaluate
with the arguments the document lists. References: the same training on one in-memory table, the
keysets themselves, and numpy predictions computed from the saved files."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import hugectr_tf as hugectr
from hugectr_tf.data import dataset_from_params
from hugectr_tf.data.keyset import read_keyset
from hugectr_tf.embedding import files
from hugectr_tf.tools import DataGenerator

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "hugectr_python_interface.md"
if not SPEC.is_file():
    SPEC = Path("/work/shared/spec/hugectr_python_interface.md")
pytestmark = pytest.mark.skipif(not SPEC.is_file(), reason=f"spec not found at {SPEC}")

L, D = hugectr.Layer_t, hugectr.DenseLayer
SLOTS = [3000, 2000, 500]
VEC = 8
BATCH = 256


def spec_python_blocks(heading):
    """The ```python blocks of the document's section `#### **<heading>**`."""
    text = SPEC.read_text(encoding="utf-8", errors="replace")
    start = text.index(f"#### **{heading}**")
    end = text.find("\n###", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """3 file lists (file_list.0/1/2.txt) with keysets, in data/train; eval in data/eval."""
    return DataGenerator(
        tmp_path_factory.mktemp("spec") / "data", "Norm", num_train_samples=3 * 4 * BATCH,
        num_eval_samples=2 * BATCH, num_files=3, dense_dim=2, slot_size_array=SLOTS,
        i64_input_key=True, num_file_lists=3, keyset=True, seed=7,
    ).generate()  # fmt: skip


def build(data, mos=None, source=("file_list.0.txt",), keyset=("file_list.0.keyset",)):
    solver = hugectr.CreateSolver(batchsize=BATCH, batchsize_eval=BATCH, lr=0.05,
                                  repeat_dataset=False, i64_input_key=True,
                                  max_eval_batches=2)  # fmt: skip
    reader = data.reader_params(source=list(source), keyset=list(keyset) if mos else [],
                                num_workers=1)  # fmt: skip
    opt = hugectr.CreateOptimizer(optimizer_type="SGD", update_type="Local")
    model = hugectr.Model(solver, reader, opt, mos) if mos else hugectr.Model(solver, reader, opt)
    model.add(data.input())
    model.add(hugectr.SparseEmbedding(
        embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
        workspace_size_per_gpu_in_mb=2, embedding_vec_size=VEC, combiner="sum",
        sparse_embedding_name="emb", bottom_name="data1", optimizer=opt,
    ))  # fmt: skip
    model.add(D(L.Reshape, ["emb"], ["flat"], leading_dim=VEC * len(SLOTS)))
    model.add(D(L.Concat, ["flat", "dense"], ["concat"]))
    model.add(D(L.InnerProduct, ["concat"], ["fc"], num_output=1))
    model.add(D(L.BinaryCrossEntropyLoss, ["fc", "label"], ["loss"]))
    model.compile()
    return model


def low_level_loop(model, sources, keysets=None):
    """HugeCTR's epoch-mode loop: set_source (+ update(keyset) with MOS), train to the end."""
    reader = model.get_data_reader_train()
    scheduler = model.get_learning_rate_scheduler()
    for i, source in enumerate(sources):
        reader.set_source(source)
        if keysets is not None:
            model.get_model_oversubscriber().update(keysets[i])
        while True:
            model.set_learning_rate(scheduler.get_next())
            if not model.train():
                break
        assert reader.is_eof()


def sorted_model(folder):
    keys, rows, _ = files.read_sparse_model(folder, VEC, need_slot_id=False)
    order = np.argsort(keys)
    return keys[order], rows[order]


def test_create_mos_example_set_source_and_fit(data, tmp_path, monkeypatch):
    monkeypatch.chdir(Path(data.train_sources[0]).parent)  # file_list.<i>.txt / .keyset
    # A table trained on file_list.0 (in memory), saved where the document's example reads it.
    first = build(data)
    low_level_loop(first, ["file_list.0.txt"])
    names = first.save_params_to_files(str(tmp_path / "first"), 2000)
    Path("models").mkdir(exist_ok=True)
    shutil.copytree(names["sparse"][0], "models/_sparse2000.model", dirs_exist_ok=True)
    (example,) = spec_python_blocks("CreateMOS method")
    namespace = {"hugectr": hugectr}
    exec(example, namespace)  # noqa: S102 (the HugeCTR document's example, as written)
    model = build(data, namespace["mos"])
    model.load_dense_weights(names["dense"])
    model.set_source(source=["file_list.1.txt", "file_list.2.txt"],
                     keyset=["file_list.1.keyset", "file_list.2.keyset"],
                     eval_source=data.eval_source)  # fmt: skip
    model.fit(num_epochs=1, display=1000, eval_interval=4)
    model.save_params_to_files(str(tmp_path / "mos"))
    # Reference: the saved table loaded whole into memory, the same two lists in the same order.
    reference = build(data)
    reference.load_dense_weights(names["dense"])
    reference.load_sparse_weights([names["sparse"][0]])
    low_level_loop(reference, ["file_list.1.txt", "file_list.2.txt"])
    reference.save_params_to_files(str(tmp_path / "ref"))
    got, want = (
        sorted_model("models/_sparse2000.model"),
        sorted_model(tmp_path / "ref0_sparse_0.model"),
    )
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert model.iteration == reference.iteration == 8
    for w, v in zip(model.network.dense_weights, reference.network.dense_weights):
        np.testing.assert_array_equal(w.numpy(), v.numpy())
    # The table grew by the keys of lists 1 and 2 only, and its rows moved.
    keys0 = read_keyset("file_list.0.keyset")
    union = np.union1d(keys0, np.union1d(*(read_keyset(f"file_list.{i}.keyset") for i in (1, 2))))
    np.testing.assert_array_equal(got[0], union)
    assert model.get_model_oversubscriber().passes[0]["rows_loaded"] == len(
        np.intersect1d(keys0, read_keyset("file_list.1.keyset"))
    )


def test_update_loop_and_incremental_model_on_the_hm_ps(data, tmp_path, monkeypatch):
    monkeypatch.chdir(Path(data.train_sources[0]).parent)
    mos = hugectr.CreateMOS(train_from_scratch=True, use_host_memory_ps=True,
                            dest_sparse_models=[str(tmp_path / "dest.model")])  # fmt: skip
    model = build(data, mos)
    # update(keyset_file) and update(keyset_file_list): both forms of the document.
    low_level_loop(model, ["file_list.0.txt", "file_list.1.txt"],
                   ["file_list.0.keyset", ["file_list.1.keyset"]])  # fmt: skip
    updated_model = model.get_incremental_model()
    assert len(updated_model) == 1  # one embedding table
    keys, vectors = updated_model[0][0], updated_model[0][1]
    assert keys.dtype == np.int64 and keys.ndim == 1
    assert vectors.dtype == np.float32 and vectors.shape == (len(keys), VEC)
    trained = np.union1d(read_keyset("file_list.0.keyset"), read_keyset("file_list.1.keyset"))
    np.testing.assert_array_equal(np.sort(keys), trained)
    ps = model.get_model_oversubscriber().parameter_servers[0]
    np.testing.assert_array_equal(vectors, ps.rows_for(keys)[0])
    # The next call holds only what was touched since: the keys of file_list.2.
    low_level_loop(model, ["file_list.2.txt"], ["file_list.2.keyset"])
    ((keys2, vectors2),) = model.get_incremental_model()
    np.testing.assert_array_equal(np.sort(keys2), read_keyset("file_list.2.keyset"))
    np.testing.assert_array_equal(vectors2, ps.rows_for(keys2)[0])


def numpy_predictions(batches, sparse_folder, kernel, bias):
    """sigmoid(concat(per-slot sum of rows, dense) @ kernel + bias) from the saved files."""
    keys, rows, _ = files.read_sparse_model(sparse_folder, VEC, need_slot_id=False)
    row_of = dict(zip(keys.tolist(), rows))
    out = []
    for b in batches:
        ragged = b["data1"]  # [batch, slots, None]
        flat = np.stack([
            np.concatenate([
                np.sum([row_of.get(k, np.zeros(VEC, np.float32)) for k in slot], axis=0)
                if len(slot) else np.zeros(VEC, np.float32)
                for slot in sample
            ])
            for sample in ragged.to_list()
        ])  # fmt: skip
        x = np.concatenate([flat, b["dense"].numpy()], axis=1).astype(np.float64)
        out.append(1 / (1 + np.exp(-(x @ kernel + bias))))
    return np.concatenate(out).ravel()


@pytest.fixture(scope="module")
def served(data, tmp_path_factory):
    """A model trained with MOS (SSD-PS, 2 epochs over the 3 file lists), saved for serving."""
    root = tmp_path_factory.mktemp("served")
    mos = hugectr.CreateMOS(train_from_scratch=True, use_host_memory_ps=False,
                            dest_sparse_models=[str(root / "sparse0.model")])  # fmt: skip
    model = build(data, mos, data.train_sources, data.train_keysets)
    model.fit(num_epochs=2, display=1000, eval_interval=1000)
    model.graph_to_json(str(root / "graph.json"))
    names = model.save_params_to_files(str(root / "m"))
    return model, root, names


@pytest.mark.parametrize("use_gpu_embedding_cache", [True, False])
def test_inference_arguments_as_the_document_lists_them(data, served, use_gpu_embedding_cache):
    model, tmp_path, names = served
    params = hugectr.inference.InferenceParams(
        model_name="mos_model", max_batchsize=BATCH, hit_rate_threshold=0.8,
        dense_model_file=names["dense"], sparse_model_files=[str(tmp_path / "sparse0.model")],
        device_id=0, use_gpu_embedding_cache=use_gpu_embedding_cache, cache_size_percentage=0.3,
        i64_input_key=True,
    )  # fmt: skip
    session = hugectr.inference.CreateInferenceSession(
        model_config_path=str(tmp_path / "graph.json"), inference_params=params
    )
    from_files = session.predict(num_batches=2, source=data.eval_source,
                                 data_reader_type=hugectr.DataReaderType_t.Norm,
                                 check_type=hugectr.Check_t.Sum)  # fmt: skip
    batches = list(dataset_from_params(data.reader_params(), data.input(), BATCH, False,
                                       repeat=False, i64_input_key=True))  # fmt: skip
    kernel, bias = (w.numpy() for w in model.network.dense_weights)
    want = numpy_predictions(batches, tmp_path / "sparse0.model", kernel, bias)
    np.testing.assert_allclose(from_files, want, rtol=1e-5, atol=1e-6)
    # predict(dense_feature, embeddingcolumns, row_ptrs, i64_input_key) on the first batch.
    first = batches[0]["data1"]
    from_arrays = session.predict(
        dense_feature=batches[0]["dense"].numpy().ravel().tolist(),
        embeddingcolumns=first.flat_values.numpy().tolist(),
        row_ptrs=first.values.row_splits.numpy().tolist(), i64_input_key=True,
    )  # fmt: skip
    np.testing.assert_array_equal(from_arrays, from_files[:BATCH])
    auc = session.evaluate(num_batches=2, source=data.eval_source,
                           data_reader_type=hugectr.DataReaderType_t.Norm,
                           check_type=hugectr.Check_t.Sum)  # fmt: skip
    labels = np.concatenate([b["label"].numpy().ravel() for b in batches])
    assert auc == pytest.approx(roc_auc_score(labels, want), abs=1e-6)
    if use_gpu_embedding_cache:
        assert 0.0 < session.hit_rate() < 1.0
