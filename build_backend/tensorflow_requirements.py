"""Which TensorFlow hugectr_tf is built against and requires (used by the build backend and
setup.py; see hugectr_tf_build.py for the reasoning).

Run as a script (`python -I tensorflow_requirements.py`) it prints, as JSON, the distributions
that provide the `tensorflow` module in the running environment: the backend asks the
environment being installed into that way. It imports only the standard library, since that
environment may have nothing else.
"""

import importlib.util
import json
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_environment_module():
    """hugectr_tf/_environment.py alone (importing the package would import TensorFlow): the one
    place the supported range is written."""
    path = ROOT / "hugectr_tf" / "_environment.py"
    spec = importlib.util.spec_from_file_location("_hugectr_tf_environment", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ENV = _load_environment_module()
_LOW, _HIGH = _ENV.TF_MIN, _ENV.TF_MAX_EXCLUSIVE
SUPPORTED = f">={_LOW[0]}.{_LOW[1]},<{_HIGH[0]}.{_HIGH[1]}"


def tensorflow_distributions():
    """[(name, version)] of the installed distributions providing the `tensorflow` module."""
    found = []
    for name in sorted(set(metadata.packages_distributions().get("tensorflow", []))):
        dist = metadata.distribution(name)
        found.append((re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower(), dist.version))
    return found


def tensorflow_distributions_of(python):
    """tensorflow_distributions() as seen by `python` run isolated from PYTHONPATH (pip hides the
    target environment's site-packages from the build through PYTHONPATH)."""
    res = subprocess.run([python, "-I", __file__], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"could not list the packages of {python}:\n{res.stderr[-2000:]}")
    return [tuple(x) for x in json.loads(res.stdout.strip().splitlines()[-1])]


def default_distribution():
    """The distribution installed when there is none (the package metadata's choice)."""
    linux_x86 = sys.platform == "linux" and platform.machine() == "x86_64"
    return "tensorflow-cpu" if linux_x86 else "tensorflow"


def check_supported(found, where):
    """Stops the build, naming what was found, when a TensorFlow in `found` is out of range."""
    bad = [(n, v) for n, v in found if not _LOW <= _ENV._version_tuple(v) < _HIGH]
    if bad:
        names = ", ".join(f"{n} {v}" for n, v in bad)
        sys.exit(
            f"hugectr-tf: {where} has TensorFlow {names}, but hugectr-tf supports TensorFlow "
            f"{SUPPORTED}. It is compiled against the TensorFlow it runs with and will not "
            f"replace yours: install a supported release first, e.g. "
            f"pip install '{bad[0][0]}{SUPPORTED}', then install hugectr-tf again."
        )


def build_requirements(python):
    """The build environment's TensorFlow for installing into the environment of `python`:
    its own TensorFlow (exact version) when in range, else the newest supported release."""
    found = tensorflow_distributions_of(python)
    if not found:
        return [default_distribution() + SUPPORTED]
    check_supported(found, f"the environment being installed into ({python})")
    return [f"{name}=={version}" for name, version in found]


def runtime_requirements():
    """What the wheel requires: the distribution and minor version of the TensorFlow this build
    compiles against (the one this process sees), or the supported range when there is none
    (an sdist compiles nothing)."""
    found = tensorflow_distributions()
    if not found:
        return [
            f"tensorflow-cpu{SUPPORTED}; sys_platform == 'linux' and platform_machine == 'x86_64'",
            f"tensorflow{SUPPORTED}; sys_platform != 'linux' or platform_machine != 'x86_64'",
        ]
    check_supported(found, "the build environment")
    return [f"{n}=={re.match(r'[0-9]+[.][0-9]+', v).group(0)}.*" for n, v in found]


if __name__ == "__main__":
    print(json.dumps(tensorflow_distributions()))
