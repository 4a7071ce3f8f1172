"""The README's main job: train a DCN through the hugectr API on generated Criteo-like data.

Generates Norm data whose labels come from a known logistic model (so the best possible AUC is
known), trains a Deep & Cross Network written exactly as a HugeCTR 3.1 script, evaluates it, prints
the achieved AUC next to the optimum and saves HugeCTR model files.

    python -m hugectr_tf.examples.dcn_demo [--output demo_output] [--max-iter 3000]

The defaults are the README's main job (one epoch over 2.4 M samples). For a quick run, shrink
the vocabularies with the samples: `--train-samples 300000 --max-iter 300
--vocabulary-scale 0.1 --lr 0.01` (what tests/examples/test_dcn_demo.py runs). Many epochs over
few samples (e.g. 100 000 samples for 1000 iterations) overfit the embeddings and print an AUC
well below the optimum.
"""

import argparse
import os
import time

import hugectr_tf as hugectr
from hugectr_tf.tools import DataGenerator
from hugectr_tf.tools.generator import DEFAULT_SLOT_SIZES


def build_dcn(
    solver,
    reader,
    optimizer,
    data_input,
    embedding_vec_size=16,
    hidden=(256, 128),
    workspace_size_per_gpu_in_mb=64,
):
    """A HugeCTR DCN: embedding -> reshape -> concat dense -> cross network + MLP -> BCE."""
    slot_num = data_input.data_reader_sparse_param_array[0].slot_num
    width = slot_num * embedding_vec_size + data_input.dense_dim
    model = hugectr.Model(solver, reader, optimizer)
    model.add(data_input)
    model.add(
        hugectr.SparseEmbedding(
            embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
            workspace_size_per_gpu_in_mb=workspace_size_per_gpu_in_mb,
            embedding_vec_size=embedding_vec_size,
            combiner="sum",
            sparse_embedding_name="sparse_embedding1",
            bottom_name="data1",
            optimizer=optimizer,
        )
    )
    add = model.add
    dense = hugectr.DenseLayer
    L = hugectr.Layer_t
    add(
        dense(
            L.Reshape, ["sparse_embedding1"], ["reshape1"], leading_dim=width - data_input.dense_dim
        )
    )
    add(dense(L.Concat, ["reshape1", "dense"], ["concat1"]))
    # HugeCTR's DCN sample feeds the cross and deep towers through two identical slices.
    add(dense(L.Slice, ["concat1"], ["slice11", "slice12"], ranges=[(0, width), (0, width)]))
    add(dense(L.MultiCross, ["slice11"], ["multicross1"], num_layers=3))
    previous = "slice12"
    for i, units in enumerate(hidden, start=1):
        add(dense(L.InnerProduct, [previous], [f"fc{i}"], num_output=units))
        add(dense(L.ReLU, [f"fc{i}"], [f"relu{i}"]))
        previous = f"relu{i}"
    add(dense(L.Concat, [previous, "multicross1"], ["concat2"]))
    add(dense(L.InnerProduct, ["concat2"], ["fc_out"], num_output=1))
    add(dense(L.BinaryCrossEntropyLoss, ["fc_out", "label"], ["loss"]))
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="demo_output", help="folder for data and model files")
    parser.add_argument("--train-samples", type=int, default=2_400_000)
    parser.add_argument("--eval-samples", type=int, default=50_000)
    parser.add_argument("--max-iter", type=int, default=2400)  # one epoch at batch 1024
    parser.add_argument("--batchsize", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=0.001, help="HugeCTR's DCN sample uses 0.001")
    parser.add_argument(
        "--vocabulary-scale",
        type=float,
        default=1.0,
        help="multiplies the Criteo-like slot sizes (fewer samples learn smaller vocabularies)",
    )
    args = parser.parse_args(argv)
    if not args.vocabulary_scale > 0:
        parser.error(f"--vocabulary-scale must be positive, received {args.vocabulary_scale}")

    started = time.time()
    data_dir = os.path.join(args.output, "data")
    print(f"Generating {args.train_samples} train / {args.eval_samples} eval samples in {data_dir}")
    gen = DataGenerator(
        data_dir,
        "Norm",
        num_train_samples=args.train_samples,
        num_eval_samples=args.eval_samples,
        num_files=8,
        slot_size_array=[max(2, round(n * args.vocabulary_scale)) for n in DEFAULT_SLOT_SIZES],
        seed=2026,
    ).generate()
    print(
        f"Best possible AUC on the eval set (Bayes-optimal, from the planted model): "
        f"{gen.bayes_auc:.4f}"
    )

    epochs = args.max_iter * args.batchsize / args.train_samples
    if epochs > 1.5:
        print(
            f"Note: {args.max_iter} iterations of {args.batchsize} read the training data "
            f"{epochs:.1f} times; the embeddings overfit it and the AUC stays below the optimum "
            "(give about max_iter * batchsize training samples)"
        )
    eval_batches = -(-args.eval_samples // args.batchsize)
    solver = hugectr.CreateSolver(
        max_eval_batches=eval_batches,
        batchsize_eval=args.batchsize,
        batchsize=args.batchsize,
        lr=args.lr,
        vvgpu=[[0]],
        repeat_dataset=True,
        metrics_spec={hugectr.MetricsType.AUC: 1.0, hugectr.MetricsType.AverageLoss: 0.0},
    )
    optimizer = hugectr.CreateOptimizer(
        optimizer_type=hugectr.Optimizer_t.Adam, update_type=hugectr.Update_t.Local
    )
    model = build_dcn(solver, gen.reader_params(), optimizer, gen.input())
    model.compile()
    model.summary()
    model_dir = os.path.join(args.output, "model")
    os.makedirs(model_dir, exist_ok=True)
    model.graph_to_json(os.path.join(model_dir, "dcn.json"))
    history = model.fit(max_iter=args.max_iter, display=200, eval_interval=1000, snapshot=0)
    history.to_csv(os.path.join(args.output, "history.csv"))
    history.write_tensorboard(os.path.join(args.output, "tensorboard"))
    plot = plot_history(history, os.path.join(args.output, "curves.png"))
    auc = dict(_final_eval(model, eval_batches))["AUC"]
    names = model.save_params_to_files(os.path.join(model_dir, "dcn"), args.max_iter)
    print()
    print(
        f"AUC on {args.eval_samples} eval samples: {auc:.4f}   "
        f"best possible: {gen.bayes_auc:.4f}   gap: {gen.bayes_auc - auc:.4f}"
    )
    print(f"Model files: {names['dense']}, {names['sparse'][0]}/ (and optimizer states)")
    curves = [os.path.join(args.output, n) for n in ("history.csv", "tensorboard")]
    print("Curves: " + ", ".join(curves + ([plot] if plot else [])))
    print(f"Total time: {time.time() - started:.1f}s")
    return auc, gen.bayes_auc


def plot_history(history, path):
    """Saves loss and AUC against iterations as a PNG; returns the path, or None (with a note)
    when matplotlib is not installed (it is optional)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot written ({path}); pip install matplotlib")
        return None
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6))
    top.plot(*history.series("loss"), label="loss (logged iteration)")
    top.plot(*history.series("mean_loss"), label="mean loss over the interval")
    top.set_ylabel("training loss")
    top.legend()
    bottom.plot(*history.series("AUC"), marker="o")
    bottom.set_ylabel("eval AUC")
    bottom.set_xlabel("iteration")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _final_eval(model, batches):
    """One pass over the eval set after training, in HugeCTR's low-level style.

    With repeat_dataset=True the eval reader loops (as HugeCTR's). `fit` evaluated whole passes
    (max_eval_batches is one pass here), so these `batches` calls read exactly one pass.
    """
    for _ in range(batches):
        if not model.eval():
            raise RuntimeError("the evaluation reader gave no batch; check eval_source")
    return model.get_eval_metrics()


if __name__ == "__main__":
    main()
