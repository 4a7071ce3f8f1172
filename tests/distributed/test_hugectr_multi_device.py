"""The hugectr API on several devices, as docs/distributed.md shows it (its commands and script
are run here as written; host names become loopback ports).

A HugeCTR-style DCN script with vvgpu=[[0, 1]] (2 logical CPU devices) and, started twice with
TF_CONFIG, with vvgpu=[[0], [0]] (2 worker processes, MultiWorkerMirroredStrategy) gives the
predictions of the same script with vvgpu=[[0]] on the same global batches.
"""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import hugectr_tf as hugectr
from hugectr_tf.api.training import Trainer
from hugectr_tf.distributed import placement_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "distributed.md"
ONE_DEVICE, TWO_DEVICES, TWO_NODES = "vvgpu=[[0]]", "vvgpu=[[0, 1]]", "vvgpu=[[0], [0]]"


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


SCRIPT = next(b for b in _blocks("python") if b.startswith("# dcn_multi_device.py"))
GENERATE = next(b for b in _blocks("bash") if b.startswith("hugectr-tf generate"))
LAUNCHES = [b.strip() for b in _blocks("bash") if b.startswith("TF_CONFIG=")]


def _script(vvgpu):
    assert TWO_DEVICES in SCRIPT
    return SCRIPT.replace(TWO_DEVICES, vvgpu)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """docs/distributed.md's `hugectr-tf generate ...` command, run as written."""
    folder = tmp_path_factory.mktemp("multi_device")
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    subprocess.run(
        GENERATE,
        shell=True,
        cwd=folder,
        check=True,
        env={**os.environ, "PATH": path},
        capture_output=True,
    )
    return folder / "data"


def _run_in_process(data, folder, vvgpu):
    """Runs the doc's script in `folder`; saves HugeCTR's model files there as `dcn*`.
    Returns (predictions, saved file names, the Model)."""
    folder.mkdir()
    (folder / "data").symlink_to(data)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        namespace = {"__name__": "__main__"}
        exec(compile(_script(vvgpu), "dcn_multi_device.py", "exec"), namespace)  # noqa: S102
        model = namespace["model"]
        names = model.save_params_to_files(str(folder / "dcn"), 40)
    finally:
        os.chdir(cwd)
    return np.loadtxt(folder / "predictions.txt"), names, model


@pytest.fixture(scope="module")
def one_device(data, tmp_path_factory):
    return _run_in_process(data, tmp_path_factory.mktemp("one") / "run", ONE_DEVICE)


