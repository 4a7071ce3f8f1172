"""The `hugectr-tf` console command: `hugectr-tf generate ...`, `hugectr-tf convert-criteo ...`."""

import argparse
import json
import sys


def _generate(args):
    from hugectr_tf.tools.generator import DataGenerator

    gen = DataGenerator(
        args.output,
        args.format,
        num_train_samples=args.num_train,
        num_eval_samples=args.num_eval,
        num_files=args.num_files,
        dense_dim=args.dense_dim,
        slot_size_array=args.slot_size_array,
        check_type=args.check_type,
        i64_input_key=args.i64_input_key,
        signal=args.signal,
        seed=args.seed,
        num_file_lists=args.num_file_lists,
        keyset=args.keyset,
    ).generate()
    return gen.info()


def _convert(args):
    from hugectr_tf.tools.criteo import convert_criteo

    return convert_criteo(
        args.input,
        args.output,
        args.format,
        num_files=args.num_files,
        freq_threshold=args.freq_threshold,
        eval_fraction=args.eval_fraction,
        check_type=args.check_type,
        i64_input_key=args.i64_input_key,
        keyset=args.keyset,
    )


def _keyset(args):
    from hugectr_tf.tools.keyset import write_source_keyset

    if args.output and len(args.source) > 1:
        raise ValueError("--output names one keyset file: give one source with it")
    results = [
        write_source_keyset(
            args.format,
            source,
            args.output,
            check_type=args.check_type,
            i64_input_key=args.i64_input_key,
            slot_size_array=args.slot_size_array or (),
        )
        for source in args.source
    ]
    return results[0] if len(results) == 1 else results


def _int_list(text):
    return [int(v) for v in text.split(",") if v.strip()]


def build_parser():
    parser = argparse.ArgumentParser(prog="hugectr-tf", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="synthetic data with a known best AUC")
    gen.add_argument("--output", required=True, help="output folder")
    gen.add_argument("--format", default="Norm", choices=["Norm", "Raw", "Parquet"])
    gen.add_argument("--num-train", type=int, default=1_000_000)
    gen.add_argument("--num-eval", type=int, default=50_000)
    gen.add_argument("--num-files", type=int, default=4)
    gen.add_argument("--dense-dim", type=int, default=13)
    gen.add_argument("--slot-size-array", type=_int_list, default=None, help="e.g. 100,20,5000")
    gen.add_argument("--check-type", default="Sum", choices=["Sum", "None"])
    gen.add_argument("--i64-input-key", action="store_true")
    gen.add_argument("--signal", type=float, default=1.0)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--num-file-lists", type=int, default=1, help="Norm: train file lists")
    gen.add_argument("--keyset", action="store_true", help="write each list's keyset (MOS)")
    gen.set_defaults(run=_generate)

    conv = sub.add_parser("convert-criteo", help="Criteo TSV/CSV to Norm, Raw or Parquet")
    conv.add_argument("input", help="Kaggle train.txt (TSV) or CSV with a label,I1..,C1.. header")
    conv.add_argument("--output", required=True, help="output folder")
    conv.add_argument("--format", default="Norm", choices=["Norm", "Raw", "Parquet"])
    conv.add_argument("--num-files", type=int, default=1)
    conv.add_argument("--freq-threshold", type=int, default=2)
    conv.add_argument("--eval-fraction", type=float, default=0.0)
    conv.add_argument("--check-type", default="Sum", choices=["Sum", "None"])
    conv.add_argument("--i64-input-key", action="store_true")
    conv.add_argument("--keyset", action="store_true", help="write <source>.keyset (for MOS)")
    conv.set_defaults(run=_convert)

    keys = sub.add_parser("keyset", help="keyset file of a Norm/Parquet file list (for MOS)")
    keys.add_argument("source", nargs="+", help="file list(s); each gets <list>.keyset")
    keys.add_argument("--format", default="Norm", choices=["Norm", "Parquet"])
    keys.add_argument("--output", default=None, help="keyset path (one source only)")
    keys.add_argument("--check-type", default=None, choices=["Sum", "None"],
                      help="Norm: default read from the first file's header")  # fmt: skip
    keys.add_argument("--i64-input-key", action="store_true", help="int64 keys (else uint32)")
    keys.add_argument("--slot-size-array", type=_int_list, default=None,
                      help="Parquet: slot sizes whose offsets the reader adds")  # fmt: skip
    keys.set_defaults(run=_keyset)
    return parser


def main(argv=None):
    """Runs a subcommand and prints its result (sources, slot_size_array, ...) as JSON."""
    args = build_parser().parse_args(argv)
    try:
        info = args.run(args)
    except (OSError, ValueError) as err:
        print(f"hugectr-tf {args.command}: error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
