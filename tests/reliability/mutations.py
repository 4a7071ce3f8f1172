"""Deterministic damage to a file's bytes: truncation at an offset and single-byte flips.

Offsets cover every byte of a short header, then spread evenly over the rest of the file, then
random ones; the same scale and seed give the same list on every run.
"""

import random


def offsets(size, count, seed, dense_prefix=0):
    """Up to `count` distinct offsets in [0, size): all of the first `dense_prefix`, then evenly
    spaced, then random ones."""
    if size <= 0:
        return []
    chosen = list(range(min(dense_prefix, size, count)))
    left = count - len(chosen)
    if left > 0:
        step = max(1, size // max(1, left // 2))
        chosen += list(range(0, size, step))[: left // 2]
    rng = random.Random(seed)
    while len(set(chosen)) < min(count, size):
        chosen.append(rng.randrange(size))
    return sorted(set(chosen))[:count]


def mutations(data, count, seed, dense_prefix=0):
    """[(name, damaged bytes)]: about half truncations, half flips of one byte."""
    out = []
    n = len(data)
    for at in offsets(n, count // 2 + count % 2, seed, dense_prefix):
        out.append((f"cut@{at}", data[:at]))
    rng = random.Random(seed + 1)
    for at in offsets(n, count // 2, seed + 2, dense_prefix):
        flip = rng.choice([0x01, 0x80, 0xFF, rng.randrange(1, 256)])
        damaged = bytearray(data)
        damaged[at] ^= flip
        out.append((f"flip@{at}^{flip:02x}", bytes(damaged)))
    return out