def test_two_devices_match_one_device(data, one_device, tmp_path, capsys):
    want, want_files, one = one_device
    got, got_files, two = _run_in_process(data, tmp_path / "two", TWO_DEVICES)
    out = capsys.readouterr().out
    assert "TensorFlow sees no GPU, so training runs on 2 logical CPU devices" in out
    table, one_table = two.embedding_layers[0].table, one.embedding_layers[0].table
    assert table.num_shards == 2
    # max_iter=40: one sparse step per global batch, not one per device
    assert int(table.stats()["step"]) == int(one_table.stats()["step"]) == 40
    assert len(got) == len(want) == 2048
    np.testing.assert_allclose(got, want, atol=1e-4)
    # HugeCTR's model files hold the whole model whatever the number of devices.
    sparse, want_sparse = Path(got_files["sparse"][0]), Path(want_files["sparse"][0])
    assert (sparse / "key").read_bytes() == (want_sparse / "key").read_bytes()
    for path, want_path in (
        (sparse / "emb_vector", want_sparse / "emb_vector"),
        (got_files["dense"], want_files["dense"]),
    ):
        got_values, want_values = np.fromfile(path, "<f4"), np.fromfile(want_path, "<f4")
        np.testing.assert_allclose(got_values, want_values, atol=1e-5)
    # The one device's sparse files load into the two devices' table, split by key mod 2.
    two.load_sparse_weights(want_files["sparse"])
    two.load_sparse_optimizer_states(want_files["opt_sparse"])
    loaded, saved = table.export(), one_table.export()
    for name in ("keys", "rows", "optimizer_slots", "last_step", "step"):
        np.testing.assert_array_equal(loaded[name], saved[name], err_msg=name)
    for shard, state in table.shard_states().items():
        np.testing.assert_array_equal(np.mod(state["keys"].numpy(), 2), shard)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_worker_processes_match_one_process(data, one_device, tmp_path):
    assert len(LAUNCHES) == 2
    hosts = {"host1:12345": f"127.0.0.1:{_free_port()}", "host2:12345": f"127.0.0.1:{_free_port()}"}
    workers = []
    for i, command in enumerate(LAUNCHES):
        folder = tmp_path / f"worker{i}"
        folder.mkdir()
        (folder / "data").symlink_to(data)
        (folder / "dcn_multi_device.py").write_text(_script(TWO_NODES))
        for name, address in hosts.items():
            command = command.replace(name, address)
        assert json.loads(shlex.split(command)[0].split("=", 1)[1])["task"]["index"] == i
        command = command.replace(" python ", f" {shlex.quote(sys.executable)} ")
        workers.append(
            subprocess.Popen(
                command, shell=True, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        )
    logs = []
    try:
        for worker in workers:
            logs.append(worker.communicate(timeout=900)[0].decode())
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for i, (worker, log) in enumerate(zip(workers, logs)):
        assert worker.returncode == 0, log[-3000:]
        assert (
            f"MultiWorkerMirroredStrategy over 2 nodes, 2 replicas (this process is node {i})"
            in log
        )
        predictions = np.loadtxt(tmp_path / f"worker{i}" / "predictions.txt")
        np.testing.assert_allclose(predictions, one_device[0], atol=1e-4)


def _solver(**kwargs):
    return hugectr.CreateSolver(batchsize=64, batchsize_eval=64, **kwargs)


def test_untranslatable_solver_arguments_are_logged(capsys):
    placement = placement_for(_solver(async_mlp_wgrad=True, use_cuda_graph=False, overlap_lr=True))
    assert placement.strategy is None
    assert placement.notes == [
        "async_mlp_wgrad=True, overlap_lr=True have no TensorFlow counterpart and change "
        "nothing here (docs/distributed.md)"
    ]
    assert placement_for(_solver()).notes == []


@pytest.mark.parametrize(
    "vvgpu, env, error",
    [
        ([[0, 0]], None, r"lists a device twice on one node. Received: vvgpu=\[\[0, 0\]\]"),
        ([[0, -1]], None, "must hold non-negative device indices"),
        ([[0], [1]], None, r"asks for 2 nodes: start one process per node with TF_CONFIG"),
        (
            [[0], [0], [0]],
            {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}},
            r"lists 3 nodes but TF_CONFIG's cluster has 2",
        ),
        (
            [[0, 1], [0, 1]],
            {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}},
            r"without GPUs each node trains on its CPU, one replica per node",
        ),
    ],
)
def test_bad_vvgpu(vvgpu, env, error, monkeypatch):
    if env is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(env))
    with pytest.raises(ValueError, match=error):
        placement_for(_solver(vvgpu=vvgpu))


def test_more_devices_than_tensorflow_started_with():
    with pytest.raises(
        RuntimeError, match=r"8 devices were asked for, but TensorFlow already runs"
    ):
        hugectr.Model(
            _solver(vvgpu=[list(range(8))]),
            hugectr.DataReaderParams(
                data_reader_type=hugectr.DataReaderType_t.Norm,
                source=["unused.txt"],
                eval_source="unused.txt",
                check_type=hugectr.Check_t.Sum,
            ),
            hugectr.CreateOptimizer(),
        )


def test_jit_compile_with_several_devices_raises():
    """The XLA split step runs on one device; with replicas it is refused, not ignored."""
    with pytest.raises(ValueError, match=r"jit_compile=True.*vvgpu of 2 devices"):
        Trainer(
            _solver(),
            None,
            None,
            strategy=SimpleNamespace(num_replicas_in_sync=2),
            jit_compile=True,
        )


def test_model_oversubscription_with_several_devices_raises():
    """CreateMOS trains one working table on one device; with replicas it is refused."""
    with pytest.raises(ValueError, match=r"model oversubscription \(CreateMOS\) trains on one"):
        hugectr.Model(
            _solver(vvgpu=[[0, 1]], repeat_dataset=False),
            hugectr.DataReaderParams(
                data_reader_type=hugectr.DataReaderType_t.Norm,
                source=["unused.txt"],
                keyset=["unused.keyset"],
                eval_source="unused.txt",
                check_type=hugectr.Check_t.Sum,
            ),
            hugectr.CreateOptimizer(),
            hugectr.CreateMOS(train_from_scratch=True, dest_sparse_models=["unused_sparse"]),
        )
