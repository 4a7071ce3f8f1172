"""The campaign's seed files, one per format, written once by a worker into the campaign folder.

Data (one Input for all): label_dim 1, dense_dim 2, sparse input `a` (2 slots, up to 2 keys per
slot, variable length) and `b` (1 slot, fixed length, 1 key): Norm without and with Check_t.Sum,
Raw (slot sizes 7, 5, 9) and a one-file Parquet folder. Model files: a snapshot of
`helpers.snapshot_model` trained 3 steps (dense file + BatchNorm sidecar, dense optimizer +
metadata, two sparse model folders, two optimizer-state files, the manifest), its graph JSON, and
the same files as HugeCTR writes them (no manifests, no sidecars).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from data_reference import norm_file, raw_file, write_list
from helpers import snapshot_model as sm
from seed_layout import RAW_SLOTS, RECORDS

import hugectr_tf as hugectr

DATA_INPUT = hugectr.Input(
    label_dim=1,
    label_name="label",
    dense_dim=2,
    dense_name="dense",
    data_reader_sparse_param_array=[
        hugectr.DataReaderSparseParam("a", 2, False, 2),
        hugectr.DataReaderSparseParam("b", 1, True, 1),
    ],
)


def reader_params(kind, source):
    """DataReaderParams reading `source` (a file list for Norm/Parquet, a file for Raw)."""
    types = {
        "norm_non": hugectr.DataReaderType_t.Norm,
        "norm_sum": hugectr.DataReaderType_t.Norm,
        "raw": hugectr.DataReaderType_t.Raw,
        "parquet": hugectr.DataReaderType_t.Parquet,
    }
    return hugectr.DataReaderParams(
        data_reader_type=types[kind],
        source=[source],
        eval_source=source,
        check_type=hugectr.Check_t.Sum if kind == "norm_sum" else hugectr.Check_t.Non,
        slot_size_array=RAW_SLOTS if kind in ("raw", "parquet") else [],
        float_label_dense=True,
    )


def _data(folder):
    rng = np.random.default_rng(3)
    records = []
    for _ in range(RECORDS):
        slots = [list(rng.integers(0, 2**32, rng.integers(0, 3))) for _ in range(2)]
        slots.append([int(rng.integers(0, 2**32))])
        label = [float(rng.integers(0, 2))]
        records.append((label, rng.normal(size=2).astype(np.float32).tolist(), slots))
    common = dict(label_dim=1, dense_dim=2, slot_num=3, i64=False)
    (folder / "norm_non.bin").write_bytes(norm_file(records, check_sum=False, **common))
    (folder / "norm_sum.bin").write_bytes(norm_file(records, check_sum=True, **common))
    one_hot = [(r[0], r[1], [int(rng.integers(0, s)) for s in RAW_SLOTS]) for r in records]
    (folder / "raw.bin").write_bytes(raw_file(one_hot, float_label_dense=True))
    parquet = folder / "parquet"
    parquet.mkdir()
    columns = {"label": pa.array([r[0][0] for r in one_hot], pa.float32())}
    for j in range(2):
        columns[f"I{j + 1}"] = pa.array([r[1][j] for r in one_hot], pa.float32())
    for j in range(3):
        columns[f"C{j + 1}"] = pa.array([r[2][j] for r in one_hot], pa.int64())
    pq.write_table(pa.table(columns), parquet / "part_0.parquet")
    meta = {
        "file_stats": [{"file_name": "part_0.parquet", "num_rows": RECORDS}],
        "labels": [{"col_name": "label", "index": 0}],
        "conts": [{"col_name": f"I{j + 1}", "index": 1 + j} for j in range(2)],
        "cats": [{"col_name": f"C{j + 1}", "index": 3 + j} for j in range(3)],
    }
    (parquet / "_metadata.json").write_text(json.dumps(meta, indent=1))
    write_list(parquet / "_file_list.txt", [str(parquet / "part_0.parquet")])


def build_corpus(folder):
    """Writes every seed under `folder`; returns what the runner needs to damage and judge."""
    data = folder / "data"
    data.mkdir(parents=True)
    _data(data)
    snap = folder / "snapshot"
    snap.mkdir()
    model = sm.build(workspace_mb=(1, 1), seed=1)
    for batch in sm.batches(3, seed=2):
        model.train_on_batch(batch)
    names = model.save_params_to_files(str(snap / "run"), 3)
    model.graph_to_json(str(folder / "graph.json"))
    # The same model as HugeCTR writes it: no manifests, no sidecars.
    plain = folder / "hugectr"
    shutil.copytree(snap, plain)
    plain_names = {k: _moved(v, snap, plain) for k, v in names.items()}
    Path(plain_names["manifest"]).unlink()
    Path(plain_names["dense"] + ".non_trainable").unlink()
    Path(plain_names["opt_dense"] + ".json").unlink()
    for sparse in plain_names["sparse"]:
        (Path(sparse) / "hugectr_tf_manifest.json").unlink()
    tables = [layer.table for layer in model.embedding_layers]
    return {
        "names": names,
        "plain_names": plain_names,
        "vec": sm.VEC,
        "capacities": [int(t.stats()["capacity"]) for t in tables],
        "localized": [t.localized for t in tables],
        "dense_count": int(sum(np.prod(w.shape) for w in model.network.dense_weights)),
    }


def _moved(value, old, new):
    if isinstance(value, list):
        return [_moved(v, old, new) for v in value]
    return str(new / Path(value).relative_to(old))
