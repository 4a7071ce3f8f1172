"""HugeCTR's `vvgpu` and multi-GPU solver arguments as a tf.distribute strategy.

    vvgpu=[[0]]                 one device: no strategy (TensorFlow's default placement)
    vvgpu=[[0, 1, ...]]         MirroredStrategy over those GPUs; where TensorFlow sees no GPU,
                                over as many logical CPU devices (one log line says so)
    vvgpu=[[0, 1], [0, 1]]      MultiWorkerMirroredStrategy: one process per node, started with
                                TF_CONFIG naming the nodes (docs/distributed.md); node i uses
                                the GPUs vvgpu[i], or its CPU where it has no GPU (then each node
                                lists one device)

`batchsize` stays the global batch of all replicas, as in HugeCTR. The solver's multi-GPU
arguments are mapped in `_communication` and `untranslated` (table in docs/distributed.md).
"""

import json
import os
from dataclasses import dataclass, field

import tensorflow as tf

from hugectr_tf.config import AllReduceAlgo, DeviceLayout

# CreateSolver arguments that tune HugeCTR's own CUDA pipeline and have no TensorFlow switch:
# name -> why (logged once when set to a value other than HugeCTR's default).
NO_COUNTERPART = {
    "async_mlp_wgrad": "TensorFlow's executor already runs independent weight-gradient ops "
    "concurrently",
    "overlap_lr": "the learning rate is a variable read inside the step",
    "overlap_init_wgrad": "TensorFlow allocates and zeroes gradients itself",
    "overlap_ar_a2a": "the exchange's collectives are scheduled by TensorFlow's executor",
    "use_holistic_cuda_graph": "the custom embedding ops have no XLA/CUDA-graph capture",
    "use_overlapped_pipeline": "TensorFlow's executor overlaps independent ops of a step",
}


@dataclass
class Placement:
    """Where a hugectr `Model` trains: its strategy (None: one device) and what to log."""

    strategy: object = None
    notes: list = field(default_factory=list)

    @property
    def num_replicas(self):
        return 1 if self.strategy is None else self.strategy.num_replicas_in_sync


def placement_for(solver):
    """The `Placement` of a hugectr `Solver` (vvgpu, all_reduce_algo, device_layout, ...)."""
    vvgpu = [[_device_index(i, solver.vvgpu) for i in node] for node in solver.vvgpu]
    for node in vvgpu:
        if len(set(node)) != len(node):
            raise ValueError(
                f"`vvgpu` lists a device twice on one node. Received: vvgpu={solver.vvgpu!r}"
            )
    notes = untranslated(solver)
    if len(vvgpu) > 1:
        strategy, node = _multi_worker(solver, vvgpu)
        notes.insert(
            0,
            f"vvgpu={solver.vvgpu!r}: MultiWorkerMirroredStrategy over {len(vvgpu)} nodes, "
            f"{strategy.num_replicas_in_sync} replicas (this process is node {node})",
        )
        return Placement(strategy, notes)
    devices = vvgpu[0]
    if len(devices) == 1:
        return Placement(None, notes)
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        missing = [i for i in devices if i >= len(gpus)]
        if missing:
            raise ValueError(
                f"vvgpu={solver.vvgpu!r} names GPUs {missing} but TensorFlow sees "
                f"{len(gpus)} GPU(s)"
            )
        names = [f"/device:GPU:{i}" for i in devices]
        ops = _single_node_gpu_ops(solver.all_reduce_algo)
        notes.insert(
            0,
            f"vvgpu={solver.vvgpu!r}: MirroredStrategy on {len(names)} GPUs "
            f"({type(ops).__name__} for dense gradients)",
        )
    else:
        names = logical_cpu_devices(len(devices))
        # One reduction on the host: TensorFlow's default CPU collectives key their groups per
        # strategy, so two strategies over different CPU device sets clash in one process.
        ops = tf.distribute.ReductionToOneDevice()
        notes.insert(
            0,
            f"vvgpu={solver.vvgpu!r}: TensorFlow sees no GPU, so training runs on "
            f"{len(names)} logical CPU devices (MirroredStrategy, ReductionToOneDevice); "
            "all_reduce_algo applies to GPUs only",
        )
    return Placement(tf.distribute.MirroredStrategy(names, cross_device_ops=ops), notes)


