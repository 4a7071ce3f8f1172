"""Every code block of README.md and docs/*.md runs as written.

Blocks run in document order, each document in its own temporary working directory: ```python
blocks share one namespace per document (as a reader pasting them into one session), ```bash
blocks run in a shell with this environment's `hugectr-tf` on the PATH. The blocks generate the
data they read themselves; the only thing prepared here is what a reader brings from elsewhere
(`train.txt` for the Criteo converter: the real sample in ../shared/data/criteo).

Blocks that do not run say so: ```text blocks are listings (file trees, signatures), and a block
preceded by `<!-- not run by tests/test_docs.py: <reason> -->` is reported as skipped with that
reason (installing packages, needing a GPU, or taking minutes). A fence without a language fails.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from hugectr_tf.data import read_keyset

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CRITEO_SAMPLE = ROOT.parent / "shared" / "data" / "criteo" / "criteo_kaggle_head999.tsv"
FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.S | re.M)
NOT_RUN = re.compile(r"<!--\s*not run by tests/test_docs.py:\s*(.*?)\s*-->\s*$", re.S)


def _blocks(path):
    """[(line, language, code, reason it is not run or None)] of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    out, previous_end = [], 0
    for m in FENCE.finditer(text):
        before = text[previous_end : m.start()]
        reason = NOT_RUN.search(before)
        line = text.count("\n", 0, m.start()) + 1
        out.append((line, m[1], m[2], reason[1] if reason else None))
        previous_end = m.end()
    return out


CASES = [(path, *block) for path in DOCS for block in _blocks(path)]
IDS = [f"{p.relative_to(ROOT)}:{line}-{lang or 'none'}" for p, line, lang, _, _ in CASES]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Per document: its working directory and Python namespace, kept across its blocks."""
    made = {}

    def session(path):
        if path not in made:
            folder = tmp_path_factory.mktemp(path.stem)
            if CRITEO_SAMPLE.is_file():
                shutil.copy(CRITEO_SAMPLE, folder / "train.txt")
            made[path] = (folder, {"__name__": f"doc_{path.stem}"})
        return made[path]

    return session


def _run_python(code, folder, namespace):
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        exec(compile(code, str(folder / "block.py"), "exec"), namespace)  # noqa: S102 (our docs)
    finally:
        os.chdir(cwd)


def _run_bash(code, folder):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"


@pytest.mark.parametrize("path, line, language, code, reason", CASES, ids=IDS)
def test_code_block_runs(sessions, path, line, language, code, reason):
    assert language, f"{path.name}:{line}: give the fence a language (python, bash or text)"
    if reason is not None:
        pytest.skip(f"{path.name}:{line} not run: {reason}")
    if language == "text":
        pytest.skip(f"{path.name}:{line} is a listing (```text)")
    assert language in ("python", "bash"), f"{path.name}:{line}: unknown language {language!r}"
    if "convert-criteo" in code or "convert_criteo" in code:
        if not CRITEO_SAMPLE.is_file():
            pytest.skip(f"the Criteo sample {CRITEO_SAMPLE} (the reader's train.txt) is missing")
    folder, namespace = sessions(path)
    if language == "python":
        _run_python(code, folder, namespace)
    else:
        _run_bash(code, folder)
    CHECKS.get((path.name, language, _first_line(code)), lambda *_: None)(folder, namespace)


def _first_line(code):
    return code.strip().splitlines()[0]


def _readme_keras_model_predicts(folder, namespace):
    model = namespace["model"]
    values = tf.constant(np.arange(4 * 26, dtype=np.int64))
    keys = tf.RaggedTensor.from_uniform_row_length(
        tf.RaggedTensor.from_row_lengths(values, tf.ones(4 * 26, tf.int64)), 26
    )
    out = model({"keys": keys, "dense": tf.zeros((4, 13))})
    assert out.shape == (4, 1) and np.all(np.isfinite(out.numpy()))


def _readme_hugectr_model_trained(folder, namespace):
    model = namespace["model"]
    assert model.iteration == 100 and np.isfinite(model.get_current_loss())
    assert (folder / "dcn_dense_100.model").is_file()


def _data_keysets_written(folder, namespace):
    for i in (0, 1):
        keys = read_keyset(folder / f"data/train/file_list.{i}.keyset")
        assert len(keys) > 0 and np.all(np.diff(keys) > 0)


def _api_mos_trained(folder, namespace):
    assert namespace["model"].iteration == 24  # 3 epochs of 2 file lists of 4096, batch 1024
    assert (folder / "dcn_sparse0.model" / "ps.json").is_file()  # the SSD-PS folder
    passes = namespace["model"].get_model_oversubscriber().passes
    assert len(passes) == 6 and passes[-1]["rows_loaded"] > 0


def _api_mos_served(folder, namespace):
    assert 0.55 < namespace["auc"] <= 1.0 and 0.0 < namespace["session"].hit_rate() < 1.0


# Extra checks after a block ran: (document, language, first line) -> check(folder, namespace).
MOS_TRAINING = (
    "# Two file lists with their keysets, trained pass by pass through an SSD parameter server"
)
MOS_SERVING = "# The model trained above, served from its SSD-PS folder behind an embedding cache"
CHECKS = {
    (
        "data.md",
        "bash",
        "hugectr-tf generate --output data --num-train 8192 --num-eval 2048 "
        "--num-file-lists 2 --keyset --i64-input-key",
    ): _data_keysets_written,
    ("api.md", "python", MOS_TRAINING): _api_mos_trained,
    ("api.md", "python", MOS_SERVING): _api_mos_served,
    ("README.md", "python", "import keras"): _readme_keras_model_predicts,
    ("README.md", "python", "import hugectr_tf as hugectr"): _readme_hugectr_model_trained,
}


def test_every_check_names_a_block():
    firsts = {(p.name, lang, _first_line(code)) for p, _, lang, code, _ in CASES}
    assert set(CHECKS) <= firsts
