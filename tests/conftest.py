"""Shared pytest setup: the TensorFlow Keras backend, quiet logs, the repo's shared data folder."""

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

try:  # optional: the GPU harness (tests/gpu) runs on machines without TensorFlow
    import tensorflow as tf
except ImportError:
    tf = None

# tf.distribute tests (tests/distributed) run strategies on 4 logical CPU devices. TensorFlow
# fixes its devices when its first op runs, so they are made here, before any test module loads.
if tf is not None:
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration() for _ in range(4)],
    )

# tests/helpers is importable as `helpers` from every test module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def criteo_dir():
    """The real Criteo samples in ../shared/data/criteo (read there, never copied)."""
    path = SHARED_DATA / "criteo"
    if not path.is_dir():
        pytest.skip(f"real Criteo samples not found at {path}")
    return path
