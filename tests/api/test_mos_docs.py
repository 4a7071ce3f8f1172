"""The commands of the docs' model-oversubscription sections run as written: docs/data.md
("Keysets": generate data with keysets, the keyset tool), then docs/api.md ("Model
oversubscription": a HugeCTR MOS script; "Inference": serving it through the cache)."""

import re
import shlex
from pathlib import Path

from hugectr_tf.data import read_keyset
from hugectr_tf.tools.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _section(doc, title):
    text = (DOCS / doc).read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def _blocks(section, lang):
    return re.findall(rf"```{lang}\n(.*?)```", section, re.S)


def test_docs_model_oversubscription_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (commands,) = _blocks(_section("data.md", "Keysets"), "")
    for line in commands.strip().splitlines():
        argv = shlex.split(line)
        assert argv[0] == "hugectr-tf"
        assert main(argv[1:]) == 0, capsys.readouterr().err
    assert len(read_keyset("data/train/file_list.1.keyset")) > 0
    namespace = {}
    (training,) = _blocks(_section("api.md", "Model oversubscription"), "python")
    exec(training, namespace)  # noqa: S102 (our own docs)
    assert namespace["model"].iteration == 24  # 3 epochs of 2 file lists of 4096, batch 1024
    assert (tmp_path / "dcn_sparse0.model" / "ps.json").is_file()  # the SSD-PS folder
    (inference,) = _blocks(_section("api.md", "Inference"), "python")
    exec(inference, namespace)  # noqa: S102
    assert 0.55 < namespace["auc"] <= 1.0 and 0.0 < namespace["session"].hit_rate() < 1.0
