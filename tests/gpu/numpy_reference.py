"""numpy reference of docs/EMBEDDING_SEMANTICS.md (float32 arithmetic, operation by operation).

Used by the GPU harness tests where the framework-free CPU core is not compiled in. Vectorised so
that tables of 10M keys stay quick; the backward sums each key's occurrences in ascending
position order (np.add.at is unbuffered and runs in index order), as the CPU core does.
"""

import numpy as np

F = np.float32
C1 = 0x9E3779B97F4A7C15
C2 = 0xBF58476D1CE4E5B9
C3 = 0x94D049BB133111EB
MASK = (1 << 64) - 1


def splitmix64(z):
    """splitmix64 on a uint64 array (wrap-around arithmetic)."""
    z = z + np.uint64(C1)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(C2)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(C3)
    return z ^ (z >> np.uint64(31))


def initial_rows(keys, seed, vec):
    """Initial float32 rows (len(keys), vec) of the given int64 keys."""
    keys = np.asarray(keys, dtype=np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        base = splitmix64(keys ^ np.uint64((seed * C1) & MASK))
        h = splitmix64(base[:, None] + np.arange(vec, dtype=np.uint64)[None, :])
    u = (h >> np.uint64(40)).astype(F) * F(2.0**-24)
    bound = F(0.05)  # HugeCTR 3.1's hash tables: U(-0.05, 0.05)
    return (F(2) * u - F(1)) * bound


def bag_of_values(row_splits):
    nnz = np.diff(row_splits)
    return np.repeat(np.arange(len(nnz)), nnz), nnz


def combine(gathered, row_splits, combiner, vec):
    """Sum (or mean) of gathered rows per bag, left to right; empty bags give zeros."""
    nnz = np.diff(row_splits)
    out = np.zeros((len(nnz), vec), F)
    full = nnz > 0
    if gathered.shape[0]:
        sums = np.add.reduceat(gathered, row_splits[:-1][full], axis=0)
        out[full] = sums
    if combiner == "mean":
        out[full] = out[full] / nnz[full].astype(F)[:, None]
    return out


def backward(ids, row_splits, combiner, dout):
    """(ascending unique ids, per-id gradient rows)."""
    uniq, inverse = np.unique(ids, return_inverse=True)
    bags, nnz = bag_of_values(row_splits)
    contrib = dout[bags]
    if combiner == "mean":
        scale = F(1) / np.maximum(nnz, 1).astype(F)  # empty bags have no values
        contrib = contrib * scale[bags][:, None]
    grads = np.zeros((len(uniq), dout.shape[1]), F)
    np.add.at(grads, inverse.reshape(-1), contrib)
    return uniq, grads


class Optimizer:
    def __init__(self, kind, update, beta1=0.9, beta2=0.999, epsilon=1e-7, accu=0.0, mu=0.0):
        self.kind, self.update = kind, update
        self.b1, self.b2, self.eps, self.accu, self.mu = (
            F(beta1),
            F(beta2),
            F(epsilon),
            F(accu),
            F(mu),
        )
        self.step_lr = [F(0)]  # index = step

    def effective_lr(self, lr, t):
        if self.kind != "adam":
            return F(lr)
        b1, b2 = float(self.b1), float(self.b2)
        return F(lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t))

    def step(self, g, lr, w, s0, s1):
        """One element-wise step; returns new (w, s0, s1)."""
        lr = F(lr)
        if self.kind == "sgd":
            return w - lr * g, s0, s1
        if self.kind == "momentum":
            m = self.mu * s0 - lr * g
            return w + m, m, s1
        if self.kind == "nesterov":
            m = self.mu * s0 - lr * g
            return w + ((-self.mu) * s0 + (F(1) + self.mu) * m), m, s1
        if self.kind == "adagrad":
            a = s0 + g * g
            return w - lr * g / (np.sqrt(a) + self.eps), a, s1
        if self.kind == "adam":
            m = self.b1 * s0 + (F(1) - self.b1) * g
            v = self.b2 * s1 + (F(1) - self.b2) * g * g
            return w - lr * m / (np.sqrt(v) + self.eps), m, v
        raise ValueError(self.kind)


class Table:
    """Rows kept sorted by id (key, or dense row for the one-hot table)."""

    def __init__(self, vec, seed, opt, ids=None):
        self.vec, self.seed, self.opt = vec, seed, opt
        self.t = 0
        self.ids = np.zeros(0, np.int64)
        self.w = np.zeros((0, vec), F)
        self.s0 = np.zeros((0, vec), F)
        self.s1 = np.zeros((0, vec), F)
        self.last = np.zeros(0, np.int64)
        if ids is not None:
            self.insert(np.asarray(ids, np.int64))

    def insert(self, new_ids):
        new_ids = np.setdiff1d(np.unique(new_ids), self.ids)
        if not len(new_ids):
            return
        s0_init = self.opt.accu if self.opt.kind == "adagrad" else F(0)
        ids = np.concatenate([self.ids, new_ids])
        order = np.argsort(ids, kind="stable")
        self.ids = ids[order]
        self.w = np.concatenate([self.w, initial_rows(new_ids, self.seed, self.vec)])[order]
        fill = np.full((len(new_ids), self.vec), s0_init, F)
        self.s0 = np.concatenate([self.s0, fill])[order]
        self.s1 = np.concatenate([self.s1, np.zeros_like(fill)])[order]
        self.last = np.concatenate([self.last, np.full(len(new_ids), self.t)])[order]

    def find(self, ids):
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, max(len(self.ids) - 1, 0))
        hit = (
            (len(self.ids) > 0) & (self.ids[pos] == ids)
            if len(self.ids)
            else np.zeros(len(ids), bool)
        )
        return pos, hit

    def forward(self, ids, row_splits, combiner, training=True):
        ids = np.asarray(ids, np.int64)
        if training:
            self.insert(ids)
        pos, hit = self.find(ids)
        gathered = np.where(hit[:, None], self.w[pos] if len(self.ids) else 0, F(0)).astype(F)
        return combine(gathered, row_splits, combiner, self.vec), int((~hit).sum())

    def apply(self, ids, grads, lr):
        self.t += 1
        t, o = self.t, self.opt
        o.step_lr.append(o.effective_lr(lr, t))
        pos, hit = self.find(np.asarray(ids, np.int64))
        assert hit.all()
        if o.update == "global":
            g = np.zeros_like(self.w)
            g[pos] = grads
            self.w, self.s0, self.s1 = o.step(g, o.step_lr[t], self.w, self.s0, self.s1)
            return
        w, s0, s1 = self.w[pos], self.s0[pos], self.s1[pos]
        if o.update == "lazy_global":
            last = self.last[pos]
            zero = np.zeros_like(w)
            for s in range(int(last.min()) + 1 if len(last) else t, t):
                sel = last < s
                nw, n0, n1 = o.step(zero[sel], o.step_lr[s], w[sel], s0[sel], s1[sel])
                w[sel], s0[sel], s1[sel] = nw, n0, n1
            self.last[pos] = t
        w, s0, s1 = o.step(grads, o.step_lr[t], w, s0, s1)
        self.w[pos], self.s0[pos], self.s1[pos] = w, s0, s1
