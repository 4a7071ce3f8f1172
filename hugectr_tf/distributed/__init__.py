"""Embedding tables split across the replicas of a tf.distribute strategy (docs/distributed.md).

`create_table` builds a `ShardedTable` under `MirroredStrategy` / `MultiWorkerMirroredStrategy`
with more than one replica; its lookups exchange keys and partial sums with collectives
(exchange.py) so that N replicas train the table exactly as one replica would on the same global
batch: one sparse-optimizer step per global step, every key on exactly one replica.
"""

from hugectr_tf.distributed.sharded_table import ShardedTable, check_strategy
from hugectr_tf.distributed.sharding import owners, splits_by_slot
from hugectr_tf.distributed.tables import check_replicas, create_table, is_sharded

__all__ = [
    "ShardedTable",
    "check_replicas",
    "check_strategy",
    "create_table",
    "is_sharded",
    "owners",
    "splits_by_slot",
]
