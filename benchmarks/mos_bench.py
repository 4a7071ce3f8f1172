"""Model oversubscription at scale: a table larger than half of this machine's RAM, trained pass by
pass through the SSD parameter server, against the disk's measured bandwidth, in one run.

Steps (all in one process run):
  1. the disk: `dd` writes then reads a file with O_DIRECT (sequential MB/s, no page cache);
  2. the table: an SSD-PS folder seeded with `--table-gib` GiB of rows, optimizer state (Adam)
     and counters (`N` keys, 0..N-1, rows in key order);
  3. passes through `hugectr.Model` + `CreateMOS(use_host_memory_ps=False,
     trained_sparse_models=[folder])`: each pass has a Norm file list whose keys lie in its keyset,
     `update(keyset)` loads the keyset's rows into the working table (sized for them), the model
     trains the file list, and the next update (or the end) writes the rows back (journaled).
     "clustered" keysets are runs of adjacent rows (keys numbered by first appearance, as a table
     that grew pass by pass has them); "scattered" keysets are uniform random keys (every 4 KiB
     page holds few of their rows). The PS files are dropped from the page cache (fsync +
     posix_fadvise DONTNEED) before each load and each write-back, so reads come from the disk.
Per pass: rows and logical bytes moved, seconds, keys/s, the bytes the process read from / wrote
to storage (/proc/self/io) and their MB/s next to dd's. A pass is disk-bound when its storage
MB/s is close to dd's.

Run: `PYTHONPATH=. python benchmarks/mos_bench.py --workdir /work/mos_bench` (defaults: 13 GiB
table, 3 clustered passes of 2 M keys, 2 scattered passes of 0.5 M keys, vec 64); `--help` for the
knobs. The workdir is deleted at the end unless `--keep`.
"""

import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import hugectr_tf as hugectr  # noqa: E402
from hugectr_tf.data.file_list import write_file_list  # noqa: E402
from hugectr_tf.data.keyset import write_keyset  # noqa: E402
from hugectr_tf.data.writers import write_norm  # noqa: E402
from hugectr_tf.ps import RowBlock, SSDParameterServer, TableSpec  # noqa: E402
from hugectr_tf.ps.folder import ROW_FILES  # noqa: E402

MB = 1e6
SLOTS = 2
STEPS = ("append", "journal", "apply")  # the SSD-PS's commit steps (its `seconds`)


def machine():
    model = platform.processor()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = re.search(r"Model name:\s*(.+)", out).group(1).strip()
    except (OSError, AttributeError):
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(ram, 1),
        "load_1_5_15": [round(v, 2) for v in os.getloadavg()],
    }


def dd_bandwidth(folder, gib):
    """Sequential write then read MB/s of a `gib` GiB file with O_DIRECT (bypasses the cache)."""
    path = os.path.join(folder, "dd.bin")
    count = max(1, int(gib * 64))  # 16 MiB blocks
    out = {}
    for name, args in (
        ("write", [f"of={path}", "if=/dev/zero", "oflag=direct"]),
        ("read", [f"if={path}", "of=/dev/null", "iflag=direct"]),
    ):
        started = time.perf_counter()
        subprocess.run(["dd", "bs=16M", f"count={count}", *args], check=True,
                       capture_output=True)  # fmt: skip
        out[name + "_mb_s"] = count * 16 * 2**20 / MB / (time.perf_counter() - started)
    os.remove(path)
    return out


def io_counters():
    """(bytes read from storage, bytes written to storage) by this process so far."""
    with open("/proc/self/io") as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["read_bytes"]), int(fields["write_bytes"])


