"""The sharded CUDA table's scaling run (gpu_embedding_bench.py --gpus N).

Same data as the single-GPU benchmark (26 slots, one key per slot, zipf keys over the
vocabulary, vec 128, float32), SGD with the Local update. Configurations, each after warm-up
steps that insert every key (steady state), timed over rotating global batches:
  - 1 GPU: the sharded table with one shard (the same code path, no NCCL traffic), batch B;
  - N GPUs, global batch B (strong scaling: each GPU B/N samples);
  - N GPUs, global batch N*B (weak scaling: each GPU B samples);
  - the unsharded GPU table (GpuHashEmbedding) and torch.nn.functional.embedding_bag
    (sum, sparse SGD) on one GPU, batch B.
A phase's time is host wall-clock around the call with every GPU synchronised, median of the
iterations; keys/s counts the global batch's keys. `step_no_overlap` runs the exchanges on the
compute streams (set_overlap(False)): step_no_overlap - step is what the overlap of exchanges
and computation gains. `step_four_chunks` sends each exchange in 4 pieces, each once it is
gathered or summed (set_exchange_chunks(4); the default, 1, sends it once all of it is).
`step_serial` is the step with timing on (every exchange drained and timed alone). The overlap
probe times, on every GPU at once, an all-to-all of the forward's size alone, a 1 GiB SM copy
kernel alone and both together (on two streams, as the table).
Exchange: with timing on, the table times its all-to-all of vectors (forward) and gradients
(backward) alone (streams drained before, CUDA events around it); its bandwidth (bytes a GPU
sends to other GPUs / time) is set against NCCL's all-to-all of the same size between the
same GPUs (ncclSend/ncclRecv pairs in one group), measured in the same process.
--profile N records N steps of each sharded configuration with torch.profiler (CUPTI sees the
harness's kernels too): GPU time per step of every kernel and copy per GPU, each GPU's busy
time per step (the union of its kernels' and copies' intervals, so overlapping streams count
once) against the step's wall time, and the host's CUDA runtime calls per step. The profiled
steps are not the timed ones.
"""

import datetime
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "gpu"))
import _hctr_cuda_harness as h  # noqa: E402

BYTES_PER_ROW_SGD = 56  # key, slot id, last step, key-index share (table_checks.h) + 4 * vec


def wall(fn, iters, warmup, sync):
    for i in range(warmup):
        fn(i)
    sync()
    times = []
    for i in range(iters):
        t0 = time.perf_counter()
        fn(i)
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def sync_all(gpus):
    for g in range(gpus):
        torch.cuda.synchronize(g)


def make_keys(args, rng, count):
    """`args.batches` global batches of `count` keys each (numpy), zipf over the vocabulary."""
    perm = rng.permutation(args.vocab)
    return [
        perm[(rng.zipf(args.alpha, count) - 1) % args.vocab].astype(np.int64)
        for _ in range(args.batches)
    ]


def busy_us(intervals):
    """Length of the union of (start, end) intervals."""
    total, end = 0.0, float("-inf")
    for s, e in sorted(intervals):
        if e <= end:
            continue
        total += e - max(s, end)
        end = e
    return total


def profile_steps(step, sync, steps):
    """Per GPU: microseconds per step of every kernel/copy, busy time per step; host calls."""
    sync()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        for i in range(steps):
            step(i)
        sync()
        wall_us = (time.perf_counter() - t0) * 1e6 / steps
    kernels, intervals, host = {}, {}, {}
    for e in prof.events():
        if e.device_type == DeviceType.CUDA:
            key = (e.device_index, e.name)
            us, count = kernels.get(key, (0.0, 0))
            kernels[key] = (us + e.time_range.elapsed_us() / steps, count + 1)
            intervals.setdefault(e.device_index, []).append((e.time_range.start, e.time_range.end))
        elif e.name.startswith(("cuda", "cu", "nccl")):
            us, count = host.get(e.name, (0.0, 0))
            host[e.name] = (us + e.time_range.elapsed_us() / steps, count + 1)
    busy = {d: busy_us(v) / steps for d, v in intervals.items()}
    return dict(wall_us=wall_us, kernels=kernels, busy_us=busy, host=host, steps=steps)


