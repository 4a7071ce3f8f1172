"""The op-library loader: a wrong or broken path gives an ImportError that says what to do."""

import subprocess
import sys

import pytest
import tensorflow as tf

from hugectr_tf import ops


def test_missing_library_lists_paths_versions_and_rebuild(tmp_path):
    wrong = tmp_path / "nowhere" / "_hugectr_tf_ops.so"
    with pytest.raises(ImportError) as info:
        ops.load_library(paths=[wrong])
    text = str(info.value)
    assert str(wrong) in text and "no such file" in text
    assert f"TensorFlow running: {tf.__version__}" in text
    assert "--no-build-isolation" in text


def test_broken_library_names_the_version_it_was_built_for(tmp_path):
    broken = tmp_path / "_hugectr_tf_ops.so"
    broken.write_bytes(b"this is not an ELF file")
    (tmp_path / "_build_info.json").write_text('{"tensorflow_version": "2.99.0"}')
    with pytest.raises(ImportError) as info:
        ops.load_library(paths=[tmp_path / "missing.so", broken])
    text = str(info.value)
    assert "missing.so: no such file" in text
    assert f"{broken}:" in text and "built for TensorFlow 2.99.0" in text


def test_environment_variable_path_is_tried_first(monkeypatch, tmp_path):
    monkeypatch.setenv("HUGECTR_TF_OPS_LIBRARY", str(tmp_path / "x.so"))
    paths = ops.candidate_paths()
    assert paths[0] == tmp_path / "x.so"
    assert paths[-1].name == ops.LIBRARY_NAME


def test_installed_library_loads():
    assert hasattr(ops.load_library(), "huge_ctr_build_info")


def test_foreign_keras_backend_is_refused_at_import():
    env = {"KERAS_BACKEND": "jax", "PATH": "/usr/bin:/bin"}
    res = subprocess.run(
        [sys.executable, "-c", "import hugectr_tf"], capture_output=True, text=True, env=env
    )
    assert res.returncode != 0
    assert "KERAS_BACKEND='jax'" in res.stderr


def test_version_checks_name_what_was_found():
    from hugectr_tf._environment import check_versions

    with pytest.raises(ImportError, match="found TensorFlow 2.15.1"):
        check_versions("2.15.1", "3.3.0", "tensorflow")
    with pytest.raises(ImportError, match="Keras 2.15.0"):
        check_versions("2.16.1", "2.15.0", "tensorflow")
    with pytest.raises(ImportError, match="'torch'"):
        check_versions("2.16.1", "3.3.0", "torch")
    check_versions("2.21.0", "3.15.1", "tensorflow")
