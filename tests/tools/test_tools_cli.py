"""The `hugectr-tf` command: --version, defaults in --help, --help without TensorFlow, and
one-hot-only generated data."""

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hugectr_tf
import hugectr_tf_cli
from hugectr_tf.config import (
    Check_t,
    DataReaderParams,
    DataReaderSparseParam,
    DataReaderType_t,
    Input,
)
from hugectr_tf.data import dataset_from_params
from hugectr_tf.tools import DataGenerator, convert_criteo
from hugectr_tf_cli import main

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT_VERSION = re.search(
    r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M
).group(1)

# Parses --help, --version and each command's --help in a fresh process, then lists the heavy
# modules that got imported.
_HELP_WITHOUT_TENSORFLOW = """
import json, sys
import hugectr_tf_cli
for argv in (["--help"], ["--version"], ["generate", "--help"], ["convert-criteo", "--help"]):
    try:
        hugectr_tf_cli.main(argv)
    except SystemExit as done:
        assert done.code == 0, (argv, done.code)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "hugectr_tf"))
print("IMPORTED " + json.dumps(heavy))
"""


def _print_help(*command):
    with pytest.raises(SystemExit) as done:
        hugectr_tf_cli.build_parser().parse_args([*command, "--help"])
    assert done.value.code == 0


def test_help_and_version_do_not_import_tensorflow():
    res = subprocess.run(
        [sys.executable, "-c", _HELP_WITHOUT_TENSORFLOW], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("IMPORTED "))
    assert json.loads(line[len("IMPORTED ") :]) == []
    assert "--num-train" in res.stdout and "convert-criteo" in res.stdout


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"hugectr-tf {PYPROJECT_VERSION}"
    assert hugectr_tf.__version__ == PYPROJECT_VERSION


def _defaults_in_help(help_text):
    """{option: default text} from the `--option ... (default: X)` entries of argparse's help
    (an entry starts on a line indented by two spaces and a dash)."""
    shown = {}
    for entry in re.split(r"\n  (?=-)", help_text):
        option = re.match(r"(?:-\w, )?(--[a-z0-9-]+)", entry)
        default = re.findall(r"\(default: ([^)]*)\)", " ".join(entry.split()))
        if option and default:
            shown[option.group(1)] = default[-1]
    return shown


@pytest.mark.parametrize(
    "command,function,options",
    [
        (
            "generate",
            DataGenerator.__init__,
            {
                "--num-train": "num_train_samples",
                "--num-eval": "num_eval_samples",
                "--num-files": "num_files",
                "--dense-dim": "dense_dim",
                "--signal": "signal",
                "--seed": "seed",
            },
        ),
        (
            "convert-criteo",
            convert_criteo,
            {
                "--num-files": "num_files",
                "--freq-threshold": "freq_threshold",
                "--eval-fraction": "eval_fraction",
            },
        ),
    ],
)
def test_help_shows_the_defaults_of_the_python_functions(capsys, command, function, options):
    _print_help(command)
    shown = _defaults_in_help(capsys.readouterr().out)
    params = inspect.signature(function).parameters
    for option, name in options.items():
        assert option in shown, f"{command} --help shows no default for {option}"
        assert float(shown[option]) == params[name].default, option
    assert shown["--format"] == "Norm" and shown["--check-type"] == "Sum"


def test_console_script_answers_version_and_help():
    script = Path(sys.executable).parent / "hugectr-tf"
    if not script.is_file():
        pytest.skip(f"no console script at {script} (package not installed in this environment)")
    res = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == f"hugectr-tf {PYPROJECT_VERSION}"
    res = subprocess.run([str(script), "generate", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "--one-hot" in res.stdout


def _slot_key_counts(info):
    """Keys per (record, slot) of the evaluation files the command reported, read back with an
    Input that allows up to 3 keys in any slot (so the files' own counts show)."""
    slots = len(info["slot_size_array"])
    sparse = DataReaderSparseParam("data1", [3] * slots, False, slots)
    model_input = Input(
        label_dim=1,
        label_name="label",
        dense_dim=info["dense_dim"],
        dense_name="dense",
        data_reader_sparse_param_array=[sparse],
    )
    params = DataReaderParams(
        data_reader_type=DataReaderType_t.Norm,
        source=[info["source"]],
        eval_source=info["eval_source"],
        check_type=Check_t.Sum,
        slot_size_array=info["slot_size_array"],
    )
    dataset = dataset_from_params(params, model_input, 64, False, repeat=False)
    return np.array([[len(k) for k in row] for b in dataset for row in b["data1"].to_list()])


def test_one_hot_option_writes_one_key_per_slot(tmp_path, capsys):
    common = ["--num-train", "300", "--num-eval", "400", "--num-files", "1", "--dense-dim", "2"]
    assert main(["generate", "--output", str(tmp_path / "one"), "--one-hot", *common]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["nnz_per_slot"] == [1] * 26
    counts = _slot_key_counts(info)
    assert counts.shape == (400, 26) and (counts == 1).all()

    # Without the option, slots 24 and 25 are multi-hot (0..3 keys), the others one-hot.
    assert main(["generate", "--output", str(tmp_path / "multi"), *common]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["nnz_per_slot"][24:] == [3, 3]
    counts = _slot_key_counts(info)
    assert (counts[:, :24] == 1).all()
    assert counts[:, 24:].min() == 0 and counts[:, 24:].max() == 3


def test_one_hot_argument_is_checked(tmp_path):
    assert DataGenerator(tmp_path, one_hot=True).nnz_per_slot == [1] * 26
    assert DataGenerator(tmp_path, slot_size_array=[3, 4], one_hot=True).nnz_per_slot == [1, 1]
    with pytest.raises(ValueError, match=r"`one_hot=True` .* Received: nnz_per_slot=\[1, 2\]"):
        DataGenerator(tmp_path, slot_size_array=[3, 4], nnz_per_slot=[1, 2], one_hot=True)
    with pytest.raises(ValueError, match="`one_hot` must be a boolean. Received: one_hot='yes'"):
        DataGenerator(tmp_path, one_hot="yes")


def test_bad_slot_size_array_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as done:
        main(["generate", "--output", "x", "--slot-size-array", "10,abc"])
    assert done.value.code == 2
    assert "expected comma-separated integers, e.g. 100,20,5000; received '10,abc'" in (
        capsys.readouterr().err
    )
