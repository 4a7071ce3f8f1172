"""`pip install .` builds against the TensorFlow of the environment it installs into.

The build backend (build_backend/hugectr_tf_build.py) asks for the supported TensorFlow already
installed there, stops on an unsupported one, and the wheel requires the TensorFlow it was
compiled against. Environments here are real virtualenvs holding a stand-in `tensorflow`
distribution (metadata and an empty module: what pip and the backend look at), except in the
full install test, which installs a real older TensorFlow and compiles the library against it.
That one takes about ten minutes on 2 cores and runs only with HUGECTR_TF_INSTALL_TEST=1
(CI sets it); HUGECTR_TF_INSTALL_TEST_TF picks the release (default 2.20.0).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
from importlib import metadata
from pathlib import Path

import pytest
import tensorflow as tf

from hugectr_tf import _environment

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "build_backend"))
import tensorflow_requirements as req  # noqa: E402 (from build_backend/, added above)

RANGE = ">=2.16,<2.22"  # hugectr_tf/_environment.py's bounds, written as pip reads them


def _make_venv(path, with_pip):
    venv.EnvBuilder(with_pip=with_pip, clear=True).create(path)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return python, Path(purelib)


def _install_stand_in(site_packages, name, version):
    """A distribution `name` at `version` that provides the `tensorflow` module (empty)."""
    (site_packages / "tensorflow").mkdir()
    (site_packages / "tensorflow" / "__init__.py").write_text(f'__version__ = "{version}"\n')
    info = site_packages / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "top_level.txt").write_text("tensorflow\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text(
        f"tensorflow/__init__.py,,\n{info.name}/METADATA,,\n{info.name}/top_level.txt,,\n"
        f"{info.name}/INSTALLER,,\n{info.name}/RECORD,,\n"
    )


def _copy_sources(dest):
    """The repository's files as git sees them (no build outputs, no .venv)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _pip_env():
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    return env


def test_supported_range_is_the_one_the_package_and_makefile_use():
    assert (_environment.TF_MIN, _environment.TF_MAX_EXCLUSIVE) == ((2, 16), (2, 22))
    assert req.SUPPORTED == RANGE
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^TF_RANGE \?= (.*)$", makefile, re.M).group(1) == RANGE


@pytest.mark.parametrize("name", ["tensorflow-cpu", "tensorflow"])
def test_build_asks_for_the_installed_supported_tensorflow(tmp_path, name):
    python, site = _make_venv(tmp_path / "env", with_pip=False)
    _install_stand_in(site, name, "2.19.1")
    assert req.tensorflow_distributions_of(str(python)) == [(name, "2.19.1")]
    assert req.build_requirements(str(python)) == [f"{name}==2.19.1"]


def test_build_without_tensorflow_asks_for_the_newest_supported(tmp_path):
    python, _ = _make_venv(tmp_path / "env", with_pip=False)
    assert req.build_requirements(str(python)) == [req.default_distribution() + RANGE]
    expected = "tensorflow-cpu" if sysconfig.get_platform() == "linux-x86_64" else "tensorflow"
    assert req.default_distribution() == expected


def test_unsupported_tensorflow_stops_the_build_with_its_name(tmp_path):
    python, site = _make_venv(tmp_path / "env", with_pip=False)
    _install_stand_in(site, "tensorflow-cpu", "2.15.1")
    with pytest.raises(SystemExit) as stopped:
        req.build_requirements(str(python))
    text = str(stopped.value.code)
    assert "has TensorFlow tensorflow-cpu 2.15.1" in text and str(python) in text
    assert f"supports TensorFlow {RANGE}" in text and "will not replace yours" in text


def test_wheel_requires_the_tensorflow_it_was_compiled_against():
    major_minor = ".".join(tf.__version__.split(".")[:2])
    (name, _), *_ = req.tensorflow_distributions()
    assert req.runtime_requirements() == [f"{name}=={major_minor}.*"]
    # The metadata pip installed (a stale hugectr_tf.egg-info in the working directory, left by
    # an in-tree build, would otherwise shadow it).
    site = [sysconfig.get_paths()["purelib"]]
    (installed,) = [d for d in metadata.distributions(path=site) if d.name == "hugectr-tf"]
    assert f"{name}=={major_minor}.*" in installed.requires


def test_pip_install_reports_an_unsupported_tensorflow_and_keeps_it(tmp_path):
    python, site = _make_venv(tmp_path / "env", with_pip=True)
    _install_stand_in(site, "tensorflow-cpu", "2.15.1")
    sources = _copy_sources(tmp_path / "src")
    res = subprocess.run(
        [str(python), "-m", "pip", "install", str(sources)],
        capture_output=True,
        text=True,
        env=_pip_env(),
        timeout=900,
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-4000:]
    assert "has TensorFlow tensorflow-cpu 2.15.1" in out, out[-4000:]
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout
    assert re.search(r"^tensorflow[-_]cpu==2\.15\.1$", listed, re.M | re.I), listed
    assert "hugectr" not in listed.lower()


@pytest.mark.skipif(
    os.environ.get("HUGECTR_TF_INSTALL_TEST") != "1",
    reason="a real isolated install (about 10 minutes): set HUGECTR_TF_INSTALL_TEST=1",
)
def test_isolated_pip_install_builds_against_the_older_tensorflow_installed(tmp_path):
    version = os.environ.get("HUGECTR_TF_INSTALL_TEST_TF", "2.20.0")
    python, _ = _make_venv(tmp_path / "env", with_pip=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    env = _pip_env()
    res = subprocess.run([*pip, f"tensorflow-cpu=={version}"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-4000:]
    sources = _copy_sources(tmp_path / "src")
    res = subprocess.run(
        [*pip, str(sources)], capture_output=True, text=True, env=env, timeout=3000
    )
    assert res.returncode == 0, (res.stdout + res.stderr)[-6000:]
    check = textwrap.dedent(
        """
        import json
        from importlib import metadata
        import tensorflow as tf
        from hugectr_tf.ops.build_info_ops import build_info, sum_checksum
        print("RESULT " + json.dumps({
            "running": tf.__version__,
            "built_for": build_info()["tensorflow_version"],
            "checksum": int(sum_checksum([b"abc"]).numpy()[0]),
            "requires": metadata.requires("hugectr-tf"),
        }))
        """
    )
    res = subprocess.run(
        [str(python), "-c", check],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(env, KERAS_BACKEND="tensorflow"),
    )
    assert res.returncode == 0, res.stderr[-4000:]
    line = next(x for x in res.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    assert result["running"] == version and result["built_for"] == version
    assert result["checksum"] == 97 + 98 + 99 - 256  # wrapping int8 sum of b"abc"
    minor = ".".join(version.split(".")[:2])
    assert f"tensorflow-cpu=={minor}.*" in result["requires"]
