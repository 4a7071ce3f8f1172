"""`EmbeddingCache`: the hot rows of one table in front of its parameter server (inference).

HugeCTR serves a table from a parameter server holding all of it, with a GPU embedding cache of
`cache_size_percentage` of the rows in front; when the share of a query's keys found in the cache
(its hit rate) falls below `hit_rate_threshold` the cache is refreshed with the missed rows. On the
CPU the cache is a smaller table in host memory: `capacity` row slots with a use count each, and
the cached keys (ascending) with their slots, so a refresh moves index entries, not rows.
A refresh adds the rows just missed and, when the cache is over capacity, keeps the most used
rows (a new row counts one use; on equal counts the new row stays). Rows come from the same PS
either way, so predictions do not depend on the cache.
"""

import math

import numpy as np


class EmbeddingCache:
    """A cache of at most `capacity` rows of `parameter_server`.

    Args:
        parameter_server: `hugectr_tf.ps.ParameterServer` holding the whole table.
        capacity: Integer >= 0. Rows the cache may hold.
        hit_rate_threshold: Float in [0, 1]. A lookup whose hit rate is below it refreshes the
            cache (0: never; 1: after every lookup that missed a key).
    """

    def __init__(self, parameter_server, capacity, hit_rate_threshold):
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"`capacity` must be an integer >= 0. Received: {capacity!r}")
        if not 0.0 <= hit_rate_threshold <= 1.0:
            raise ValueError(
                f"`hit_rate_threshold` must be in [0, 1]. Received: {hit_rate_threshold!r}"
            )
        self.parameter_server = parameter_server
        self.capacity = capacity
        self.hit_rate_threshold = float(hit_rate_threshold)
        vec = parameter_server.spec.embedding_vec_size
        # Rows stay in their slot; a refresh moves only the 16-byte index entries.
        self._slot_rows = np.zeros((capacity, vec), np.float32)
        self._slot_uses = np.zeros(capacity, np.int64)
        self._keys = np.zeros(0, np.int64)  # cached keys, ascending
        self._slots = np.zeros(0, np.int64)  # the slot of each
        self.queries = 0  # keys looked up
        self.hits = 0  # of them, found in the cache
        self.refreshes = 0
        self.last_hit_rate = math.nan

    @classmethod
    def for_percentage(cls, parameter_server, cache_size_percentage, hit_rate_threshold):
        """A cache of ceil(cache_size_percentage * table rows) rows (HugeCTR's sizing)."""
        if not 0.0 <= cache_size_percentage <= 1.0:
            raise ValueError(
                "`cache_size_percentage` must be in [0, 1]. Received: "
                f"cache_size_percentage={cache_size_percentage!r}"
            )
        capacity = int(math.ceil(cache_size_percentage * parameter_server.size))
        return cls(parameter_server, capacity, hit_rate_threshold)

    @property
    def size(self):
        """Rows cached now."""
        return len(self._keys)

    @property
    def hit_rate(self):
        """Keys found in the cache / keys looked up, since creation (NaN before any lookup)."""
        return self.hits / self.queries if self.queries else math.nan

    def lookup(self, keys):
        """(rows float32 [n, vec], found mask [n]) of distinct `keys`: cached rows, the others
        from the parameter server; keys the table does not hold get zero rows (found False)."""
        keys = np.asarray(keys, np.int64)
        rows = np.empty((len(keys), self._slot_rows.shape[1]), np.float32)
        hit = np.zeros(len(keys), bool)
        if len(self._keys) and len(keys):
            at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            hit = self._keys[at] == keys
            slots = self._slots[at[hit]]
            rows[hit] = self._slot_rows[slots]
            self._slot_uses[slots] += 1  # distinct keys: distinct slots
        missed = keys[~hit]
        missed_rows, missed_found = self.parameter_server.rows_for(missed)
        rows[~hit] = missed_rows
        found = hit.copy()
        found[~hit] = missed_found
        self.queries += len(keys)
        self.hits += int(hit.sum())
        self.last_hit_rate = float(hit.mean()) if len(keys) else math.nan
        if len(keys) and self.last_hit_rate < self.hit_rate_threshold:
            self._refresh(missed[missed_found], missed_rows[missed_found])
        return rows, found

    def _refresh(self, keys, rows):
        """Adds the missed rows (ascending keys); over capacity, keeps the most used rows: a new
        row counts one use and stays on equal counts; among new rows the first keys stay."""
        if self.capacity == 0 or len(keys) == 0:
            return
        self.refreshes += 1
        size, m = len(self._keys), len(keys)
        keep_new = np.ones(m, bool)
        free = np.arange(size, min(self.capacity, size + m))  # never used slots
        if size + m > self.capacity:
            # Eviction order: old rows by uses (an old row of one use before a new row), new
            # rows last, the later keys first.
            old_priority = 2.0 * self._slot_uses[self._slots] - 1.0
            new_priority = 2.0 + (m - np.arange(m)) / (m + 1.0)
            priority = np.concatenate([old_priority, new_priority])
            evict = np.argpartition(priority, size + m - self.capacity - 1)
            evict = evict[: size + m - self.capacity]
            old_out = evict[evict < size]
            keep_new[evict[evict >= size] - size] = False
            kept_old = np.ones(size, bool)
            kept_old[old_out] = False
            free = np.concatenate([self._slots[old_out], free])
            self._keys, self._slots = self._keys[kept_old], self._slots[kept_old]
        keys, rows = keys[keep_new], rows[keep_new]
        slots = free[: len(keys)]
        self._slot_rows[slots] = rows
        self._slot_uses[slots] = 1
        at = np.searchsorted(self._keys, keys)  # merge: both ascending
        self._keys = np.insert(self._keys, at, keys)
        self._slots = np.insert(self._slots, at, slots)

    def cached_uses(self):
        """(cached keys ascending, their use counts): what the cache holds now."""
        return self._keys.copy(), self._slot_uses[self._slots]

    def lookup_cached(self, keys):
        """The cached rows of `keys` (all of them must be cached); counts no use."""
        at = np.searchsorted(self._keys, keys)
        if np.any(at >= len(self._keys)) or np.any(
            self._keys[np.minimum(at, len(self._keys) - 1)] != keys
        ):
            raise KeyError("lookup_cached: some keys are not cached")
        return self._slot_rows[self._slots[at]]

    def stats(self):
        """Dict: capacity, size, queries, hits, hit_rate, last_hit_rate, refreshes."""
        return {
            "capacity": self.capacity,
            "size": self.size,
            "queries": self.queries,
            "hits": self.hits,
            "hit_rate": self.hit_rate,
            "last_hit_rate": self.last_hit_rate,
            "refreshes": self.refreshes,
        }
