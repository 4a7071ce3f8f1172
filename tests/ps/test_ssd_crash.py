"""The SSD parameter server keeps its last commit through a kill -9 at any point of a push and
through a full disk: the folder opens afterwards holding the last committed pass, whole."""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from ps_helpers import Reference, assert_holds, lr_history, make_spec

from hugectr_tf.ps import RowBlock, SSDParameterServer
from hugectr_tf.ps import ssd as ssd_module

KEYS_PER_PASS = 20_000
VEC = 16

# The child process pushes passes 1..N; pass i rewrites half of the previous pass's keys and adds
# as many new ones. KILL names the point of the last pass at which it kills itself (SIGKILL).
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from ps_helpers import make_spec, lr_history
    from hugectr_tf.ps import SSDParameterServer, ssd
    from test_ssd_crash import pass_block

    folder, passes, kill = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    spec = make_spec("Adam", vec={vec})
    ps = SSDParameterServer(spec, folder)
    if kill == "none":  # imported: wait for the test to say go
        print("ready", flush=True)
        sys.stdin.readline()

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    for i in range(1, passes + 1):
        if i == passes and kill == "before_commit":  # rows appended, journal not renamed
            ssd.os.replace = die
        if i == passes and kill == "after_commit":  # journal applied in place, manifest old
            ssd.ps_folder.write_file_atomic = die
        ps.push(pass_block(spec, i), i, lr_history(i))
        print(i, flush=True)
    """
).format(vec=VEC)


LIMITED = textwrap.dedent(
    """
    import resource, signal
    from ps_helpers import make_spec, lr_history
    from hugectr_tf.ps import SSDParameterServer
    from test_ssd_crash import pass_block
    spec = make_spec("Adam", vec={vec})
    ps = SSDParameterServer(spec, {folder!r})
    ps.push(pass_block(spec, 1), 1, lr_history(1))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = 2_000_000  # below the optimizer-state file's size after the next append
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        ps.push(pass_block(spec, 2), 2, lr_history(2))
    except OSError as err:
        print("refused:", err)
    """
)


def pass_block(spec, i):
    """Pass i's rows: keys [(i-1) * K/2, (i-1) * K/2 + K), values a function of (i, key)."""
    keys = np.arange(KEYS_PER_PASS, dtype=np.int64) + (i - 1) * KEYS_PER_PASS // 2
    n = len(keys)
    base = (keys[:, None] * 0.001 + i).astype(np.float32)
    return RowBlock(
        keys,
        base + np.arange(VEC, dtype=np.float32),
        keys % 7,
        np.repeat(base[:, None, :], 2, axis=1) * 0.5 + np.zeros((n, 2, VEC), np.float32),
        np.full(n, i, np.int64),
    )


def _reference(passes):
    ref, spec = Reference(), make_spec("Adam", vec=VEC)
    for i in range(1, passes + 1):
        ref.push(pass_block(spec, i), i, lr_history(i))
    return ref


def _python(script, *args):
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, os.path.dirname(here)]))
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip


@pytest.fixture(scope="module")
def children(tmp_path_factory):
    """The child processes of this module, started together (each spends most of its time
    importing TensorFlow): name -> (process, its folder)."""
    root = tmp_path_factory.mktemp("crash")
    (root / "child.py").write_text(CHILD)
    (root / "limited.py").write_text(LIMITED.format(vec=VEC, folder=str(root / "limited")))
    started = {}
    for name, passes in (("before_commit", 3), ("after_commit", 3), ("none", 40)):
        started[name] = (_python(root / "child.py", root / name, passes, name), root / name)
    started["limited"] = (_python(root / "limited.py"), root / "limited")
    yield started
    for process, _ in started.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("kill, survivor", [("before_commit", 2), ("after_commit", 3)])
def test_kill_at_a_commit_step_keeps_a_whole_pass(children, kill, survivor):
    child, folder = children[kill]
    out, err = child.communicate(timeout=600)
    assert child.returncode == -signal.SIGKILL, err[-2000:]
    assert out.split() == ["1", "2"]
    spec = make_spec("Adam", vec=VEC)
    ps = SSDParameterServer(spec, folder)  # recovers
    assert_holds(ps, _reference(survivor))
    assert not (folder / "journal").exists()
    # The recovered folder takes the next pass as usual.
    ps.push(pass_block(spec, 4), 4, lr_history(4))
    ref = _reference(survivor)
    ref.push(pass_block(spec, 4), 4, lr_history(4))
    assert_holds(ps, ref)


def test_kill_at_random_times_loses_no_committed_pass(children):
    rng = np.random.default_rng(7)
    passes = 40
    child, folder = children["none"]
    assert child.stdout.readline() == "ready\n", child.stderr.read()[-2000:]
    child.stdin.write("go\n")
    child.stdin.flush()
    committed = 0
    while committed < 3:  # let a few passes commit, then kill somewhere in the next ones
        line = child.stdout.readline()
        assert line, child.stderr.read()[-2000:]
        committed = int(line)
    time.sleep(rng.uniform(0.0, 0.3))
    child.kill()
    rest, _ = child.communicate()
    committed = max([committed] + [int(v) for v in rest.split()])
    assert committed < passes, "the child finished before the kill; make passes larger"
    ps = SSDParameterServer(make_spec("Adam", vec=VEC), folder)
    # The pass being written when the kill came is there whole, or not at all.
    survivor = committed + 1 if ps.step == committed + 1 else committed
    assert ps.step == survivor
    assert_holds(ps, _reference(survivor))


def test_a_full_disk_leaves_the_last_commit(tmp_path, monkeypatch):
    spec = make_spec("Adam", vec=VEC)
    ps = SSDParameterServer(spec, tmp_path / "ps", durable=False)
    ps.push(pass_block(spec, 1), 1, lr_history(1))
    sizes = {p.name: p.stat().st_size for p in (tmp_path / "ps").iterdir()}

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(SSDParameterServer, "_write_journal", full)  # after the append
    with pytest.raises(OSError, match="the disk is full.*nothing of it was committed.*step 1"):
        ps.push(pass_block(spec, 2), 2, lr_history(2))
    monkeypatch.undo()
    assert_holds(ps, _reference(1))
    assert {p.name: p.stat().st_size for p in (tmp_path / "ps").iterdir()} == sizes
    ps.push(pass_block(spec, 2), 2, lr_history(2))  # room again: the pass goes through
    assert_holds(ps, _reference(2))

    # Full while applying a committed pass: the error says so, the next open finishes it.
    monkeypatch.setattr(ssd_module.ps_folder, "write_file_atomic", full)
    with pytest.raises(OSError, match="the pass is committed"):
        ps.push(pass_block(spec, 3), 3, lr_history(3))
    with pytest.raises(RuntimeError, match="not usable"):
        ps.pull([1])
    monkeypatch.undo()
    ps.close()
    assert_holds(SSDParameterServer(spec, tmp_path / "ps"), _reference(3))


def test_a_file_size_limit_fails_the_write_cleanly(children):
    """A real write failure (RLIMIT_FSIZE: EFBIG) in a child process, then a reopen."""
    child, folder = children["limited"]
    out, err = child.communicate(timeout=600)
    assert "refused:" in out and "nothing of it was committed" in out, err[-2000:]
    assert_holds(SSDParameterServer(make_spec("Adam", vec=VEC), folder), _reference(1))
