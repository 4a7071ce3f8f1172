"""Whether code is being traced for XLA: the custom ops have no XLA kernels, so the layers that
use them take another path there (stock ops for the dense layers; the split step for tables)."""

import tensorflow as tf
from tensorflow.python.ops import control_flow_util


def in_xla_context():
    """True while tracing a function that XLA compiles (`jit_compile=True`)."""
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
