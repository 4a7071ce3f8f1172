"""`EmbeddingCache`: the hot rows of one table in front of its parameter server (inference).

HugeCTR serves a table from a parameter server holding all of it, with a GPU embedding cache of
`cache_size_percentage` of the rows in front; when the share of a query's keys found in the cache
(its hit rate) falls below `hit_rate_threshold` the cache is refreshed with the missed rows. On the
CPU the cache is a smaller table in host memory: sorted keys, their rows and a use count per row.
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
        self._keys = np.zeros(0, np.int64)
        self._rows = np.zeros((0, vec), np.float32)
        self._uses = np.zeros(0, np.int64)
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
        rows = np.empty((len(keys), self._rows.shape[1]), np.float32)
        hit = np.zeros(len(keys), bool)
        if len(self._keys) and len(keys):
            at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            hit = self._keys[at] == keys
            rows[hit] = self._rows[at[hit]]
            np.add.at(self._uses, at[hit], 1)
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
        """Adds the missed rows; over capacity, keeps the most used (new rows first on ties)."""
        if self.capacity == 0 or len(keys) == 0:
            return
        self.refreshes += 1
        all_keys = np.concatenate([keys, self._keys])
        all_rows = np.concatenate([rows, self._rows])
        uses = np.concatenate([np.ones(len(keys), np.int64), self._uses])
        if len(all_keys) > self.capacity:
            keep = np.argsort(-uses, kind="stable")[: self.capacity]
            all_keys, all_rows, uses = all_keys[keep], all_rows[keep], uses[keep]
        order = np.argsort(all_keys)
        self._keys, self._rows, self._uses = all_keys[order], all_rows[order], uses[order]

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
