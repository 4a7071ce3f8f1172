"""The `hugectr-tf` command: `hugectr-tf generate ...`, `hugectr-tf convert-criteo ...`,
`hugectr-tf keyset ...`.

The console script enters here, outside the `hugectr_tf` package, on purpose: importing the
package imports TensorFlow and Keras (seconds), while `--help` and `--version` should answer at
once. The commands run in `hugectr_tf.tools.cli`, imported only after the arguments are parsed.
"""

import argparse
import sys
from importlib import metadata

DISTRIBUTION = "hugectr-tf"
FORMATS = ["Norm", "Raw", "Parquet"]
CHECK_TYPES = ["Sum", "None"]


def version():
    """The installed version of hugectr-tf (its package metadata; TensorFlow is not imported)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows `(default: X)` after an option's help, except where there is nothing to show."""

    def _get_help_string(self, action):
        # `is`, not `in (None, False)`: a default of 0 equals False and must still show.
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def _int_list(text):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, e.g. 100,20,5000; received {text!r}"
        ) from None


def build_parser():
    parser = argparse.ArgumentParser(
        prog="hugectr-tf",
        description="Synthetic data, Criteo conversion and keyset files in HugeCTR's file formats.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser(
        "generate",
        help="synthetic data with a known best AUC",
        description="Writes train/ and eval/ data from a planted logistic label model and "
        "prints, as JSON, what a DataReaderParams needs (sources, slot_size_array, ...) and the "
        "best AUC any model can reach (bayes_auc).",
        formatter_class=_HelpFormatter,
    )
    gen.add_argument("--output", required=True, help="output folder (train/ and eval/ inside)")
    gen.add_argument("--format", default="Norm", choices=FORMATS, help="file format")
    gen.add_argument("--num-train", type=int, default=1_000_000, help="training records")
    gen.add_argument("--num-eval", type=int, default=50_000, help="evaluation records")
    gen.add_argument(
        "--num-files",
        type=int,
        default=4,
        help="training files (eval gets max(1, num_files // 4); Raw writes one per set)",
    )
    gen.add_argument("--dense-dim", type=int, default=13, help="dense features per record")
    gen.add_argument(
        "--slot-size-array",
        type=_int_list,
        default=None,
        help="vocabulary size of each slot, comma-separated, e.g. 100,20,5000 "
        "(default: 26 Criteo-like slots)",
    )
    gen.add_argument(
        "--one-hot",
        action="store_true",
        help="exactly one key in every slot (by default Norm data of the 26 default slots "
        "has 0..3 keys in slots 24 and 25)",
    )
    gen.add_argument("--check-type", default="Sum", choices=CHECK_TYPES, help="Norm checksum")
    gen.add_argument("--i64-input-key", action="store_true", help="int64 Norm keys (else uint32)")
    gen.add_argument(
        "--signal", type=float, default=1.0, help="weight scale (larger: higher best AUC)"
    )
    gen.add_argument("--seed", type=int, default=0, help="random seed")
    gen.add_argument(
        "--num-file-lists",
        type=int,
        default=1,
        help="Norm: split the train files into this many file lists train/file_list.<i>.txt "
        "(model oversubscription trains them pass by pass)",
    )
    gen.add_argument(
        "--keyset", action="store_true", help="write each train file list's keyset (for MOS)"
    )

    conv = sub.add_parser(
        "convert-criteo",
        help="Criteo TSV/CSV to Norm, Raw or Parquet",
        description="Converts Criteo click logs with HugeCTR-style preprocessing and prints, as "
        "JSON, the sources and slot_size_array to train on them.",
        formatter_class=_HelpFormatter,
    )
    conv.add_argument("input", help="Kaggle train.txt (TSV) or CSV with a label,I1..,C1.. header")
    conv.add_argument("--output", required=True, help="output folder (train/ and eval/ inside)")
    conv.add_argument("--format", default="Norm", choices=FORMATS, help="file format")
    conv.add_argument("--num-files", type=int, default=1, help="training files (Norm, Parquet)")
    conv.add_argument(
        "--freq-threshold",
        type=int,
        default=2,
        help="training count a category needs for its own id (rarer ones share id 0)",
    )
    conv.add_argument(
        "--eval-fraction", type=float, default=0.0, help="share of the last rows kept for eval"
    )
    conv.add_argument("--check-type", default="Sum", choices=CHECK_TYPES, help="Norm checksum")
    conv.add_argument("--i64-input-key", action="store_true", help="int64 Norm keys (else uint32)")
    conv.add_argument(
        "--keyset", action="store_true", help="write <source>.keyset next to the train list (MOS)"
    )

    keys = sub.add_parser(
        "keyset",
        help="keyset file of a Norm/Parquet file list (for MOS)",
        description="Reads the files of existing file lists and writes each list's keyset "
        "(<list>.keyset: its distinct keys) for model oversubscription; prints the paths as JSON.",
        formatter_class=_HelpFormatter,
    )
    keys.add_argument("source", nargs="+", help="file list(s); each gets <list>.keyset")
    keys.add_argument("--format", default="Norm", choices=["Norm", "Parquet"], help="file format")
    keys.add_argument("--output", default=None, help="keyset path (one source only)")
    keys.add_argument(
        "--check-type",
        default=None,
        choices=CHECK_TYPES,
        help="Norm checksum (default: read from the first file's header)",
    )
    keys.add_argument("--i64-input-key", action="store_true", help="int64 keys (else uint32)")
    keys.add_argument(
        "--slot-size-array",
        type=_int_list,
        default=None,
        help="Parquet: slot sizes whose offsets the reader adds, comma-separated",
    )
    return parser


def main(argv=None):
    """Parses the arguments, then runs the command and prints its result as JSON."""
    args = build_parser().parse_args(argv)
    # Imported here, not at the top: it imports TensorFlow, which --help and --version skip.
    from hugectr_tf.tools import cli

    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
