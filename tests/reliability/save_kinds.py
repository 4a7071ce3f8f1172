"""Every kind of save the kill campaign interrupts, with the state each save round writes and the
check that what is on disk afterwards is one whole round (or is refused by name).

Round r puts a state into the model that is entirely determined by r: every dense weight, BatchNorm
statistic and optimizer slot equals r, the dense optimizer has taken r steps, and each table holds
keys 0..n(r)-1 (n varies with r, so files change size) with rows, optimizer slots and step r. A
load that mixes two rounds therefore shows up as values that are not all the same.
"""

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from helpers import snapshot_model as sm

from hugectr_tf.api import persistence
from hugectr_tf.keras.layers import SparseEmbedding

ITERATION = 7


def keys_of_round(r):
    return 4000 + 97 * (r % 50)


def table_state(table, r):
    n = keys_of_round(r)
    vec = table.embedding_vec_size
    slots = table.export()["optimizer_slots"].shape[1]
    return {
        "keys": np.arange(n, dtype=np.int64),
        "rows": np.full((n, vec), r, np.float32),
        "slot_ids": np.zeros(n, np.int64),
        "optimizer_slots": np.full((n, slots, vec), r, np.float32),
        "last_step": np.full(n, r, np.int64),
        "step": np.int64(r),
        "lr_history": np.full(r, r, np.float32),
    }


def hugectr_model():
    return sm.build(workspace_mb=(2, 2), seed=0)


def set_hugectr_round(model, r):
    net = model.network
    for w in net.dense_weights + net.dense_non_trainable:
        w.assign(np.full(w.shape, r, np.float32))
    for v in net.dense_optimizer.variables:
        if v.path.endswith("iteration") or "iteration" in v.name:
            v.assign(r)
        elif len(v.shape) > 0:
            v.assign(np.full(v.shape, r, v.dtype))
    for layer in model.embedding_layers:
        layer.table.restore(table_state(layer.table, r))


def keras_model():
    keys = keras.Input(shape=(2, None), dtype="int64", ragged=True, name="keys")
    emb = SparseEmbedding(4, 2, workspace_size_per_gpu_in_mb=2, name="emb")
    out = keras.layers.Dense(1, name="out")(keras.layers.Flatten()(emb(keys)))
    model = keras.Model(keys, out)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model, emb


def set_keras_round(model, emb, r):
    for w in model.get_layer("out").weights:
        w.assign(np.full(w.shape, r, np.float32))
    emb.table.restore(table_state(emb.table, r))


class Saver:
    """Builds what `kind` saves and saves round r of it into `folder` (same names each round)."""

    def __init__(self, kind, folder):
        self.kind, self.folder = kind, Path(folder)
        if kind.startswith(("keras", "tf")):
            self.model, self.emb = keras_model()
            self.ckpt = tf.train.Checkpoint(model=self.model)
        else:
            self.model = hugectr_model()

    def save(self, r):
        f, kind = self.folder, self.kind
        if kind.startswith(("keras", "tf")):
            set_keras_round(self.model, self.emb, r)
        else:
            set_hugectr_round(self.model, r)
        layer = None if kind.startswith(("keras", "tf")) else self.model.embedding_layers[0]
        if kind == "save_params_to_files":
            self.model.save_params_to_files(str(f / "run"), ITERATION)
        elif kind == "export_sparse_model":
            layer.export_sparse_model(f / "sparse.model")
        elif kind == "save_optimizer_states":
            layer.save_optimizer_states(f / "opt_states")
        elif kind == "graph_to_json":
            self.model.graph_to_json(str(f / "graph.json"))
        elif kind == "keras_save_weights":
            self.model.save_weights(f / "m.weights.h5")
        elif kind == "keras_model_save":
            self.model.save(f / "m.keras")
        else:
            self.ckpt.write(str(f / "ckpt"))


def _uniform(values):
    """The one value all arrays hold, or None when they disagree."""
    seen = set()
    for v in values:
        v = np.asarray(v)
        if v.size:
            seen.update(np.unique(v).tolist())
    return seen.pop() if len(seen) == 1 else None


def _table_round(state):
    """Round r of an exported/read table state, or None when it is not one round."""
    keys = np.asarray(state["keys"])
    r = _uniform([state["rows"], state["optimizer_slots"]]) if "rows" in state else None
    if "rows" not in state:
        r = _uniform([state["optimizer_slots"]])
    if r is None or int(r) != r or len(keys) != keys_of_round(int(r)):
        return None
    if not np.array_equal(np.sort(keys), np.arange(len(keys))) or int(state["step"]) != r:
        return None
    return int(r)


def check(kind, folder, cache):
    """{"round": r} when the files on disk load as one whole round; raises when they are refused;
    {"mixed": ...} when they load but mix rounds (a silent wrong result)."""
    f = Path(folder)
    if kind == "graph_to_json":
        if "graph" not in cache:
            cache["graph"] = hugectr_model()
        doc = json.loads((f / "graph.json").read_text())
        want = cache["graph"].graph.to_json()
        return {"round": 0} if doc == json.loads(json.dumps(want)) else {"mixed": "graph differs"}
    if kind.startswith(("keras", "tf")):
        if "keras" not in cache:
            cache["keras"] = keras_model()
        model, emb = cache["keras"]
        if kind == "keras_save_weights":
            model.load_weights(f / "m.weights.h5")
        elif kind == "keras_model_save":
            model = keras.models.load_model(f / "m.keras")
            emb = model.get_layer("emb")
        else:
            tf.train.Checkpoint(model=model).read(str(f / "ckpt")).assert_existing_objects_matched()
        dense = _uniform([w.numpy() for w in model.get_layer("out").weights])
        table = _table_round({k: v.numpy() for k, v in emb.table.export().items()})
        return (
            {"round": table} if table is not None and dense == table else {"mixed": [dense, table]}
        )
    if "hugectr" not in cache:
        cache["hugectr"] = hugectr_model()
    model = cache["hugectr"]
    layer = model.embedding_layers[0]
    if kind == "export_sparse_model":
        layer.import_sparse_model(f / "sparse.model")
        rows = layer.table.export()
        keys, values = rows["keys"].numpy(), rows["rows"].numpy()
        r = _uniform([values])
        ok = r is not None and len(keys) == keys_of_round(int(r))
        return {"round": int(r)} if ok else {"mixed": "rows"}
    if kind == "save_optimizer_states":
        state = layer.table.read_optimizer_state_file(f / "opt_states")
        r = _table_round(state)
        return {"round": r} if r is not None else {"mixed": "optimizer state"}
    names = persistence.snapshot_names(str(f / "run"), ITERATION, 2)
    sm.load_all(model, names)
    net = model.network
    dense = _uniform([w.numpy() for w in net.dense_weights + net.dense_non_trainable])
    slots = _uniform([v.numpy() for v in net.dense_optimizer.variables if len(v.shape) > 0])
    steps = int(net.dense_optimizer.iterations.numpy())
    tables = [
        _table_round({k: v.numpy() for k, v in layer.table.export().items()})
        for layer in model.embedding_layers
    ]
    rounds = {dense, slots, steps, *tables}
    return {"round": steps} if len(rounds) == 1 and None not in rounds else {"mixed": rounds}