def print_profile(name, prof):
    steps = prof["steps"]
    print(f"\nprofile of {name}: {steps} steps, {prof['wall_us']:.0f} us per step (wall)")
    for d, us in sorted(prof["busy_us"].items()):
        print(f"  GPU {d}: busy {us:.0f} us per step ({100 * us / prof['wall_us']:.0f}% of wall)")
    print("| GPU | kernel or copy | us per step | calls per step |")
    print("|---:|---|---:|---:|")
    rows = sorted(prof["kernels"].items(), key=lambda kv: (kv[0][0], -kv[1][0]))
    for (d, kname), (us, count) in rows:
        print(f"| {d} | {kname[:90]} | {us:.1f} | {count / steps:.1f} |")
    print("| host call | us per step | calls per step |")
    print("|---|---:|---:|")
    for hname, (us, count) in sorted(prof["host"].items(), key=lambda kv: -kv[1][0])[:15]:
        print(f"| {hname} | {us:.1f} | {count / steps:.1f} |")


def bench_sharded(args, gpus, global_keys, workspace_mb):
    """Times one configuration; returns {phase: seconds} and the exchange timings."""
    vec = args.vec
    table = h.ShardedTable(
        gpus=gpus, vec=vec, workspace_mb=workspace_mb, seed=1, optimizer="sgd", update="local"
    )
    per_gpu = len(global_keys[0]) // gpus
    splits = [torch.arange(per_gpu + 1, dtype=torch.int64, device=f"cuda:{g}") for g in range(gpus)]
    outs = [torch.empty(per_gpu, vec, device=f"cuda:{g}") for g in range(gpus)]
    douts = [torch.randn(per_gpu, vec, device=f"cuda:{g}") for g in range(gpus)]
    # each global batch as `gpus` consecutive blocks, block g on GPU g
    batches = [
        [torch.from_numpy(k[g * per_gpu : (g + 1) * per_gpu]).to(f"cuda:{g}") for g in range(gpus)]
        for k in global_keys
    ]
    sync_all(gpus)
    out_ptrs = [o.data_ptr() for o in outs]
    dout_ptrs = [d.data_ptr() for d in douts]

    def fwd(i):
        b = batches[i % len(batches)]
        table.lookup_train_ptr(
            [(b[g].data_ptr(), per_gpu, splits[g].data_ptr(), per_gpu) for g in range(gpus)],
            out_ptrs,
            args.slots,
            "sum",
        )

    def bwd(i):
        table.backward_ptr(dout_ptrs)

    def step(i):
        fwd(i)
        bwd(i)
        table.apply(0.01)

    for i in range(len(batches)):  # insert every key: steady state afterwards
        step(i)
    sync = lambda: table.sync()  # noqa: E731
    res = {"fwd": wall(fwd, args.iters, args.warmup, sync)}
    fwd(0)
    res["bwd"] = wall(bwd, args.iters, args.warmup, sync)
    res["step"] = wall(step, args.iters, args.warmup, sync)
    exchange, serial = [], []
    table.set_timing(True)  # each exchange alone: no overlap with computation
    for i in range(args.iters):
        t0 = time.perf_counter()
        step(i)
        sync()
        serial.append(time.perf_counter() - t0)
        exchange.append(table.timing())
    table.set_timing(False)
    res["step_serial"] = statistics.median(serial)
    ex = {k: statistics.median(e[k] for e in exchange) for k in exchange[0]}
    alltoall = {}
    if gpus > 1:
        table.set_overlap(False)  # exchanges on the compute streams: no overlap at all
        res["step_no_overlap"] = wall(step, args.iters, args.warmup, sync)
        table.set_overlap(True)
        table.set_exchange_chunks(4)  # each exchange in 4 pieces, each sent once ready
        res["step_four_chunks"] = wall(step, args.iters, args.warmup, sync)
        table.set_exchange_chunks(1)
        for name in ("vectors", "grads"):
            per_peer = int(ex[f"{name}_bytes"]) // (gpus - 1)
            alltoall[name] = table.alltoall_ms(per_peer, args.iters)
        alltoall["256MiB"] = table.alltoall_ms(256 << 20, args.iters)
        alltoall["probe"] = table.overlap_probe(
            int(ex["vectors_bytes"]) // (gpus - 1), 1 << 30, args.iters
        )
    if getattr(args, "profile", 0) > 0:
        res_profile = profile_steps(step, sync, args.profile)
        alltoall["profile"] = res_profile
    return res, ex, alltoall  # the table and its buffers go with this frame


