"""Independent numpy reference of docs/EMBEDDING_SEMANTICS.md (row init, forward, backward,
optimizers, update types), written from the document, not from the C++ code."""

import numpy as np

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def splitmix64(z):
    z = (z + GOLDEN) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


# HugeCTR 3.1's initial ranges: hash tables U(-0.05, 0.05), OneHot slot s U(+-sqrt(1 / size_s)).
HASH_INIT_BOUND = np.float32(0.05)


def one_hot_init_bound(table_key, slot_sizes):
    """The bound of a OneHot table key (key + its slot's offset): the size of the slot whose
    range holds it (a slot of size 0 holds none)."""
    offsets = np.concatenate([[0], np.cumsum(slot_sizes)])
    slot = int(np.searchsorted(offsets, table_key, side="right")) - 1
    return np.sqrt(np.float32(1.0) / np.float32(slot_sizes[slot]))


def init_row(key, seed, vec, bound=HASH_INIT_BOUND):
    base = splitmix64((key & M64) ^ ((seed * GOLDEN) & M64))
    row = np.empty(vec, np.float32)
    for j in range(vec):
        h = splitmix64((base + j) & M64)
        u = np.float32(h >> 40) * np.float32(2.0**-24)
        row[j] = (np.float32(2) * u - np.float32(1)) * bound
    return row


def random_csr(rng, batch, slot_num, max_nnz, key_range):
    """Random CSR with empty slots and repeated keys (within a slot and across samples)."""
    nnz = rng.integers(0, max_nnz + 1, size=batch * slot_num)
    row_splits = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
    values = rng.integers(0, key_range, size=int(row_splits[-1])).astype(np.int64)
    return values, row_splits


def forward(rows_of, values, row_splits, batch, slot_num, vec, combiner):
    """rows_of(key) -> row or None (missing: zero vector)."""
    out = np.zeros((batch * slot_num, vec), np.float32)
    for r in range(batch * slot_num):
        lo, hi = row_splits[r], row_splits[r + 1]
        acc = np.zeros(vec, np.float32)
        for p in range(lo, hi):
            row = rows_of(int(values[p]))
            if row is not None:
                acc = acc + row
        if combiner == "mean" and hi > lo:
            acc = acc / np.float32(hi - lo)
        out[r] = acc
    return out.reshape(batch, slot_num, vec)


def backward(dout, values, row_splits, combiner):
    """{key: aggregated gradient} with occurrences added in ascending position."""
    num_rows = len(row_splits) - 1
    d = dout.reshape(num_rows, -1)
    grads = {}
    for r in range(num_rows):
        lo, hi = row_splits[r], row_splits[r + 1]
        scale = np.float32(1) / np.float32(hi - lo) if hi > lo else np.float32(1)
        for p in range(lo, hi):
            k = int(values[p])
            g = d[r] * scale if combiner == "mean" else d[r]
            grads[k] = grads[k] + g if k in grads else g.copy()
    return grads


class ReferenceTable:
    """Dict-based table with the optimizers and update types of the semantics document."""

    SLOTS = {"Adam": 2, "AdaGrad": 1, "MomentumSGD": 1, "Nesterov": 1, "SGD": 0}

    def __init__(
        self,
        vec,
        seed,
        optimizer,
        update,
        beta1=0.9,
        beta2=0.999,
        eps=1e-7,
        mu=0.0,
        initial_accu=0.0,
    ):
        self.vec, self.seed, self.opt, self.update = vec, seed, optimizer, update
        self.b1, self.b2, self.eps, self.mu = (
            np.float32(beta1),
            np.float32(beta2),
            np.float32(eps),
            np.float32(mu),
        )
        self.initial_accu = np.float32(initial_accu)
        self.w, self.slots, self.last = {}, {}, {}
        self.t = 0
        self.lrs = []

    def lookup_train(self, values):
        for k in sorted(set(int(v) for v in values)):
            if k not in self.w:
                self.w[k] = init_row(k, self.seed, self.vec)
                fill = self.initial_accu if self.opt == "AdaGrad" else np.float32(0)
                self.slots[k] = np.full((self.SLOTS[self.opt], self.vec), fill, np.float32)
                self.last[k] = self.t

    def _step(self, k, g, t, lr):
        w, s = self.w[k], self.slots[k]
        lr = np.float32(lr)
        if g is None:
            g = np.zeros(self.vec, np.float32)
            if self.opt in ("SGD", "AdaGrad"):
                return
        if self.opt == "SGD":
            w -= lr * g
        elif self.opt == "MomentumSGD":
            s[0] = self.mu * s[0] - lr * g
            w += s[0]
        elif self.opt == "Nesterov":
            m_old = s[0].copy()
            s[0] = self.mu * s[0] - lr * g
            w += -self.mu * m_old + (np.float32(1) + self.mu) * s[0]
        elif self.opt == "AdaGrad":
            s[0] += g * g
            w -= lr * g / (np.sqrt(s[0]) + self.eps)
        elif self.opt == "Adam":
            s[0] = self.b1 * s[0] + (np.float32(1) - self.b1) * g
            s[1] = self.b2 * s[1] + (np.float32(1) - self.b2) * g * g
            lr_t = np.float32(
                float(lr) * np.sqrt(1 - float(self.b2) ** t) / (1 - float(self.b1) ** t)
            )
            w -= lr_t * s[0] / (np.sqrt(s[1]) + self.eps)

    def apply(self, grads, lr):
        self.t += 1
        t = self.t
        self.lrs.append(np.float32(lr))
        if self.update == "Local":
            keys = list(grads)
        elif self.update == "Global":
            keys = list(self.w)
        else:
            keys = list(grads)
            for k in keys:
                for missed in range(self.last[k] + 1, t):
                    self._step(k, None, missed, self.lrs[missed - 1])
        for k in keys:
            self._step(k, grads.get(k), t, lr)
            self.last[k] = t
