"""GPU embedding benchmark: hugectr_tf's CUDA core vs torch embedding_bag vs the card's copy rate.

Criteo-like batch (26 slots, one key per slot, power-law key frequency over a 10M-key vocabulary,
vec 128, batch 65536), all on one GPU, in one process:
  - hugectr_tf CUDA hash table (tests/gpu/_hctr_cuda_harness, build with tests/gpu/build.sh):
    forward (training lookup, keys already in the table), backward (per-unique-key gradient,
    ascending keys), update (sparse SGD, Local; Adam LazyGlobal as an extra row);
  - torch.nn.functional.embedding_bag(mode="sum", sparse=True) forward + backward + torch.optim.SGD
    on a dense 10M-row table (ids are the keys: no hashing);
  - a large device-to-device copy (bytes read + bytes written) as the bandwidth ceiling.
Times are medians of CUDA-event-timed iterations after warm-up, rotating over 4 batches.
Effective GB/s counts the fewest bytes each phase must move (listed in BYTES below); the hash
table's probes are not counted. Prints a markdown table last; --json writes everything.

--gpus N (N >= 2) measures the sharded table instead (benchmarks/gpu_sharded_bench.py):
1 GPU and N GPUs on the same global batch (strong scaling) and on N times the batch (weak
scaling), the exchange against NCCL's measured all-to-all bandwidth, and torch's embedding_bag
on one GPU.
"""

import argparse
import datetime
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "gpu"))
import _hctr_cuda_harness as h  # noqa: E402
from gpu_sharded_bench import run_sharded  # noqa: E402

BYTES = {
    "forward": "keys 8n + row_splits 8(bags+1) + rows read 4*vec*n + output 4*vec*bags",
    "backward": "keys 8n + row_splits 8(bags+1) + dout 4*vec*n + unique keys 8u + grads 4*vec*u",
    "update_sgd": "keys 8u + grads 4*vec*u + rows read and written 8*vec*u",
    "update_adam": "keys 8u + grads 4*vec*u + rows, m, v read and written 24*vec*u",
}


def timed(fn, iters, warmup):
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(iters):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(i)
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop) / 1e3)
    return statistics.median(times), times


def copy_bandwidth(iters):
    n = 1 << 29  # 2 GiB of float32
    src = torch.rand(n, device="cuda")
    dst = torch.empty_like(src)
    t, _ = timed(lambda i: dst.copy_(src), iters, 3)
    return 2 * n * 4 / t / 1e9  # read + write


def bench_hash(opt, args, distinct, bufs):
    """Times the CUDA hash table's phases for one optimizer; returns {name: seconds}."""
    batches, splits, dout = bufs["batches"], bufs["splits"], bufs["dout"]
    out, uniq, grads = bufs["out"], bufs["uniq"], bufs["grads"]
    n = bags = args.batch * args.slots
    update = "local" if opt == "sgd" else "lazy_global"
    table = h.HashTable(
        max_rows=distinct + 1024, vec=args.vec, seed=1, optimizer=opt, update=update
    )
    nu = [0]

    def fwd(i, training=True):
        b = batches[i % len(batches)]
        table.forward_ptr(
            b.data_ptr(), n, splits.data_ptr(), bags, "sum", training, out.data_ptr(), 0
        )

    def bwd(i):
        b = batches[i % len(batches)]
        nu[0] = table.backward_ptr(
            b.data_ptr(),
            n,
            splits.data_ptr(),
            bags,
            "sum",
            dout.data_ptr(),
            uniq.data_ptr(),
            grads.data_ptr(),
            0,
        )

    def upd(i):
        table.apply_ptr(uniq.data_ptr(), grads.data_ptr(), nu[0], 0.01, 0)

    def step(i):
        fwd(i)
        bwd(i)
        upd(i)

    def update_alone():
        # an update needs the backward of the same batch: time it after a fresh backward
        times = []
        for i in range(args.iters):
            bwd(i)
            times.append(timed(upd, 1, 0)[0])
        return statistics.median(times)

    for i in range(len(batches)):  # insert every key first: steady state afterwards
        step(i)
    res = {}
    if opt == "sgd":
        res["fwd"], _ = timed(fwd, args.iters, args.warmup)
        res["fwd_infer"], _ = timed(lambda i: fwd(i, False), args.iters, args.warmup)
        res["bwd"], _ = timed(bwd, args.iters, args.warmup)
        res["upd_sgd"] = update_alone()
        res["step_sgd"], _ = timed(step, args.iters, args.warmup)
        res["unique"] = nu[0]
    else:
        res["upd_adam"] = update_alone()
        res["step_adam"], _ = timed(step, args.iters, args.warmup)
    return res


