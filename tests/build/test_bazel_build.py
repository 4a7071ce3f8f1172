"""The Bazel build in bazel/ makes the op library setup.py makes: same sources, same ops, and the
op tests (tests/ops) pass against it, loaded through HUGECTR_TF_OPS_LIBRARY.

Skipped when `bazel` is not on the PATH (docs/development.md, "Bazel", says how to get one). The
first build compiles everything (minutes); later runs find it built and only check it.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = ROOT / "bazel"
LIBRARY = WORKSPACE / "bazel-bin" / "_hugectr_tf_ops.so"
BAZEL = shutil.which("bazel")
DEVELOPMENT_MD = ROOT / "docs" / "development.md"
TARGET = "//:ops"

NO_BAZEL = (
    "bazel is not on the PATH; on Debian `apt-get install -y bazel-bootstrap` "
    "(docs/development.md, section Bazel)"
)

# Runs the op tests in this process against the library named by HUGECTR_TF_OPS_LIBRARY, then
# says which op libraries the process mapped: the loader falls back to the package's library
# when the override fails to load, and that must not pass unnoticed.
_RUN_OP_TESTS = """
import json, sys, pytest
code = pytest.main(["tests/ops", "-q", "-p", "no:cacheprovider"])
with open("/proc/self/maps") as maps:
    mapped = {line.split()[-1] for line in maps if line.rstrip().endswith("_hugectr_tf_ops.so")}
print("MAPPED " + json.dumps(sorted(mapped)))
sys.exit(int(code))
"""

# The op wrappers TensorFlow generates for a library: one per registered op (huge_ctr_<name>).
_LIST_OPS = """
import json, sys, tensorflow as tf
module = tf.load_op_library(sys.argv[1])
print("OPS " + json.dumps(sorted(n for n in dir(module) if n.startswith("huge_ctr_"))))
"""


def _bazel(*args):
    """Runs one Bazel command in bazel/. The server the first call starts is shut down by the
    fixture below, and exits by itself after two idle minutes should that never run."""
    cmd = [BAZEL, "--max_idle_secs=120", *args]
    if args[0] != "shutdown":
        cmd.append(f"--repo_env=PYTHON_BIN_PATH={sys.executable}")
    res = subprocess.run(cmd, cwd=WORKSPACE, capture_output=True, text=True, timeout=3600)
    assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stderr[-6000:]}"
    return res.stdout


def _run_python(script, *args, env=None):
    res = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    return res


def _tagged_json(stdout, tag):
    line = next(x for x in stdout.splitlines() if x.startswith(tag + " "))
    return json.loads(line[len(tag) + 1 :])


@pytest.fixture(scope="module")
def bazel_library():
    if BAZEL is None:
        pytest.skip(NO_BAZEL)
    try:
        _bazel("build", TARGET)
        assert LIBRARY.is_file(), f"bazel reported success but {LIBRARY} is missing"
        yield LIBRARY
    finally:
        _bazel("shutdown")


def test_bazel_compiles_the_sources_setup_py_compiles(bazel_library):
    out = _bazel("query", "labels(srcs, @hugectr_tf_src//:core + @hugectr_tf_src//:tf_ops)")
    from_bazel = sorted(line.split("//:", 1)[1] for line in out.split() if "//:" in line)
    # setup.py's CPU build: every cc/**/*.cc except the CUDA ones (*.cu.cc; *.cu is not .cc).
    from_setup = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "cc").rglob("*.cc")
        if not p.name.endswith(".cu.cc")
    )
    assert from_bazel == from_setup


def test_bazel_library_registers_the_same_ops(bazel_library):
    package_library = ROOT / "hugectr_tf" / "_hugectr_tf_ops.so"
    if not package_library.is_file():
        pytest.skip(f"no setup.py build at {package_library} to compare with")
    listed = {}
    for path in (bazel_library, package_library):
        res = _run_python(_LIST_OPS, str(path))
        assert res.returncode == 0, res.stderr[-4000:]
        listed[path] = _tagged_json(res.stdout, "OPS")
    assert listed[bazel_library] == listed[package_library]
    assert "huge_ctr_build_info" in listed[bazel_library]


def test_op_tests_pass_against_the_bazel_library(bazel_library):
    env = dict(os.environ, HUGECTR_TF_OPS_LIBRARY=str(bazel_library))
    res = _run_python(_RUN_OP_TESTS, env=env)
    assert res.returncode == 0, f"tests/ops failed against {bazel_library}:\n{res.stdout[-8000:]}"
    # /proc/self/maps names the file behind bazel-bin's link.
    assert _tagged_json(res.stdout, "MAPPED") == [str(bazel_library.resolve())]


def test_documented_commands_are_the_ones_run_here():
    """docs/development.md shows the commands this module runs (with the venv's Python)."""
    section = DEVELOPMENT_MD.read_text().split("\n## Bazel\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    assert "apt-get install -y bazel-bootstrap" in block
    assert re.search(r"cd bazel && bazel build --repo_env=PYTHON_BIN_PATH=\S+ " + TARGET, block)
    library = LIBRARY.relative_to(ROOT).as_posix()
    assert re.search(rf'HUGECTR_TF_OPS_LIBRARY="\$PWD/{library}" \\\n.*pytest tests/ops', block)