def bench_single_table(args, keys, workspace_rows):
    vec, n = args.vec, len(keys[0])
    table = h.HashTable(max_rows=workspace_rows, vec=vec, seed=1, optimizer="sgd", update="local")
    batches = [torch.from_numpy(k).cuda() for k in keys]
    splits = torch.arange(n + 1, dtype=torch.int64, device="cuda")
    out = torch.empty(n, vec, device="cuda")
    dout = torch.randn(n, vec, device="cuda")
    uniq = torch.empty(n, dtype=torch.int64, device="cuda")
    grads = torch.empty(n, vec, device="cuda")

    nu = [0]

    def fwd(i):
        b = batches[i % len(batches)]
        table.forward_ptr(b.data_ptr(), n, splits.data_ptr(), n, "sum", True, out.data_ptr(), 0)

    def bwd(i):
        b = batches[i % len(batches)]
        nu[0] = table.backward_ptr(
            b.data_ptr(),
            n,
            splits.data_ptr(),
            n,
            "sum",
            dout.data_ptr(),
            uniq.data_ptr(),
            grads.data_ptr(),
            0,
        )

    def step(i):
        fwd(i)
        bwd(i)
        table.apply_ptr(uniq.data_ptr(), grads.data_ptr(), nu[0], 0.01, 0)

    for i in range(len(batches)):
        step(i)
    sync = torch.cuda.synchronize
    return {
        "fwd": wall(fwd, args.iters, args.warmup, sync),
        "bwd": wall(bwd, args.iters, args.warmup, sync),
        "step": wall(step, args.iters, args.warmup, sync),
    }


def bench_torch(args, keys):
    vec, n = args.vec, len(keys[0])
    batches = [torch.from_numpy(k).cuda() for k in keys]
    offsets = torch.arange(n, dtype=torch.int64, device="cuda")
    dout = torch.randn(n, vec, device="cuda")
    weight = torch.nn.Parameter(torch.randn(args.vocab, vec, device="cuda") * 0.01)
    sgd = torch.optim.SGD([weight], lr=0.01)

    def step(i):
        o = F.embedding_bag(batches[i % len(batches)], weight, offsets, mode="sum", sparse=True)
        o.backward(dout)
        sgd.step()
        sgd.zero_grad(set_to_none=True)

    return wall(step, args.iters, args.warmup, torch.cuda.synchronize)


