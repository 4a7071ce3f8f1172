"""The one loader of the custom-op library `_hugectr_tf_ops.so`.

The library is loaded on first use, not at import, so `import hugectr_tf` stays cheap and a
missing build only fails the code that needs an op. Set HUGECTR_TF_OPS_LIBRARY to a path to load a
library from elsewhere (it is tried first).
"""

import json
import os
import threading
from pathlib import Path

import tensorflow as tf

LIBRARY_NAME = "_hugectr_tf_ops.so"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_lock = threading.Lock()
_library = None

REBUILD_HINT = (
    "Rebuild it against the TensorFlow you run: from the source checkout, "
    "`pip install --no-build-isolation --force-reinstall --no-deps .` "
    "(or `python setup.py build_ext --inplace` for an editable install)."
)


def candidate_paths():
    """Paths tried, in order: $HUGECTR_TF_OPS_LIBRARY, then the package folder."""
    paths = []
    override = os.environ.get("HUGECTR_TF_OPS_LIBRARY")
    if override:
        paths.append(Path(override))
    paths.append(_PACKAGE_DIR / LIBRARY_NAME)
    return paths


def built_for_tensorflow(library_path):
    """The TensorFlow version recorded by the build next to `library_path`, or 'unknown'."""
    info = Path(library_path).with_name("_build_info.json")
    try:
        return json.loads(info.read_text())["tensorflow_version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def load_library(paths=None):
    """Loads the op library (once) and returns the module of generated op wrappers.

    Raises ImportError listing every path tried with its failure, the TensorFlow version the
    library was built for, the one running, and how to rebuild.
    """
    global _library
    if _library is not None and paths is None:
        return _library
    with _lock:
        if _library is not None and paths is None:
            return _library
        tried = []
        for path in paths if paths is not None else candidate_paths():
            path = Path(path)
            if not path.is_file():
                tried.append(f"  {path}: no such file")
                continue
            try:
                module = tf.load_op_library(str(path))
            except (tf.errors.NotFoundError, OSError) as err:
                first_line = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
                tried.append(
                    f"  {path}: {first_line} (built for TensorFlow {built_for_tensorflow(path)})"
                )
                continue
            if paths is None:
                _library = module
            return module
        raise ImportError(
            "hugectr_tf could not load its op library. Paths tried:\n"
            + "\n".join(tried)
            + f"\nTensorFlow running: {tf.__version__}. "
            + REBUILD_HINT
        )