def untranslated(solver):
    """One log line naming the solver's multi-GPU arguments set away from HugeCTR's default
    that have no TensorFlow counterpart (empty when there is none)."""
    names = [name for name in NO_COUNTERPART if getattr(solver, name)]
    if solver.device_layout != DeviceLayout.LocalFirst and len(solver.vvgpu) > 1:
        names.append("device_layout")
    if not names:
        return []
    return [
        ", ".join(f"{n}={getattr(solver, n)!r}" for n in names)
        + " have no TensorFlow counterpart and change nothing here (docs/distributed.md)"
    ]


def logical_cpu_devices(count):
    """Names of `count` logical CPU devices, creating them if TensorFlow has not started yet.

    Raises RuntimeError when TensorFlow already runs with fewer CPU devices: devices are fixed
    when the first TensorFlow op runs.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    configured = tf.config.get_logical_device_configuration(cpu)
    if configured is None or len(configured) < count:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            )
        except RuntimeError:
            pass  # TensorFlow has started: use the devices it has, if they are enough
    logical = tf.config.list_logical_devices("CPU")
    if len(logical) < count:
        raise RuntimeError(
            f"{count} devices were asked for, but TensorFlow already runs with "
            f"{len(logical)} CPU device(s) and no GPU. Create the hugectr Solver and Model "
            "before running any TensorFlow op, or call tf.config."
            f"set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * "
            f"{count}) at the start of the program"
        )
    return [d.name for d in logical[:count]]


def _device_index(value, vvgpu):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"`vvgpu` must hold non-negative device indices. Received: vvgpu={vvgpu!r}"
        )
    return value


def _single_node_gpu_ops(algo):
    """Dense-gradient all-reduce between the GPUs of one node: NCCL, or for HugeCTR's one-shot
    kernel TensorFlow's copy-based all-reduce (a gather-and-add over the node's links)."""
    if algo == AllReduceAlgo.NCCL:
        return tf.distribute.NcclAllReduce()
    return tf.distribute.HierarchicalCopyAllReduce()


def _multi_worker(solver, vvgpu):
    """(MultiWorkerMirroredStrategy, this process' node index) for several nodes; this process
    is TF_CONFIG's task."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", ""))
        cluster, task = config["cluster"], config["task"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"vvgpu={solver.vvgpu!r} asks for {len(vvgpu)} nodes: start one process per node "
            "with TF_CONFIG naming the cluster and this process' task, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": '
            '"worker", "index": 0}} (docs/distributed.md). Received: TF_CONFIG='
            f"{os.environ.get('TF_CONFIG')!r}"
        ) from err
    nodes = cluster.get("chief", []) + cluster.get("worker", [])
    if len(nodes) != len(vvgpu):
        raise ValueError(
            f"vvgpu={solver.vvgpu!r} lists {len(vvgpu)} nodes but TF_CONFIG's cluster has "
            f"{len(nodes)}: {nodes}"
        )
    node = task["index"] + (len(cluster.get("chief", [])) if task["type"] == "worker" else 0)
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        missing = [i for i in vvgpu[node] if i >= len(gpus)]
        if missing:
            raise ValueError(
                f"vvgpu={solver.vvgpu!r} names GPUs {missing} on node {node} but TensorFlow "
                f"sees {len(gpus)} GPU(s) there"
            )
        tf.config.set_visible_devices([gpus[i] for i in vvgpu[node]], "GPU")
        implementation = (
            tf.distribute.experimental.CommunicationImplementation.NCCL
            if solver.all_reduce_algo == AllReduceAlgo.NCCL
            else tf.distribute.experimental.CommunicationImplementation.AUTO
        )
    else:
        if any(len(devices) != 1 for devices in vvgpu):
            raise ValueError(
                f"vvgpu={solver.vvgpu!r}: without GPUs each node trains on its CPU, one "
                "replica per node; list one device per node, e.g. [[0], [0]]"
            )
        implementation = tf.distribute.experimental.CommunicationImplementation.RING
    options = tf.distribute.experimental.CommunicationOptions(implementation=implementation)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options), node