def run_sharded(args):
    gpus = args.gpus
    assert torch.cuda.device_count() >= gpus, f"needs {gpus} GPUs"
    assert h.HAS_NCCL, "the harness was built without NCCL (tests/gpu/build.sh)"
    rng = np.random.default_rng(0)
    smi = (
        subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .replace("\n", " / ")
    )
    topo = subprocess.run(["nvidia-smi", "topo", "-m"], capture_output=True, text=True).stdout
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    print("devices:", smi, "| torch", torch.__version__, "|", date, flush=True)
    print(topo, flush=True)
    n = args.batch * args.slots
    keys_b = make_keys(args, rng, n)
    keys_wb = make_keys(args, rng, n * gpus)
    distinct = len(np.unique(np.concatenate(keys_wb + keys_b)))
    mb = distinct * (BYTES_PER_ROW_SGD + 4 * args.vec) / 2**20 * 1.05 + 16
    print(
        f"keys per global batch {n} (x{gpus} for weak scaling), distinct {distinct}, "
        f"workspace {mb:.0f} MB per GPU",
        flush=True,
    )

    configs = [
        ("1 GPU", 1, keys_b),
        (f"{gpus} GPUs, same global batch", gpus, keys_b),
        (f"{gpus} GPUs, {gpus}x global batch", gpus, keys_wb),
    ]
    results = {}
    for name, g, keys in configs:
        res, ex, a2a = bench_sharded(args, g, keys, mb)
        torch.cuda.empty_cache()
        prof = a2a.pop("profile", None)
        results[name] = dict(gpus=g, keys=len(keys[0]), times_s=res, exchange=ex, alltoall_ms=a2a)
        print(name, {k: f"{v * 1e3:.3f} ms" for k, v in res.items()}, ex, a2a, flush=True)
        if prof is not None:
            print_profile(name, prof)
            results[name]["profile"] = dict(
                wall_us=prof["wall_us"],
                busy_us={str(d): us for d, us in prof["busy_us"].items()},
                kernels=[[d, k, us, c] for (d, k), (us, c) in prof["kernels"].items()],
                host=[[k, us, c] for k, (us, c) in prof["host"].items()],
            )
    single = bench_single_table(args, keys_b, distinct + 1024)
    torch_step = bench_torch(args, keys_b)

    base = results["1 GPU"]
    print(
        f"\n{smi}; torch {torch.__version__}; {args.slots} slots x 1 key, vec {args.vec} "
        f"float32, zipf {args.alpha} over {args.vocab} keys, SGD Local; median of {args.iters}"
    )
    print(
        "\n| configuration | GPUs | keys / step | forward ms | fwd keys/s | backward ms "
        "| bwd keys/s | fwd+bwd+SGD ms | step keys/s | step speed vs 1 GPU |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        t, k = r["times_s"], r["keys"]
        ratio = (k / t["step"]) / (base["keys"] / base["times_s"]["step"])
        r["step_speedup_vs_1gpu"] = ratio
        print(
            f"| hugectr_tf sharded, {name} | {r['gpus']} | {k} | {t['fwd'] * 1e3:.3f} | "
            f"{k / t['fwd']:.3g} | {t['bwd'] * 1e3:.3f} | {k / t['bwd']:.3g} | "
            f"{t['step'] * 1e3:.3f} | {k / t['step']:.3g} | {ratio:.2f}x |"
        )
    print(
        f"| hugectr_tf unsharded table | 1 | {n} | {single['fwd'] * 1e3:.3f} | "
        f"{n / single['fwd']:.3g} | {single['bwd'] * 1e3:.3f} | {n / single['bwd']:.3g} | "
        f"{single['step'] * 1e3:.3f} | {n / single['step']:.3g} | - |"
    )
    print(
        f"| torch embedding_bag (sparse SGD) | 1 | {n} | - | - | - | - | "
        f"{torch_step * 1e3:.3f} | {n / torch_step:.3g} | - |"
    )

    print(
        "\n| exchange (per GPU, to other GPUs) | configuration | MB | ms | GB/s "
        "| NCCL all-to-all of that size, GB/s | fraction |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        if r["gpus"] == 1:
            continue
        ex, a2a = r["exchange"], r["alltoall_ms"]
        for phase in ("vectors", "grads"):
            b, ms = ex[f"{phase}_bytes"], ex[f"{phase}_ms"]
            own = b / ms / 1e6
            ref = b / a2a[phase] / 1e6
            r[f"{phase}_fraction_of_alltoall"] = own / ref
            print(
                f"| {phase} ({'forward' if phase == 'vectors' else 'backward'}) | {name} | "
                f"{b / 1e6:.1f} | {ms:.3f} | {own:.0f} | {ref:.0f} | {100 * own / ref:.0f}% |"
            )
        big = (256 << 20) / a2a["256MiB"] / 1e6
        print(
            f"| NCCL all-to-all, 256 MiB per peer | {name} | 268.4 | {a2a['256MiB']:.3f} | "
            f"{big:.0f} | - | - |"
        )
    print(
        "\n| configuration | step ms | exchanges in 4 chunks | exchanges on the compute stream "
        "(no overlap) | exchanges timed alone (drained) |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        t = r["times_s"]
        no_overlap = t.get("step_no_overlap", t["step"])
        four_chunks = t.get("step_four_chunks", t["step"])
        print(
            f"| {name} | {t['step'] * 1e3:.3f} | {four_chunks * 1e3:.3f} | "
            f"{no_overlap * 1e3:.3f} | {t['step_serial'] * 1e3:.3f} |"
        )
    print(
        "\n| overlap probe, every GPU at once | NCCL all-to-all alone ms | 1 GiB SM copy alone ms"
        " | both at once ms | sum of the two |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        pr = r["alltoall_ms"].get("probe")
        if pr:
            mb = r["exchange"]["vectors_bytes"] / 1e6
            print(
                f"| {name}, {mb:.1f} MB per peer | {pr['nccl_ms']:.3f} | {pr['copy_ms']:.3f} | "
                f"{pr['both_ms']:.3f} | {pr['nccl_ms'] + pr['copy_ms']:.3f} |"
            )
    weak = results[f"{gpus} GPUs, {gpus}x global batch"]["step_speedup_vs_1gpu"]
    strong = results[f"{gpus} GPUs, same global batch"]["step_speedup_vs_1gpu"]
    wb = results[f"{gpus} GPUs, {gpus}x global batch"]
    weak_vs_single = (wb["keys"] / wb["times_s"]["step"]) / (n / single["step"])
    print(
        f"\nweak scaling (fwd+bwd+SGD keys/s, {gpus} GPUs with {gpus}x the batch vs 1 GPU): "
        f"{weak:.2f}x (goal >= 1.7x); strong scaling: {strong:.2f}x; "
        f"{gpus} GPUs with {gpus}x the batch vs the unsharded table on 1 GPU: {weak_vs_single:.2f}x"
    )
    if args.json:
        info = dict(
            date_utc=date,
            devices=smi,
            topology=topo,
            torch=torch.__version__,
            config={k: str(v) for k, v in vars(args).items()},
            distinct=distinct,
            workspace_mb=mb,
            results=results,
            single_table_s=single,
            torch_step_s=torch_step,
            weak_scaling=weak,
            strong_scaling=strong,
            weak_vs_unsharded=weak_vs_single,
        )
        args.json.write_text(json.dumps(info, indent=1))
