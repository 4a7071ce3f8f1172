"""Reader throughput: Norm, Raw and Parquet through hugectr_tf.data versus TFRecord +
tf.io.parse_example holding the same records, in one run. Prints a markdown table.

    PYTHONPATH=. python benchmarks/reader_bench.py [--num-samples 1000000] [--batch-size 16384]

Records are Criteo-shaped (1 label, 13 dense, 26 one-hot slots) from the DataGenerator. Every
pipeline yields the same batch (label, dense, keys as a [B, 26, None] RaggedTensor) and is read
once to warm the page cache, then timed over full passes (the fastest of --repeats is shown).
"""

import argparse
import glob
import os
import platform
import tempfile
import time

import numpy as np
import tensorflow as tf

import hugectr_tf as hugectr
from hugectr_tf.data import dataset_from_params
from hugectr_tf.data.file_list import write_file_list
from hugectr_tf.data.writers import write_norm, write_parquet_folder, write_raw
from hugectr_tf.tools.generator import DataGenerator

SLOTS, DENSE = 26, 13


def _write_all(folder, num_samples, num_files):
    gen = DataGenerator(folder, "Norm", nnz_per_slot=[1] * SLOTS, seed=0)
    rng = np.random.default_rng(0)
    bounds = np.linspace(0, num_samples, num_files + 1).astype(int)
    paths = {"norm": [], "norm_sum": [], "tfrecord": []}
    parts = []
    raw = os.path.join(folder, "data.raw")
    for i in range(num_files):
        rec = gen.sample(int(bounds[i + 1] - bounds[i]), rng)
        n = len(rec["label"])
        keys = rec["keys"].reshape(n, SLOTS) + gen.offsets
        for name, cs in (("norm", False), ("norm_sum", True)):
            path = os.path.join(folder, f"{name}_{i}.bin")
            write_norm(path, rec["label"], rec["dense"], rec["nnz"], keys.reshape(-1), check_sum=cs)
            paths[name].append(path)
        write_raw(raw, rec["label"], rec["dense"], keys, append=i > 0)
        parts.append((rec["label"], rec["dense"], rec["keys"].reshape(n, SLOTS)))
        path = os.path.join(folder, f"part_{i}.tfrecord")
        with tf.io.TFRecordWriter(path) as w:
            for r in range(n):
                feature = {
                    "label": tf.train.Feature(float_list=tf.train.FloatList(value=rec["label"][r])),
                    "dense": tf.train.Feature(float_list=tf.train.FloatList(value=rec["dense"][r])),
                    "keys": tf.train.Feature(int64_list=tf.train.Int64List(value=keys[r])),
                    "nnz": tf.train.Feature(int64_list=tf.train.Int64List(value=rec["nnz"][r])),
                }
                w.write(
                    tf.train.Example(
                        features=tf.train.Features(feature=feature)
                    ).SerializeToString()
                )
        paths["tfrecord"].append(path)
    lists = {}
    for name in ("norm", "norm_sum"):
        lists[name] = os.path.join(folder, f"{name}.txt")
        write_file_list(lists[name], paths[name])
    lists["parquet"] = write_parquet_folder(
        os.path.join(folder, "pq"), parts, label_dim=1, dense_dim=DENSE, slot_num=SLOTS
    )
    lists["raw"] = raw
    sizes = {
        "norm": sum(map(os.path.getsize, paths["norm"])),
        "norm_sum": sum(map(os.path.getsize, paths["norm_sum"])),
        "raw": os.path.getsize(raw),
        "parquet": sum(map(os.path.getsize, glob.glob(os.path.join(folder, "pq", "*.parquet")))),
        "tfrecord": sum(map(os.path.getsize, paths["tfrecord"])),
    }
    return gen.slot_size_array, lists, paths["tfrecord"], sizes


def _tfrecord_dataset(files, batch_size, workers):
    # Same batch structure as the readers: keys as [B, 26, None] through per-slot row lengths.
    spec = {
        "label": tf.io.FixedLenFeature([1], tf.float32),
        "dense": tf.io.FixedLenFeature([DENSE], tf.float32),
        "data1": tf.io.RaggedFeature(
            tf.int64, value_key="keys", partitions=[tf.io.RaggedFeature.RowLengths("nnz")]
        ),
    }
    ds = tf.data.TFRecordDataset(files, num_parallel_reads=workers).batch(batch_size)
    ds = ds.map(lambda x: tf.io.parse_example(x, spec), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _time(ds, repeats):
    """Samples of one pass and the fastest of `repeats` timed passes (after a warm-up pass)."""
    for _ in ds:  # warm the page cache and the tf.data runtime
        pass
    best = float("inf")
    for _ in range(repeats):
        start, n = time.perf_counter(), 0
        for batch in ds.prefetch(2):
            n += int(batch["label"].shape[0])
        best = min(best, time.perf_counter() - start)
    return n, best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-samples", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--num-files", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best is shown")
    args = parser.parse_args()
    inp = hugectr.Input(
        label_dim=1, label_name="label", dense_dim=DENSE, dense_name="dense",
        data_reader_sparse_param_array=[hugectr.DataReaderSparseParam("data1", 1, True, SLOTS)],
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        slot_sizes, lists, tfrecords, sizes = _write_all(folder, args.num_samples, args.num_files)
        runs = []
        for name, kind, check in (
            ("norm", "Norm", "None"),
            ("norm_sum", "Norm", "Sum"),
            ("raw", "Raw", "None"),
            ("parquet", "Parquet", "None"),
        ):
            params = hugectr.DataReaderParams(
                data_reader_type=kind, source=[lists[name]], eval_source="", check_type=check,
                num_workers=args.num_workers,
                slot_size_array=slot_sizes if kind == "Parquet" else [],
            )  # fmt: skip
            ds = dataset_from_params(params, inp, args.batch_size, repeat=False)
            runs.append((f"{kind} (check {check})", name, *_time(ds, args.repeats)))
        ds = _tfrecord_dataset(tfrecords, args.batch_size, args.num_workers)
        runs.append(("TFRecord + tf.io.parse_example", "tfrecord", *_time(ds, args.repeats)))
    base = runs[-1][2] / runs[-1][3]
    cpu = platform.processor() or platform.machine()
    print(
        f"\nbatch {args.batch_size}, {args.num_samples} samples in {args.num_files} files, "
        f"num_workers={args.num_workers}; {os.cpu_count()} CPUs ({cpu}), "
        f"TensorFlow {tf.__version__}\n"
    )
    print("| pipeline | file MB | samples/s | MB/s | vs TFRecord |")
    print("|---|---:|---:|---:|---:|")
    for label, name, n, secs in runs:
        assert n == args.num_samples, (label, n)
        mb = sizes[name] / 1e6
        print(
            f"| {label} | {mb:.0f} | {n / secs:,.0f} | {mb / secs:,.0f} | {n / secs / base:.1f}x |"
        )


if __name__ == "__main__":
    main()
