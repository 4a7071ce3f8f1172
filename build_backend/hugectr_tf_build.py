"""hugectr_tf's PEP 517 build backend: setuptools' own, told which TensorFlow to compile against.

The op library loads only into the TensorFlow release it was compiled against (TensorFlow's C++
ABI changes between releases: a library built for 2.21 fails under 2.20 with an undefined
symbol). An isolated `pip install .` builds in a fresh environment, where a static build
requirement would bring the newest TensorFlow whatever the user has. So the build asks for:

- the environment being installed into has TensorFlow in the supported range: exactly that
  distribution and version (`tensorflow-cpu==2.20.0`);
- it has one outside the range: nothing; the build stops and says so (pip would otherwise replace
  it, or put tensorflow-cpu beside a `tensorflow`);
- it has none: the newest supported release of the platform's default distribution.

setup.py then makes the wheel require the distribution and minor version it compiled against, so
a later TensorFlow upgrade is reported by pip instead of failing at the first op. With
--no-build-isolation the build uses the environment's TensorFlow directly, range-checked alike.

The environment being installed into is that of `sys.executable`: pip runs the hooks with that
interpreter and hides its site-packages through PYTHONPATH, which `python -I` ignores.
"""

import sys

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401 (re-exported PEP 517 / PEP 660 hooks)
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)
from tensorflow_requirements import build_requirements


def get_requires_for_build_wheel(config_settings=None):
    requires = _setuptools.get_requires_for_build_wheel(config_settings)
    return requires + build_requirements(sys.executable)


def get_requires_for_build_editable(config_settings=None):
    requires = _setuptools.get_requires_for_build_editable(config_settings)
    return requires + build_requirements(sys.executable)
