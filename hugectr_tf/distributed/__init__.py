"""Embedding tables split across the replicas of a tf.distribute strategy (docs/distributed.md).

`create_table` builds a `ShardedTable` under `MirroredStrategy` / `MultiWorkerMirroredStrategy`
with more than one replica; its lookups exchange keys and partial sums with collectives
(exchange.py) so that N replicas train the table exactly as one replica would on the same global
batch: one sparse-optimizer step per global step, every key on exactly one replica.
`placement_for` turns HugeCTR's `vvgpu` into a strategy; `run_on_shares` runs a step of a
global batch on the replicas (hugectr `Model`'s loop).
"""

from hugectr_tf.distributed.devices import Placement, logical_cpu_devices, placement_for
from hugectr_tf.distributed.sharded_table import ShardedTable, check_strategy
from hugectr_tf.distributed.sharding import owners, splits_by_slot
from hugectr_tf.distributed.steps import run_on_shares, share
from hugectr_tf.distributed.tables import (
    check_replicas,
    create_table,
    is_sharded,
    shard_loss_weight,
)

__all__ = [
    "Placement",
    "ShardedTable",
    "check_replicas",
    "check_strategy",
    "create_table",
    "is_sharded",
    "logical_cpu_devices",
    "owners",
    "placement_for",
    "run_on_shares",
    "shard_loss_weight",
    "share",
    "splits_by_slot",
]
