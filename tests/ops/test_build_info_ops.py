"""The first op chain: registration, CPU kernel, Python wrapper."""

import numpy as np
import tensorflow as tf

from hugectr_tf.ops.build_info_ops import build_info, sum_checksum


def _reference_checksum(data: bytes) -> int:
    """HugeCTR Check_t.Sum: signed 8-bit wrapping sum of the bytes."""
    total = int(np.frombuffer(data, dtype=np.int8).astype(np.int64).sum()) if data else 0
    return (total + 128) % 256 - 128


def test_build_info_reports_the_running_tensorflow():
    info = build_info()
    assert info["tensorflow_version"] == tf.__version__
    assert isinstance(info["cuda"], bool)


def test_sum_checksum_matches_reference_on_random_bytes():
    rng = np.random.default_rng(7)
    blobs = [rng.integers(0, 256, size=n, dtype=np.uint8).tobytes() for n in (0, 1, 7, 1000)]
    blobs.append(b"abc")  # 97 + 98 + 99 = 294 -> 38
    got = sum_checksum(blobs).numpy().tolist()
    assert got == [_reference_checksum(b) for b in blobs]
    assert got[-1] == 38


def test_sum_checksum_keeps_shape():
    out = sum_checksum([[b"\xff", b"\x01\x7f"], [b"", b"\x80"]])
    assert out.shape == (2, 2)
    assert out.numpy().tolist() == [[-1, -128], [0, -128]]
