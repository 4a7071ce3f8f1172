"""The campaign's worker process: runs damaged inputs through the package, one case per line.

Reads JSON cases from stdin and answers one JSON line per case on stdout:
    {"id": ..., "status": "ok", ...result...}  or
    {"id": ..., "status": "error", "type": "DataLossError", "message": "...", "changed": bool}
A crash or hang of this process is the campaign's finding; the runner restarts it and goes on.
`changed` says whether a failed load left the model different from before (all-or-nothing).
"""

import faulthandler
import json
import os
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "data")]
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import save_kinds  # noqa: E402
import tensorflow as tf  # noqa: E402
from corpus import DATA_INPUT, build_corpus, reader_params  # noqa: E402
from helpers import snapshot_model as sm  # noqa: E402

import hugectr_tf as hugectr  # noqa: E402
from hugectr_tf.data import dataset_from_params  # noqa: E402

_models = {}


def _bits(array):
    return np.asarray(array, "<f4").view("<u4").tolist()


def _records(dataset):
    """Every record of a dataset of batch dicts, in the references' form."""
    out = []
    for batch in dataset:
        labels = batch["label"].numpy()
        dense = batch["dense"].numpy()
        a, b = batch["a"].to_list(), batch["b"].to_list()
        for i in range(labels.shape[0]):
            out.append([_bits(labels[i]), _bits(dense[i]), [*a[i], *b[i]]])
    return out


def _data_model(kind):
    """A Model on the campaign's data Input, in epoch mode, for `kind` (reads any source)."""
    if kind not in _models:
        solver = hugectr.CreateSolver(
            batchsize=4, batchsize_eval=4, lr=0.01, repeat_dataset=False, i64_input_key=False
        )
        model = hugectr.Model(solver, reader_params(kind, "unused"), hugectr.CreateOptimizer())
        model.add(DATA_INPUT)
        for i, name in enumerate(("a", "b")):
            model.add(
                hugectr.SparseEmbedding(
                    embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
                    workspace_size_per_gpu_in_mb=64,
                    embedding_vec_size=2,
                    combiner="sum",
                    sparse_embedding_name=f"e{i}",
                    bottom_name=name,
                    optimizer=hugectr.CreateOptimizer(),
                )
            )
        L, D = hugectr.Layer_t, hugectr.DenseLayer
        model.add(D(L.Reshape, ["e0"], ["r0"], leading_dim=4))
        model.add(D(L.Reshape, ["e1"], ["r1"], leading_dim=2))
        model.add(D(L.Concat, ["r0", "r1", "dense"], ["cat"]))
        model.add(D(L.InnerProduct, ["cat"], ["fc"], num_output=1))
        model.add(D(L.BinaryCrossEntropyLoss, ["fc", "label"], ["loss"]))
        model.compile()
        _models[kind] = model
    return _models[kind]


def _snapshot_model():
    if "snapshot" not in _models:
        _models["snapshot"] = sm.build(workspace_mb=(1, 1), seed=5)
    return _models["snapshot"]


def _digest(model):
    crc = 0
    for name, value in sorted(sm.state(model).items()):
        crc = zlib.crc32(name.encode(), crc)
        crc = zlib.crc32(np.ascontiguousarray(value).tobytes(), crc)
    return crc


def op_read(case):
    params = reader_params(case["kind"], case["source"])
    ds = dataset_from_params(params, DATA_INPUT, 4, repeat_dataset=False)
    return {"records": _records(ds)}


def op_fit(case):
    model = _data_model(case["kind"])
    model.set_source(case["source"], case["source"])
    start = model.iteration
    model.fit(num_epochs=1, display=10**6, eval_interval=10**6, snapshot=0)
    return {"iterations": model.iteration - start}


def _loaded(model, what):
    """What a load put into the model, in the references' form."""
    if what == "dense":
        weights = model.network.dense_weights
        return {"dense_bits": [b for w in weights for b in _bits(w.numpy().reshape(-1))]}
    tables = []
    for layer in model.embedding_layers:
        state = layer.table.export()
        tables.append(
            {
                "keys": state["keys"].numpy().tolist(),
                "rows": state["rows"].numpy().view("<u4").tolist(),
                "slot_ids": state["slot_ids"].numpy().tolist() if layer.table.localized else None,
            }
        )
    return {"tables": tables}


def op_load(case):
    """Loads a damaged snapshot member (or the whole snapshot) into the snapshot model."""
    model = _snapshot_model()
    names = case["names"]
    before = _digest(model)
    calls = {
        "dense": [(model.load_dense_weights, names["dense"])],
        "opt_dense": [(model.load_dense_optimizer_states, names["opt_dense"])],
        "sparse": [(model.load_sparse_weights, names["sparse"])],
        "opt_sparse": [(model.load_sparse_optimizer_states, names["opt_sparse"])],
    }
    steps = [c for k in case["loads"] for c in calls[k]]
    try:
        for load, arg in steps:
            load(arg)
    except Exception as err:
        err.changed = _digest(model) != before
        raise
    what = "dense" if case["loads"] == ["dense"] else "tables"
    return {**_loaded(model, what), "digest": _digest(model)}


def op_layer_load(case):
    """SparseEmbedding-level loads: a sparse model folder or an optimizer-state file."""
    model = _snapshot_model()
    layer = model.embedding_layers[case["embedding"]]
    before = _digest(model)
    try:
        if case["what"] == "folder":
            layer.import_sparse_model(case["path"])
        else:
            state = layer.table.read_optimizer_state_file(case["path"])
            return {"step": int(state["step"]), "keys": np.asarray(state["keys"]).tolist()}
    except Exception as err:
        err.changed = _digest(model) != before
        raise
    return _loaded(model, "tables")


def op_graph(case):
    solver = hugectr.CreateSolver(batchsize=16, batchsize_eval=16, lr=0.01, i64_input_key=True)
    model = hugectr.Model(solver, reader_params("norm_non", "unused"), hugectr.CreateOptimizer())
    model.construct_from_json(case["path"], include_dense_network=True)
    model.compile()
    out = Path(case["path"]).with_suffix(".rebuilt.json")
    model.graph_to_json(str(out))
    return {"rebuilt": json.loads(out.read_text())}


def op_kill_check(case):
    model = _models.get("hugectr") if case["kind"] in HUGECTR_SAVES else None
    before = _digest(model) if model is not None else None
    try:
        return save_kinds.check(case["kind"], case["folder"], _models)
    except Exception as err:
        err.changed = model is not None and _digest(model) != before
        raise


def op_corpus(case):
    return build_corpus(Path(case["folder"]))


OPS = {
    "read": op_read,
    "fit": op_fit,
    "load": op_load,
    "layer_load": op_layer_load,
    "graph": op_graph,
    "corpus": op_corpus,
    "kill_check": op_kill_check,
}
HUGECTR_SAVES = ("save_params_to_files", "export_sparse_model", "save_optimizer_states")


def main():
    faulthandler.enable()  # a crash leaves its stack in the worker log
    tf.get_logger().setLevel("ERROR")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        case = json.loads(line)
        try:
            answer = {"status": "ok", **OPS[case["op"]](case)}
        except Exception as err:  # noqa: BLE001 - every error is reported and classified
            message = getattr(err, "message", None) or str(err)
            answer = {
                "status": "error",
                "type": type(err).__name__,
                "message": message[:2000],
                "changed": bool(getattr(err, "changed", False)),
            }
        answer["id"] = case["id"]
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