def make_batches(args, rng):
    n = args.batch * args.slots
    perm = rng.permutation(args.vocab)  # hot ids land anywhere in the table
    batches = []
    for _ in range(args.batches):
        ids = perm[(rng.zipf(args.alpha, n) - 1) % args.vocab].astype(np.int64)
        batches.append(torch.from_numpy(ids).cuda())
    return batches


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=65536)
    p.add_argument("--slots", type=int, default=26)
    p.add_argument("--vec", type=int, default=128)
    p.add_argument("--vocab", type=int, default=10_000_000)
    p.add_argument("--alpha", type=float, default=1.05, help="zipf exponent of key frequency")
    p.add_argument("--batches", type=int, default=4)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", type=Path)
    p.add_argument("--gpus", type=int, default=1, help=">= 2: the sharded table's scaling run")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        help="with --gpus: also record this many steps of each sharded configuration with "
        "torch.profiler (CUPTI) and print GPU time per kernel and the GPUs' busy time per step",
    )
    args = p.parse_args()
    if args.gpus >= 2:
        run_sharded(args)
        return
    rng = np.random.default_rng(0)
    dev = h.device_info()
    smi = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    info = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": dev,
        "nvidia_smi": smi,
        "torch": torch.__version__,
        "config": vars(args) | {"json": str(args.json)},
        "bytes": BYTES,
    }
    print("device:", smi, "| torch", torch.__version__, "|", info["date_utc"], flush=True)

    copy_gbs = copy_bandwidth(args.iters)
    print(f"device-to-device copy: {copy_gbs:.0f} GB/s (read + write)", flush=True)

    n, bags, vec = args.batch * args.slots, args.batch * args.slots, args.vec
    batches = make_batches(args, rng)
    splits = torch.arange(n + 1, dtype=torch.int64, device="cuda")  # one key per (sample, slot)
    offsets = splits[:-1].contiguous()
    dout = torch.randn(bags, vec, device="cuda")
    out = torch.empty(bags, vec, device="cuda")
    uniq = torch.empty(n, dtype=torch.int64, device="cuda")
    grads = torch.empty(n, vec, device="cuda")
    distinct = len(torch.unique(torch.cat(batches)))
    per_batch_unique = [len(torch.unique(b)) for b in batches]
    info["distinct_keys_all_batches"] = distinct
    info["unique_keys_per_batch"] = per_batch_unique
    print(f"keys/batch {n}, unique/batch {per_batch_unique}, distinct overall {distinct}")

    res = {}
    bufs = dict(batches=batches, splits=splits, dout=dout, out=out, uniq=uniq, grads=grads)
    for opt in ("sgd", "adam"):
        res.update(bench_hash(opt, args, distinct, bufs))
        torch.cuda.empty_cache()

    # torch: dense table of the whole vocabulary, sparse gradient, plain SGD
    weight = torch.nn.Parameter(torch.randn(args.vocab, vec, device="cuda") * 0.01)
    sgd = torch.optim.SGD([weight], lr=0.01)

    def t_fwd(i):
        return F.embedding_bag(batches[i % len(batches)], weight, offsets, mode="sum", sparse=True)

    def t_step(i):
        o = t_fwd(i)
        o.backward(dout)
        sgd.step()
        sgd.zero_grad(set_to_none=True)

    with torch.no_grad():
        res["torch_fwd_nograd"], _ = timed(t_fwd, args.iters, args.warmup)
    res["torch_fwd"], _ = timed(t_fwd, args.iters, args.warmup)
    res["torch_step"], _ = timed(t_step, args.iters, args.warmup)

    u = res["unique"]
    fwd_bytes = 8 * n + 8 * (bags + 1) + 4 * vec * n + 4 * vec * bags
    bwd_bytes = 8 * n + 8 * (bags + 1) + 4 * vec * n + 8 * u + 4 * vec * u
    upd_bytes = 8 * u + 4 * vec * u + 8 * vec * u
    adam_bytes = 8 * u + 4 * vec * u + 24 * vec * u
    gbs = lambda b, t: b / t / 1e9  # noqa: E731
    info.update(results_s=res, copy_gbs=copy_gbs)
    rows = [
        ("hugectr_tf CUDA forward (train lookup)", res["fwd"], n, gbs(fwd_bytes, res["fwd"])),
        (
            "hugectr_tf CUDA forward (inference)",
            res["fwd_infer"],
            n,
            gbs(fwd_bytes, res["fwd_infer"]),
        ),
        ("hugectr_tf CUDA backward", res["bwd"], n, gbs(bwd_bytes, res["bwd"])),
        ("hugectr_tf CUDA update SGD Local", res["upd_sgd"], u, gbs(upd_bytes, res["upd_sgd"])),
        (
            "hugectr_tf CUDA update Adam LazyGlobal",
            res["upd_adam"],
            u,
            gbs(adam_bytes, res["upd_adam"]),
        ),
        ("hugectr_tf CUDA fwd+bwd+SGD step", res["step_sgd"], n, None),
        ("hugectr_tf CUDA fwd+bwd+Adam step", res["step_adam"], n, None),
        (
            "torch embedding_bag forward (no grad)",
            res["torch_fwd_nograd"],
            n,
            gbs(fwd_bytes, res["torch_fwd_nograd"]),
        ),
        ("torch embedding_bag forward", res["torch_fwd"], n, gbs(fwd_bytes, res["torch_fwd"])),
        ("torch embedding_bag fwd+bwd+sparse SGD step", res["torch_step"], n, None),
    ]
    info["table"] = [
        {"phase": r[0], "ms": r[1] * 1e3, "keys_per_s": r[2] / r[1], "gb_s": r[3]} for r in rows
    ]
    info["forward_fraction_of_copy"] = gbs(fwd_bytes, res["fwd"]) / copy_gbs
    info["step_speedup_vs_torch"] = res["torch_step"] / res["step_sgd"]
    if args.json:
        args.json.write_text(json.dumps(info, indent=1))

    print(
        f"\n{smi}; torch {torch.__version__}; batch {args.batch} x {args.slots} slots x 1 key, "
        f"vec {vec} float32, zipf {args.alpha} over {args.vocab} keys, {u} unique keys/batch; "
        f"median of {args.iters}"
    )
    print("\n| phase | ms | keys/s (update: unique keys/s) | effective GB/s | % of copy BW |")
    print("|---|---:|---:|---:|---:|")
    for name, t, keys, g in rows:
        pct = f"{100 * g / copy_gbs:.0f}%" if g else "-"
        gtxt = f"{g:.0f}" if g else "-"
        print(f"| {name} | {t * 1e3:.3f} | {keys / t:.3g} | {gtxt} | {pct} |")
    print(f"| device-to-device copy (2 GiB) | - | - | {copy_gbs:.0f} | 100% |")
    print(
        f"\nforward at {100 * info['forward_fraction_of_copy']:.0f}% of copy bandwidth "
        f"(goal >= 60%); fwd+bwd+SGD step {info['step_speedup_vs_torch']:.2f}x torch's speed "
        f"(goal >= 1.00x)"
    )


if __name__ == "__main__":
    main()
