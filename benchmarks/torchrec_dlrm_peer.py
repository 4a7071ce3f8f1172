"""The TorchRec peer of `benchmarks/train_bench.py --model dlrm`: the same DLRM trained with
TorchRec's fused CPU path, driven round by round over stdin / stdout by the benchmark.

It runs in its own virtualenv (torch, fbgemm-gpu-cpu, torchrec; no TensorFlow), made as
docs/benchmarks.md shows, and is started by train_bench as a subprocess with OMP_WAIT_POLICY=PASSIVE
(idle OpenMP threads sleep instead of spinning while the other side runs its round).

Model: `torchrec.models.dlrm.DLRM` over a `FusedEmbeddingBagCollection` (one table of `--rows`
x `--vec` per slot, sum pooling, fbgemm's CPU kernels with the AdaGrad update fused into the
backward), bottom MLP `--bottom`, dot interaction, top MLP `--top` (last layer linear),
`BCEWithLogitsLoss`, `torch.optim.Adagrad` on the dense weights, learning rate `--lr` for both.

Data: HugeCTR Raw files as the generator writes them (int32 words per record: label and dense as
float32 bits, then one per-slot id per slot), read once into memory; the training batches are
built as tensors and KeyedJaggedTensors before any timing, so the rounds time training alone.

Protocol: after `--warmup-iters` steps it prints one JSON line {"ready": true, versions, threads};
then for each input line "round" it trains `--iters` steps and prints {"seconds": s}; "eval"
prints {"auc": a} over the eval file; "quit" (or end of input) exits.
"""

import argparse
import json
import sys
import time

import numpy as np
import torch
import torchrec
from torchrec import EmbeddingBagConfig, KeyedJaggedTensor
from torchrec.models.dlrm import DLRM
from torchrec.modules.fused_embedding_modules import FusedEmbeddingBagCollection


def read_raw(path, dense_dim, slots):
    """(labels [n], dense [n, dense_dim], ids [n, slots]) of a Raw file with float words."""
    words = np.fromfile(path, dtype="<i4").reshape(-1, 1 + dense_dim + slots)
    labels = words[:, 0].copy().view(np.float32)
    dense = words[:, 1 : 1 + dense_dim].copy().view(np.float32)
    return labels, dense, words[:, 1 + dense_dim :].astype(np.int64)


def make_batches(labels, dense, ids, batch, features):
    """Whole batches as (dense tensor, KeyedJaggedTensor, label tensor), one key per slot."""
    out = []
    slots = ids.shape[1]
    for start in range(0, len(labels) - batch + 1, batch):
        sl = slice(start, start + batch)
        kjt = KeyedJaggedTensor.from_lengths_sync(
            keys=features,
            values=torch.from_numpy(np.ascontiguousarray(ids[sl].T).reshape(-1)),
            lengths=torch.ones(slots * batch, dtype=torch.int32),
        )
        out.append((torch.from_numpy(dense[sl]), kjt, torch.from_numpy(labels[sl]).reshape(-1, 1)))
    return out


def exact_auc(labels, scores):
    """AUC by ranks (ties get their average rank)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels > 0.5
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", required=True, help="Raw train file")
    p.add_argument("--eval", required=True, help="Raw eval file")
    p.add_argument("--dense-dim", type=int, default=13)
    p.add_argument("--slots", type=int, default=26)
    p.add_argument("--rows", type=int, default=100_000, help="rows per slot table")
    p.add_argument("--vec", type=int, default=16)
    p.add_argument("--bottom", type=int, nargs="+", default=[64, 16])
    p.add_argument("--top", type=int, nargs="+", default=[256, 1])
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--warmup-iters", type=int, default=10)
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    features = [f"slot_{s}" for s in range(args.slots)]
    tables = [
        EmbeddingBagConfig(
            name=f"table_{s}",
            embedding_dim=args.vec,
            num_embeddings=args.rows,
            feature_names=[features[s]],
        )
        for s in range(args.slots)
    ]
    ebc = FusedEmbeddingBagCollection(
        tables=tables,
        optimizer_type=torch.optim.Adagrad,
        optimizer_kwargs={"lr": args.lr},
        device=torch.device("cpu"),
    )
    model = DLRM(
        embedding_bag_collection=ebc,
        dense_in_features=args.dense_dim,
        dense_arch_layer_sizes=args.bottom,
        over_arch_layer_sizes=args.top,
    )
    dense_params = [
        p for name, p in model.named_parameters() if not name.startswith("sparse_arch.")
    ]
    optimizer = torch.optim.Adagrad(dense_params, lr=args.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    batches = make_batches(*read_raw(args.train, args.dense_dim, args.slots), args.batch, features)
    step_count = [0]

    def train(steps):
        model.train()
        for _ in range(steps):
            dense, kjt, label = batches[step_count[0] % len(batches)]
            step_count[0] += 1
            loss = loss_fn(model(dense, kjt), label)
            optimizer.zero_grad()
            loss.backward()  # the fused embedding applies AdaGrad to its rows here
            optimizer.step()
        return float(loss.detach())

    train(args.warmup_iters)
    ready = {
        "ready": True,
        "torch": torch.__version__,
        "torchrec": getattr(torchrec, "__version__", "?"),
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "round":
            start = time.perf_counter()
            loss = train(args.iters)
            print(json.dumps({"seconds": time.perf_counter() - start, "loss": loss}), flush=True)
        elif command == "eval":
            model.eval()
            labels, dense, ids = read_raw(args.eval, args.dense_dim, args.slots)
            scores = []
            with torch.no_grad():
                for d, kjt, _ in make_batches(labels, dense, ids, args.batch, features):
                    scores.append(torch.sigmoid(model(d, kjt)).reshape(-1).numpy())
            scores = np.concatenate(scores)
            print(json.dumps({"auc": exact_auc(labels[: len(scores)], scores)}), flush=True)
        elif command == "quit":
            break


if __name__ == "__main__":
    main()
