"""`import hugectr_tf` alone registers every serializable class: `.keras` files load in a fresh
interpreter that imports nothing else of the package."""

import importlib
import pkgutil
import subprocess
import sys
import textwrap

import keras
import numpy as np

import hugectr_tf
from hugectr_tf.keras.layers import MultiCross, SparseEmbedding


def registered_names():
    """Every class of hugectr_tf registered with Keras (the examples package aside: its classes
    are the plain-Keras reference models of the benchmarks, registered under their own name)."""
    names = set()
    for info in pkgutil.walk_packages(hugectr_tf.__path__, "hugectr_tf."):
        if info.name.startswith(("hugectr_tf.examples", "hugectr_tf.tools")):
            continue
        if info.name.endswith("._hugectr_tf_ops"):  # the op library, loaded by hugectr_tf.ops
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type):
                name = keras.saving.get_registered_name(value)
                if name.startswith("hugectr_tf>"):
                    names.add(name)
    return sorted(names)


def run_fresh(code, *args):
    """Runs `code` in a new interpreter; returns its stdout (fails the test on an error)."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_import_hugectr_tf_registers_every_class():
    names = registered_names()
    assert "hugectr_tf>SparseEmbedding" in names and "hugectr_tf>MultiCross" in names
    assert len(names) > 30
    missing = run_fresh(
        """
        import sys
        import keras
        import hugectr_tf
        print([n for n in sys.argv[1:] if keras.saving.get_registered_object(n) is None])
        """,
        *names,
    )
    assert missing.strip() == "[]"


def test_load_model_in_a_fresh_process_after_import_hugectr_tf(tmp_path):
    keys = keras.Input(shape=(3,), dtype="int64", name="keys")
    emb = SparseEmbedding(4, 3, workspace_size_per_gpu_in_mb=1, name="emb")(keys)
    x = MultiCross(num_layers=2)(keras.layers.Flatten()(emb))
    model = keras.Model(keys, keras.layers.Dense(1)(x))
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    data = rng.integers(0, 20, size=(64, 3)).astype(np.int64)
    model.fit(data, rng.normal(size=(64, 1)), batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "keys.npy", data[:8])
    expected = model.predict(data[:8], verbose=0)

    run_fresh(
        """
        import sys
        import keras
        import numpy as np
        import hugectr_tf  # the only import of the package
        model = keras.models.load_model(sys.argv[1])
        keys = np.load(sys.argv[2])
        np.save(sys.argv[3], model.predict(keys, verbose=0))
        assert not [m for m in sys.modules if m == "hugectr_tf.keras.serving"]
        """,
        str(path),
        str(tmp_path / "keys.npy"),
        str(tmp_path / "out.npy"),
    )
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)
