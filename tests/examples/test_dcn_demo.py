"""The README's main job (`make demo`) end to end at reduced size, without scikit-learn.

It runs `python -m hugectr_tf.examples.dcn_demo` in a fresh interpreter where `import sklearn`
fails (a plain `pip install` has no scikit-learn), and checks the printed AUC against the planted
optimum that the demo prints beside it. The reference for both numbers is the generator's planted
label model: the optimum is the AUC of the true click probabilities on the same eval set.
"""

import math
import os
import re
import subprocess
import sys

import pytest

from hugectr_tf.examples import dcn_demo

# The demo, reduced: one epoch over 300 000 samples with vocabularies a tenth of the default, so
# that 300 iterations learn most keys (docstring of dcn_demo).
ARGS = [
    "--train-samples", "300000", "--eval-samples", "16384", "--max-iter", "300",
    "--batchsize", "1024", "--vocabulary-scale", "0.1", "--lr", "0.01",
]  # fmt: skip
NO_SKLEARN = (
    "import runpy, sys; sys.modules['sklearn'] = None; "
    "runpy.run_module('hugectr_tf.examples.dcn_demo', run_name='__main__')"
)
LINE = re.compile(r"AUC on (\d+) eval samples: (\S+)\s+best possible: (\S+)\s+gap: (\S+)")


def test_demo_prints_a_finite_auc_near_the_planted_optimum(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(
        [sys.executable, "-c", NO_SKLEARN, "--output", str(tmp_path), *ARGS],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    match = LINE.search(out.stdout)
    assert match, out.stdout[-3000:]
    samples, auc, best, gap = int(match[1]), float(match[2]), float(match[3]), float(match[4])
    assert samples == 16384
    assert math.isfinite(auc) and 0.5 < auc <= best + 0.005
    assert best - auc < 0.02, out.stdout[-2000:]
    assert abs(gap - (best - auc)) <= 2e-4  # each printed to 4 decimals
    # The HugeCTR model files it announces exist.
    assert (tmp_path / "model" / "dcn_dense_300.model").is_file()
    assert (tmp_path / "model" / "dcn.json").is_file()


def test_bad_vocabulary_scale_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        dcn_demo.main(["--vocabulary-scale", "0"])
    assert exit_info.value.code == 2
    assert "--vocabulary-scale must be positive, received 0.0" in capsys.readouterr().err