def drop_cache(folder):
    """Writes back and evicts the PS files from the page cache, so the next read is the disk's."""
    for name in list(ROW_FILES) + ["lr_history"]:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def seed_table(folder, spec, rows, chunk):
    """An SSD-PS folder of `rows` keys 0..rows-1 (Adam state, step 0), written chunk by chunk."""
    ps = SSDParameterServer(spec, folder)
    vec, k = spec.embedding_vec_size, spec.optimizer_slots
    started = time.perf_counter()
    for start in range(0, rows, chunk):
        keys = np.arange(start, min(start + chunk, rows), dtype=np.int64)
        n = len(keys)
        block = RowBlock(
            keys,
            np.full((n, vec), 0.01, np.float32),
            np.zeros(n, np.int64),
            np.zeros((n, k, vec), np.float32),
            np.zeros(n, np.int64),
        )
        ps.push(block, 0, np.zeros(0, np.float32))
    seconds = time.perf_counter() - started
    ps.close()
    return seconds


def write_pass_data(folder, name, keyset, samples, rng):
    """A Norm file list of `samples` records whose keys come from `keyset`, and its keyset file."""
    keys = rng.choice(keyset, size=samples * SLOTS)
    label = (rng.random((samples, 1)) < 0.25).astype(np.float32)
    dense = rng.random((samples, 1)).astype(np.float32)
    data = os.path.join(folder, f"{name}.bin")
    write_norm(data, label, dense, np.ones((samples, SLOTS), np.int64), keys,
               i64_input_key=True)  # fmt: skip
    source = os.path.join(folder, f"{name}.txt")
    write_file_list(source, [data])
    keyset_file = os.path.join(folder, f"{name}.keyset")
    write_keyset(keyset_file, keyset)
    return source, keyset_file


def build_model(folder, sources, keysets, eval_source, vec, workspace_mb, batch):
    solver = hugectr.CreateSolver(batchsize=batch, batchsize_eval=batch, lr=0.001,
                                  repeat_dataset=False, i64_input_key=True)  # fmt: skip
    reader = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Norm, source=sources, keyset=keysets,
        eval_source=eval_source, check_type=hugectr.Check_t.Non, num_workers=1,
    )  # fmt: skip
    opt = hugectr.CreateOptimizer(optimizer_type="Adam", update_type="Local")
    mos = hugectr.CreateMOS(train_from_scratch=False, use_host_memory_ps=False,
                            trained_sparse_models=[folder])  # fmt: skip
    model = hugectr.Model(solver, reader, opt, mos)
    sparse = hugectr.DataReaderSparseParam("data1", 1, True, SLOTS)
    model.add(hugectr.Input(1, "label", 1, "dense", [sparse]))
    model.add(hugectr.SparseEmbedding(
        embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
        workspace_size_per_gpu_in_mb=workspace_mb, embedding_vec_size=vec, combiner="sum",
        sparse_embedding_name="emb", bottom_name="data1", optimizer=opt,
    ))  # fmt: skip
    L, D = hugectr.Layer_t, hugectr.DenseLayer
    model.add(D(L.Reshape, ["emb"], ["flat"], leading_dim=SLOTS * vec))
    model.add(D(L.Concat, ["flat", "dense"], ["concat"]))
    model.add(D(L.InnerProduct, ["concat"], ["fc"], num_output=1))
    model.add(D(L.BinaryCrossEntropyLoss, ["fc", "label"], ["loss"]))
    model.compile()
    return model


def measured(fn):
    """(result, seconds, storage bytes read, storage bytes written) of fn()."""
    r0, w0 = io_counters()
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    r1, w1 = io_counters()
    return result, seconds, r1 - r0, w1 - w0


