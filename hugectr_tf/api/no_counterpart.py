"""One log line for each HugeCTR setting that has no TensorFlow counterpart (docs/api.md)."""

from hugectr_tf.api.log import log

_said = set()


def note(message):
    """Logs `message` once per process: HugeCTR scripts set these values on every run."""
    if message not in _said:
        _said.add(message)
        log(message)


def note_hybrid_embedding_param(param):
    note(
        "HybridSparseEmbedding: trained as one table over slot_size_array; HybridEmbeddingParam "
        f"({param.communication_type.name}, {param.hybrid_embedding_type.name}, frequent/"
        "infrequent split and bandwidths) tunes HugeCTR's GPU communication and has no "
        "TensorFlow counterpart, ignored"
    )


def note_async_io(async_param):
    note(
        f"RawAsync: read as Raw with {async_param.num_threads} threads and "
        f"{async_param.prefetch_batches} batches prefetched"
        + (", shuffled" if async_param.shuffle else "")
        + "; AsyncParam io_block_size, io_depth, io_alignment and aligned_type tune HugeCTR's "
        "direct I/O and have no TensorFlow counterpart, ignored"
    )
