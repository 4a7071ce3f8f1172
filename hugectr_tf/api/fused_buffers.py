"""The extra tensors of HugeCTR's fused layers, which are buffers there and nothing here.

HugeCTR's MLPerf DLRM chains FusedInnerProduct layers (`pos_type` Head, Body..., Tail): each link
hands its output together with its ReLU mask and gradient buffers to the next as four tensors,
and the Interaction layer offers its gradient buffer as a second top for the Head to take. Those
buffers serve HugeCTR's hand-written backward pass; TensorFlow differentiates the graph itself.
So a layer reads only its first bottom and every extra top names its one output, and the network
is the same MLP as with `Isolated` layers.
"""

from hugectr_tf.config import FcPosition_t, Layer_t

# pos_type -> (bottom counts HugeCTR accepts, top count), as HugeCTR 3.1's add_dense_layer.
_FUSED_COUNTS = {
    FcPosition_t.Non: ((1,), 1),
    FcPosition_t.Isolated: ((1,), 1),
    FcPosition_t.Head: ((1, 2), 4),
    FcPosition_t.Body: ((4,), 4),
    FcPosition_t.Tail: ((4,), 1),
}


def used_bottoms_and_outputs(dense_layer, what):
    """(bottom names the Keras layer reads, number of outputs it makes) of a `DenseLayer`;
    raises naming the layer when its bottom or top count does not fit its type."""
    d = dense_layer
    if d.layer_type == Layer_t.FusedInnerProduct:
        bottoms, tops = _FUSED_COUNTS[d.pos_type]
        if len(d.bottom_names) not in bottoms or len(d.top_names) != tops:
            raise ValueError(
                f"{what}: a FusedInnerProduct with pos_type={d.pos_type.name} takes "
                f"{' or '.join(map(str, bottoms))} bottoms and {tops} tops. Received: "
                f"{len(d.bottom_names)} bottoms and {len(d.top_names)} tops"
            )
        return d.bottom_names[:1], 1
    if d.layer_type == Layer_t.Interaction and len(d.top_names) == 2:
        return d.bottom_names, 1  # [output, gradient buffer] (is_dlrm)
    return d.bottom_names, len(d.top_names)
