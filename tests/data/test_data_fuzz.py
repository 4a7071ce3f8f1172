"""Random corruption of valid Norm and Raw files: the reader either reads them or raises a clean
TensorFlow error that names the file; it never crashes, hangs or returns inconsistent batches."""

import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from data_reference import make_input, norm_file, random_records, raw_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hugectr_tf.data import norm_dataset, raw_dataset

INP = make_input(1, 2, [("a", 3, False, 2), ("b", 2, True, 1)])
_rng = np.random.default_rng(0)
_RECORDS = random_records(_rng, 6, label_dim=1, dense_dim=2, max_nnz=[2, 2, 2], i64=False)
SEEDS = {
    (fmt, cs): (
        norm_file(_RECORDS, label_dim=1, dense_dim=2, slot_num=3, check_sum=cs, i64=False)
        if fmt == "norm"
        else raw_file([(r[0], r[1], [1, 2, 0]) for r in _RECORDS], float_label_dense=True)
    )
    for fmt in ("norm", "raw")
    for cs in (False, True)
}

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("int32"), st.integers(0, 10_000), st.integers(-(2**31), 2**31 - 1)),
)


def _mutate(data, mutations):
    data = bytearray(data)
    for kind, pos, value in mutations:
        if not data:
            break
        pos %= len(data)
        if kind == "flip":
            data[pos] ^= value
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data.insert(pos, value)
        else:
            data[pos : pos + 4] = np.int32(value).tobytes()
    return bytes(data)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    fmt=st.sampled_from(["norm", "raw"]),
    check_sum=st.booleans(),
    mutations=st.lists(mutation, min_size=1, max_size=4),
)
def test_mutated_files_fail_cleanly(fmt, check_sum, mutations):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.bin"
        path.write_bytes(_mutate(SEEDS[(fmt, check_sum)], mutations))
        if fmt == "norm":
            ds = norm_dataset([str(path)], INP, 4, check_sum=check_sum, num_workers=2)
        else:
            ds = raw_dataset([str(path)], INP, 4, slot_size_array=[3, 3, 3], num_workers=2)
        try:
            for batch in ds:
                n = batch["label"].shape[0]
                assert batch["a"].shape[0] == n and batch["b"].shape[0] == n
                assert batch["b"].row_lengths(axis=2).numpy().max(initial=0) <= 2
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
            assert str(path) in str(err)
            assert "field `" in str(err)