def run(args):
    os.makedirs(args.workdir, exist_ok=True)
    folder = os.path.join(args.workdir, "table0")
    data_dir = os.path.join(args.workdir, "data")
    os.makedirs(data_dir, exist_ok=True)
    spec = TableSpec(args.vec, hugectr.CreateOptimizer(optimizer_type="Adam", update_type="Local"))
    rows = int(args.table_gib * 2**30 // spec.row_bytes)
    report = {"machine": machine(), "args": vars(args).copy()}
    report["disk"] = dd_bandwidth(args.workdir, args.dd_gib)
    seed_seconds = seed_table(folder, spec, rows, args.seed_chunk)
    table_bytes = sum(os.path.getsize(os.path.join(folder, n)) for n in ROW_FILES)
    report["table"] = {
        "rows": rows,
        "bytes": table_bytes,
        "gib": table_bytes / 2**30,
        "seed_seconds": seed_seconds,
        "seed_mb_s": table_bytes / MB / seed_seconds,
    }
    rng = np.random.default_rng(0)
    plan = [("clustered", args.pass_rows)] * args.passes
    plan += [("scattered", args.scattered_rows)] * args.scattered_passes
    sources, keysets = [], []
    for i, (kind, count) in enumerate(plan):
        if kind == "clustered":
            start = (i * count) % max(1, rows - count)
            keyset = np.arange(start, start + count, dtype=np.int64)
        else:
            keyset = np.sort(rng.choice(rows, size=count, replace=False))
        source, keyset_file = write_pass_data(data_dir, f"pass{i}", keyset, args.samples, rng)
        sources.append(source)
        keysets.append(keyset_file)
    # The working table holds the largest keyset (bytes per row: docs/embedding.md, "Capacity").
    per_row = 56 + 4 * args.vec * (1 + spec.optimizer_slots)
    workspace_mb = math.ceil(max(count for _, count in plan) * per_row * 1.02 / 2**20)
    model = build_model(folder, sources, keysets, sources[0], args.vec, workspace_mb, args.batch)
    oversubscriber = model.get_model_oversubscriber()
    reader = model.get_data_reader_train()
    ps = oversubscriber.parameter_servers[0]

    def ps_seconds(fn):
        """measured(fn) plus the seconds the SSD-PS spent in each of its steps meanwhile."""
        before = dict(ps.seconds)
        out = measured(fn)
        return out, {k: ps.seconds[k] - before[k] for k in before}

    passes = []
    for i, (kind, count) in enumerate(plan):
        entry = {"pass": i, "kind": kind, "keyset_rows": count}
        if i > 0:
            drop_cache(folder)
            (_, seconds, read, written), steps = ps_seconds(oversubscriber.dump)
            passes[-1].update(dump_seconds=seconds, dump_storage_read=read,
                              dump_storage_written=written, dump_ps_seconds=steps)  # fmt: skip
        drop_cache(folder)
        (_, seconds, read, written), steps = ps_seconds(
            lambda k=keysets[i]: oversubscriber.update(k)
        )
        summary = oversubscriber.passes[-1]
        entry.update(summary)
        entry.update(load_seconds=seconds, load_storage_read=read, load_ps_seconds=steps,
                     load_table_seconds=summary["load_seconds"])  # fmt: skip
        reader.set_source(sources[i])
        started, steps = time.perf_counter(), 0
        while model.train():
            steps += 1
        entry.update(train_steps=steps, train_seconds=time.perf_counter() - started)
        passes.append(entry)
    drop_cache(folder)
    (_, seconds, read, written), steps = ps_seconds(oversubscriber.dump)
    passes[-1].update(dump_seconds=seconds, dump_storage_read=read, dump_storage_written=written,
                      dump_ps_seconds=steps)  # fmt: skip
    for entry, summary in zip(passes, oversubscriber.passes):
        entry.update(rows_written=summary["rows_written"], bytes_written=summary["bytes_written"],
                     push_seconds=summary["push_seconds"],
                     dump_table_seconds=summary["dump_seconds"])  # fmt: skip
    report["ps_rows_after"] = ps.size
    report["workspace_mb"] = workspace_mb
    report["passes"] = passes
    oversubscriber.close()
    return report


def markdown(report):
    disk, table = report["disk"], report["table"]
    breakdown = [
        "",
        "Seconds per step (load: PS read, then index lookup and decoding, then the working "
        "table's import; train; write-back: the working table's export and keyset checks, "
        "the PS's journal (with new-key appends), its in-place apply, of those two the "
        "fsyncs, and the rest of the push):",
        "",
        "| pass | PS read | lookup + decode | table import | train | table export + checks "
        "| PS journal | PS apply | (fsync) | push rest |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines = [
        f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
        f"{report['machine']['ram_gib']} GiB RAM, load {report['machine']['load_1_5_15']}.",
        f"Disk (dd, O_DIRECT, 16 MiB blocks): write {disk['write_mb_s']:.0f} MB/s, "
        f"read {disk['read_mb_s']:.0f} MB/s.",
        f"Table: {table['rows']:,} keys x vec {report['args']['vec']} with Adam state = "
        f"{table['gib']:.2f} GiB in the SSD-PS (seeded at {table['seed_mb_s']:.0f} MB/s); "
        f"working table {report['workspace_mb']} MB.",
        "",
        "| pass | keyset | rows | load s (PS read s) | load keys/s | MB (rows) | MB from disk "
        "| disk MB/s over load | train steps | write-back s (PS write s) | write-back keys/s "
        "| MB (rows) | MB to disk | disk MB/s over write-back |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in report["passes"]:
        lines.append(
            f"| {p['pass']} | {p['kind']} | {p['rows_loaded']:,} | {p['load_seconds']:.1f} "
            f"({p['pull_seconds']:.1f}) "
            f"| {p['rows_loaded'] / p['load_seconds']:,.0f} | {p['bytes_read'] / MB:.0f} "
            f"| {p['load_storage_read'] / MB:.0f} "
            f"| {p['load_storage_read'] / MB / p['load_seconds']:.0f} | {p['train_steps']} "
            f"| {p['dump_seconds']:.1f} ({p['push_seconds']:.1f}) "
            f"| {p['rows_written'] / p['dump_seconds']:,.0f} "
            f"| {p['bytes_written'] / MB:.0f} | {p['dump_storage_written'] / MB:.0f} "
            f"| {p['dump_storage_written'] / MB / p['dump_seconds']:.0f} |"
        )
        load, dump = p["load_ps_seconds"], p["dump_ps_seconds"]
        breakdown.append(
            f"| {p['pass']} | {load['read']:.2f} | {p['pull_seconds'] - load['read']:.2f} "
            f"| {p['load_table_seconds'] - p['pull_seconds']:.2f} | {p['train_seconds']:.2f} "
            f"| {p['dump_table_seconds'] - p['push_seconds']:.2f} "
            f"| {dump['append'] + dump['journal']:.2f} | {dump['apply']:.2f} "
            f"| {dump['fsync']:.2f} "
            f"| {p['push_seconds'] - sum(dump[k] for k in STEPS):.2f} |"
        )
    return "\n".join(lines + breakdown)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="mos_bench_work", help="on the disk to measure")
    parser.add_argument("--table-gib", type=float, default=13.0)
    parser.add_argument("--vec", type=int, default=64)
    parser.add_argument("--passes", type=int, default=3, help="clustered keysets")
    parser.add_argument("--pass-rows", type=int, default=2_000_000)
    parser.add_argument("--scattered-passes", type=int, default=2)
    parser.add_argument("--scattered-rows", type=int, default=500_000)
    parser.add_argument("--samples", type=int, default=16384, help="records per pass")
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--seed-chunk", type=int, default=2_000_000)
    parser.add_argument("--dd-gib", type=float, default=2.0)
    parser.add_argument("--json", default=None, help="also write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the workdir")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(args.workdir))).free
    need = args.table_gib * 2**30 * 1.3 + args.dd_gib * 2**30
    if free < need:
        sys.exit(f"mos_bench: {free / 2**30:.1f} GiB free where {need / 2**30:.1f} are needed")
    try:
        report = run(args)
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    print(markdown(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()
