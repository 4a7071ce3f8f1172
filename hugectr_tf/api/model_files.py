"""HugeCTR's dense model files: raw little-endian float32, no header, layer order.

`<prefix>_dense_<iter>.model` holds every dense layer's trainable weights, layer by layer in the
order the layers were added, each weight flattened in row-major order (InnerProduct: kernel
`[in, out]` then bias). Weights HugeCTR does not keep in that file but that a Keras layer needs to
reproduce its predictions (BatchNorm's moving mean and variance) go to a sidecar
`<file>.non_trainable` in the same raw layout, so a HugeCTR file stays byte-compatible.

`<prefix>_opt_dense_<iter>.model` holds the dense optimizer's slot variables as raw float32: every
weight's first slot (Adam `m`, momentum, Adagrad accumulator), then every weight's second slot
(Adam `v`), as HugeCTR lays out its optimizer tensor; a sidecar `<file>.json` records the
optimizer type and its iteration count (HugeCTR keeps the Adam step on the host).

Writes go to a temporary file that is renamed into place, so an interrupted save never leaves a
half-written file behind; each writer returns the file's manifest digest (bytes, CRC-32) for the
snapshot manifest (api/snapshot.py).
"""

import json

import numpy as np

from hugectr_tf.embedding.manifest import crc32_bytes, write_durable


def _write_atomic(path, data: bytes):
    write_durable(path, data)
    return {"bytes": len(data), "crc32": crc32_bytes(data)}


def _flatten(arrays):
    if not arrays:
        return np.zeros(0, np.float32)
    return np.concatenate([np.asarray(a, np.float32).reshape(-1) for a in arrays])


def write_floats(path, arrays):
    """Writes the arrays back to back as little-endian float32; returns the file's digest."""
    return _write_atomic(path, _flatten(arrays).astype("<f4").tobytes())


def read_floats_into(path, shapes, what):
    """Reads `path` and splits it into arrays of `shapes`; the size must match exactly."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} file `{path}` does not exist") from None
    expected = int(sum(int(np.prod(s)) for s in shapes))
    if raw.size != expected * 4:
        raise ValueError(
            f"{what} file `{path}` holds {raw.size} bytes but the model needs {expected} float32 "
            f"values ({expected * 4} bytes); it is truncated or was written for another model"
        )
    raw = raw.view("<f4")
    out, offset = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append(raw[offset : offset + n].reshape(shape))
        offset += n
    return out


def write_json(path, document):
    """Writes `document` as indented JSON; returns the file's digest."""
    return _write_atomic(path, (json.dumps(document, indent=1) + "\n").encode())


def read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} file `{path}` does not exist") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{what} file `{path}` is not valid JSON: {err}") from None
