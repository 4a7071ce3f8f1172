"""The commands of `hugectr-tf` (parsed by the top-level `hugectr_tf_cli` module, which imports
this one only once a command has to run): `generate`, `convert-criteo` and `keyset`."""

import json
import sys

import tensorflow as tf

from hugectr_tf.tools.criteo import convert_criteo
from hugectr_tf.tools.generator import DataGenerator
from hugectr_tf.tools.keyset import write_source_keyset


def _generate(args):
    gen = DataGenerator(
        args.output,
        args.format,
        num_train_samples=args.num_train,
        num_eval_samples=args.num_eval,
        num_files=args.num_files,
        dense_dim=args.dense_dim,
        slot_size_array=args.slot_size_array,
        one_hot=args.one_hot,
        check_type=args.check_type,
        i64_input_key=args.i64_input_key,
        signal=args.signal,
        seed=args.seed,
        num_file_lists=args.num_file_lists,
        keyset=args.keyset,
    ).generate()
    return gen.info()


def _convert(args):
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


COMMANDS = {"generate": _generate, "convert-criteo": _convert, "keyset": _keyset}


def run(args):
    """Runs the parsed command `args.command`; prints its result (sources, slot_size_array, ...)
    as JSON and returns 0, or prints the error and returns 2."""
    try:
        info = COMMANDS[args.command](args)
    except (OSError, ValueError, tf.errors.OpError) as err:
        # A reader op's error (a corrupt record) carries TensorFlow's own framing; its message
        # names the file and the field.
        message = err.message if isinstance(err, tf.errors.OpError) else err
        print(f"hugectr-tf {args.command}: error: {message}", file=sys.stderr)
        return 2
    print(json.dumps(info, indent=1))
    return 0
